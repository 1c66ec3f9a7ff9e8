/**
 * `cratebox doctor`: which backend runs the sandboxes here and why, the engine and the image,
 * the toolchain, the host layout, and whether each backend really enforces the limits (proved
 * with real sandboxes, labelled like a run's, so a killed doctor leaves nothing the sweep
 * cannot find).
 */
import { existsSync, lstatSync } from "node:fs";
import path from "node:path";
import { NATIVE_CLIENT, NATIVE_SPAWNER } from "./native.ts";
import { runProgram } from "./run-program.ts";
import type { RunIdentity } from "../core/labels.ts";
import { probeEnforcement, writeEnforcementRecord } from "./enforcement.ts";
import { connectEngine, engineAddress, engineInfo, readEngineKind } from "./engine.ts";
import { describeEngineKind, type EngineInfo } from "../core/engine-kind.ts";
import { type RuntimeRegistration, runscCheck } from "../core/runsc.ts";
import { readRunHostFacts } from "./host-facts.ts";
import { DEFAULT_IMAGE, ensureImage, imageTag } from "./image.ts";
import type { BackendChoice } from "../core/backends.ts";
import { chooseBackend } from "./sandbox/backend.ts";
import { BwrapRuntime } from "./sandbox/bwrap-runtime.ts";
import { bwrapLauncher } from "./sandbox/launch.ts";
import { DockerRuntime } from "./sandbox/docker-runtime.ts";
import { withRuntime } from "./sandbox/runtime.ts";
import { randomUuid } from "./random.ts";
import { ownerLabel } from "./sweep.ts";

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

const LIMITS_FIX =
  "use a backend with cgroup limits (rootful Docker, rootless on cgroup v2 with delegation, or bwrap as root / with a delegated cgroup); until then every run warns";

export async function runDoctor(env: NodeJS.ProcessEnv, cwd: string, log: (line: string) => void, choice: BackendChoice = "auto"): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (c: Check) => {
    checks.push(c);
    log(`${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}${!c.ok && c.fix ? `\n     fix: ${c.fix}` : ""}`);
  };
  const node = process.versions.node;
  add({
    name: "node",
    ok: Number(node.split(".")[0]) >= 24,
    detail: `v${node} (${process.execPath})`,
    fix: "cratebox needs Node 24 or later (scripts/setup installs it into .toolchain/)",
  });

  const merged = ["/bin", "/lib"].every((p) => existsSync(p) && lstatSync(p).isSymbolicLink());
  add({
    name: "host layout",
    ok: merged,
    detail: merged ? "merged /usr (/bin and /lib point into /usr)" : "/bin or /lib is not a link into /usr",
    fix: "cratebox mounts the host's /usr; it supports merged-/usr systems (Debian 12+, Ubuntu 22.04+, Fedora)",
  });
  const helpers = [NATIVE_CLIENT, NATIVE_SPAWNER].filter((f) => !existsSync(f));
  add({
    name: "native helpers",
    ok: true,
    detail:
      helpers.length === 0
        ? `the shims' client and bwrap's spawner, in ${path.dirname(NATIVE_CLIENT)}`
        : `not built (${helpers.map((f) => path.basename(f)).join(", ")}): the Node client and Node's spawn stand in, slower by a Node start per step; \`npm run build\` builds them where cargo can`,
  });
  add({ name: "timeout(1)", ok: existsSync("/usr/bin/timeout"), detail: "/usr/bin/timeout (the sandbox's backstop timer)", fix: "install coreutils" });

  const toolchain = await runProgram("rustc", ["--print", "sysroot"], { cwd, env });
  add({
    name: "toolchain",
    ok: toolchain.exitCode === 0,
    detail: toolchain.exitCode === 0 ? `rustc sysroot ${toolchain.stdout.trim()} (mounted read-only, alone)` : toolchain.stderr.trim(),
    fix: "install Rust (rustup) so that `rustc` is on PATH",
  });

  const identity: RunIdentity = { runId: `doctor-${randomUuid()}`, owner: ownerLabel() };
  const own = imageTag(DEFAULT_IMAGE).tag;
  const host = readRunHostFacts(own, []);
  const launcher = bwrapLauncher();
  const backend = await chooseBackend(choice, identity.owner, launcher);
  add({ name: "backend", ok: true, detail: `${backend.primary}: ${backend.reason}` });
  if (backend.bwrap) {
    add({
      name: "bwrap limits",
      ok: backend.cgroups !== undefined,
      detail: backend.cgroups
        ? `memory, processes and CPU through cgroup v${backend.cgroups.version}; the time limit always holds`
        : `only the time limit holds: ${backend.cgroupsMissing}`,
      fix: LIMITS_FIX,
    });
    const bwrap = new BwrapRuntime({ bwrap: backend.bwrap, cgroups: backend.cgroups, ownImage: own, owner: identity.owner, launcher });
    for (const p of await probeEnforcement({ runtime: bwrap, host, identity }))
      add({ name: `bwrap ${p.name} limit`, ok: p.enforced, detail: p.detail, fix: LIMITS_FIX });
  }

  // The engine: the backend where bwrap does not work, and for steps bwrap cannot run (their own
  // image, gVisor, full network). Without bwrap it must answer; with bwrap, its absence only
  // matters for such steps.
  const needed = backend.primary === "docker";
  let docker: Awaited<ReturnType<typeof connectEngine>>;
  try {
    docker = await connectEngine(env);
  } catch (err) {
    add({
      name: "engine",
      ok: !needed,
      detail: `${(err as Error).message}${needed ? "" : " (needed only for steps that name an image, runsc or network = true)"}`,
      fix: "see below",
    });
    log((err as { hint?: string }).hint ?? "");
    return checks;
  }
  const info = (await engineInfo(docker)) as unknown as EngineInfo & { ID: string; Runtimes?: Record<string, RuntimeRegistration> };
  const kind = await readEngineKind(docker);
  add({
    name: "engine",
    ok: true,
    detail: `${describeEngineKind(kind)}, at ${engineAddress(env)}, cgroup v${info.CgroupVersion ?? "?"}, runtimes: ${Object.keys(info.Runtimes ?? {}).join(", ")}`,
  });
  // Needed only by a grant's runtime = "runsc": absent is said, not failed; registered wrong fails.
  // Under Podman (runtimes in containers.conf) cratebox has not tested gVisor: said, not probed.
  const runsc = kind.name === "Docker" ? runscCheck(info.Runtimes) : { ok: false, detail: "", fix: "" };
  if (kind.name !== "Docker")
    add({ name: "gVisor", ok: true, detail: `runtime = "runsc" is tested with the Docker engine only; under ${kind.name} it is not checked here` });
  else if (info.Runtimes?.runsc) add({ name: "gVisor", ...runsc });
  else add({ name: "gVisor", ok: true, detail: `${runsc.detail}; to register it: ${runsc.fix}` });
  let image: string;
  try {
    image = await ensureImage(docker, DEFAULT_IMAGE, log);
    add({ name: "image", ok: true, detail: `${image} (built locally from images/${DEFAULT_IMAGE})` });
  } catch (err) {
    add({ name: "image", ok: false, detail: (err as Error).message, fix: "check that images/ is intact and the engine can build FROM scratch" });
    return checks;
  }
  const probes = await probeEnforcement({ runtime: new DockerRuntime(docker, image), host: { ...host, image }, identity });
  writeEnforcementRecord(env, { engineId: info.ID, checkedAt: new Date().toISOString(), probes });
  for (const p of probes) add({ name: `${kind.name.toLowerCase()} ${p.name} limit`, ok: p.enforced, detail: p.detail, fix: LIMITS_FIX });
  if (runsc.ok) {
    const underRunsc = withRuntime(new DockerRuntime(docker, image), "runsc");
    for (const p of await probeEnforcement({ runtime: underRunsc, host: { ...host, image }, identity }))
      add({ name: `runsc ${p.name} limit`, ok: p.enforced, detail: p.detail, fix: LIMITS_FIX });
  }
  return checks;
}
