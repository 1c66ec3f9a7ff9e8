/** `cratebox doctor`: engine, image, toolchain, host layout and real limit enforcement. */
import { existsSync, lstatSync } from "node:fs";
import type Docker from "dockerode";
import { execa } from "execa";
import { connectEngine } from "./engine.ts";
import { probeEnforcement, writeEnforcementRecord } from "./enforcement.ts";
import { DEFAULT_IMAGE, ensureImage } from "./image.ts";

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

export async function runDoctor(env: NodeJS.ProcessEnv, cwd: string, log: (line: string) => void): Promise<Check[]> {
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
  add({ name: "timeout(1)", ok: existsSync("/usr/bin/timeout"), detail: "/usr/bin/timeout (the sandbox's backstop timer)", fix: "install coreutils" });

  const toolchain = await execa("rustc", ["--print", "sysroot"], { cwd, env, reject: false, extendEnv: false });
  add({
    name: "toolchain",
    ok: toolchain.exitCode === 0,
    detail: toolchain.exitCode === 0 ? `rustc sysroot ${toolchain.stdout.trim()} (mounted read-only, alone)` : toolchain.stderr.trim(),
    fix: "install Rust (rustup) so that `rustc` is on PATH",
  });

  let docker: Docker;
  try {
    docker = await connectEngine(env);
  } catch (err) {
    add({ name: "engine", ok: false, detail: (err as Error).message, fix: "see below" });
    log((err as { hint?: string }).hint ?? "");
    return checks;
  }
  const info = (await docker.info()) as {
    ID: string;
    ServerVersion: string;
    CgroupVersion?: string;
    Runtimes?: Record<string, unknown>;
    SecurityOptions?: string[];
  };
  add({
    name: "engine",
    ok: true,
    detail: `Docker ${info.ServerVersion}, cgroup v${info.CgroupVersion ?? "?"}, runtimes: ${Object.keys(info.Runtimes ?? {}).join(", ")}`,
  });
  let image: string | undefined;
  try {
    image = await ensureImage(docker, DEFAULT_IMAGE, log);
    add({ name: "image", ok: true, detail: `${image} (built locally from images/${DEFAULT_IMAGE})` });
  } catch (err) {
    add({ name: "image", ok: false, detail: (err as Error).message, fix: "check that images/ is intact and the engine can build FROM scratch" });
    return checks;
  }
  const probes = await probeEnforcement(docker, image);
  writeEnforcementRecord(env, { engineId: info.ID, checkedAt: new Date().toISOString(), probes });
  for (const p of probes) {
    add({
      name: `${p.name} limit`,
      ok: p.enforced,
      detail: p.detail,
      fix: "use an engine with cgroup limits (rootful Docker, or rootless on cgroup v2 with delegation); until then every run warns",
    });
  }
  return checks;
}
