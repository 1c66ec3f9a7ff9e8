/**
 * Each backend behind the sandbox seam, on the real thing (the Docker engine, bubblewrap with
 * cgroups): what a sandbox's program prints and exits with, the limits, killing, listing by
 * label, removal. Also doctor's probes, which must carry the run's labels so that the sweep
 * finds them, and the capability drop without which bwrap's read-only binds are not.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Docker from "dockerode";
import { afterAll, describe, expect, it } from "vitest";
import { LABEL_RUN } from "../../src/core/labels.ts";
import { DEFAULT_LIMITS } from "../../src/core/limits.ts";
import { toProbeSpec } from "../../src/core/probe-spec.ts";
import { probeEnforcement } from "../../src/runtime/enforcement.ts";
import { readRunHostFacts } from "../../src/runtime/host-facts.ts";
import { imageTag } from "../../src/runtime/image.ts";
import { probeBwrap } from "../../src/runtime/sandbox/backend.ts";
import { BwrapRuntime } from "../../src/runtime/sandbox/bwrap-runtime.ts";
import { type CgroupSupport, detectCgroups } from "../../src/runtime/sandbox/cgroups.ts";
import { NATIVE_SPAWNER } from "../../src/runtime/native.ts";
import { type Launcher, nodeLauncher, SpawnerLauncher } from "../../src/runtime/sandbox/launch.ts";
import { DockerRuntime } from "../../src/runtime/sandbox/docker-runtime.ts";
import { runSandbox } from "../../src/runtime/sandbox/run-sandbox.ts";
import { type SandboxRuntime, withRuntime } from "../../src/runtime/sandbox/runtime.ts";
import { ownerLabel } from "../../src/runtime/sweep.ts";

const docker = new Docker();
const image = imageTag().tag;
const identity = { runId: `backend-test-${randomUUID()}`, owner: ownerLabel() };
const host = readRunHostFacts(image, []);
const bwrapProbe = await probeBwrap(nodeLauncher);
const cgroups = detectCgroups(identity.owner);
if (!bwrapProbe.ok) throw new Error(`the backends project needs bwrap: ${bwrapProbe.reason}`);
if (!("support" in cgroups)) throw new Error(`the backends project needs cgroups for bwrap's limits: ${cgroups.reason}`);
const bwrapBinary = bwrapProbe.bwrap;

/** The engine's runtimes; scripts/setup registers gVisor's runsc (scripts/docker-runtimes.ts). */
const engineRuntimes = Object.keys(((await docker.info()) as { Runtimes?: Record<string, unknown> }).Runtimes ?? {});
if (!engineRuntimes.includes("runsc"))
  throw new Error(`the backends project needs runsc registered with the engine (scripts/setup does it); it has ${engineRuntimes.join(", ")}`);

if (!existsSync(NATIVE_SPAWNER)) throw new Error(`the backends project needs the native spawner: ${NATIVE_SPAWNER} (npm run build makes it)`);
const bwrapOptions = { bwrap: bwrapBinary, cgroups: cgroups.support, ownImage: image, owner: identity.owner };

const runtimes: [string, SandboxRuntime][] = [
  ["docker", new DockerRuntime(docker, image)],
  ["docker-runsc", withRuntime(new DockerRuntime(docker, image), "runsc")],
  ["bwrap", new BwrapRuntime(bwrapOptions)],
  // The same on the native spawner (what a run uses where set-up built it) instead of Node's spawn.
  ["bwrap-spawner", new BwrapRuntime({ ...bwrapOptions, launcher: new SpawnerLauncher(NATIVE_SPAWNER) })],
];

afterAll(async () => {
  for (const [, runtime] of runtimes) for (const c of await runtime.list(LABEL_RUN, identity.runId)) await runtime.remove(c.id);
});

describe.each(runtimes)("%s", (name, runtime) => {
  async function sh(script: string, limits = {}, timeoutMs?: number, signal = new AbortController().signal) {
    let stdout = "";
    let stderr = "";
    const run = await runSandbox(
      runtime,
      toProbeSpec(host, identity, "test", script, limits),
      { stdout: (c) => (stdout += c), stderr: (c) => (stderr += c) },
      signal,
      {},
      timeoutMs,
    );
    await runtime.remove(run.id);
    return { ...run, stdout, stderr };
  }

  it("relays stdout and stderr apart and returns the exit code", async () => {
    const r = await sh("echo out; echo err >&2; exit 7");
    expect(r).toMatchObject({ stdout: "out\n", stderr: "err\n" });
    expect(r.exit).toMatchObject({ exitCode: 7, oomKilled: false });
    expect(r.runMs).toBeGreaterThanOrEqual(0);
  });

  it("relays large outputs byte for byte, several sandboxes side by side", async () => {
    // Three at once, each 2 MiB of its own byte on stdout and 1 MiB on stderr: the spawner's
    // frames and Node's pipes must not mix, drop or reorder any of it.
    const runs = await Promise.all(
      [1, 2, 3].map(async (n) => {
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        const script = `head -c 2097152 /dev/zero | tr '\\0' '${n}'; head -c 1048576 /dev/zero | tr '\\0' 'e' >&2; exit ${n}`;
        const run = await runSandbox(
          runtime,
          toProbeSpec(host, identity, "test", script, {}),
          { stdout: (c) => out.push(Buffer.from(c)), stderr: (c) => err.push(Buffer.from(c)) },
          new AbortController().signal,
          {},
        );
        await runtime.remove(run.id);
        return { n, exitCode: run.exit.exitCode, out: Buffer.concat(out), err: Buffer.concat(err) };
      }),
    );
    for (const r of runs) {
      expect(r.exitCode).toBe(r.n);
      expect(r.out.equals(Buffer.alloc(2 * 1024 ** 2, String(r.n)))).toBe(true);
      expect(r.err.equals(Buffer.alloc(1024 ** 2, "e"))).toBe(true);
    }
  });

  it("reports a signal as 128 + its number", async () => {
    expect((await sh("kill -SEGV $$")).exit.exitCode).toBe(139);
  });

  it("ends a memory bomb at the memory limit and says so", async () => {
    const r = await sh("head -c 268435456 /dev/zero | tail -n 1 | wc -c", { memoryBytes: 32 * 1024 ** 2 });
    expect(r.exit.oomKilled).toBe(true);
    expect(r.stdout).not.toBe("268435456\n");
  });

  it("refuses forks past the process limit", async () => {
    // The subshell dies at its first refused fork; the outer shell lives on a moment, as a build does.
    const r = await sh('(i=0; while [ $i -lt 40 ]; do sleep 2 & i=$((i+1)); done; echo "held all") 2>/dev/null; sleep 0.5', { pids: 8 });
    expect(r.stdout).not.toContain("held all");
    expect(r.exit.pidsLimitHit).toBe(true);
  });

  it("kills a program at its time limit, counted from the start, with everything it started", async () => {
    const r = await sh("sleep 30 & sleep 30", {}, 300);
    expect(r.exit).toMatchObject({ stoppedBy: "timeout", exitCode: 137 });
  });

  it("kills a running sandbox on abort, with the abort's reason", async () => {
    const abort = new AbortController();
    const running = sh("sleep 30", {}, undefined, abort.signal);
    setTimeout(() => abort.abort("client-gone"), 500);
    expect((await running).exit.stoppedBy).toBe("client-gone");
  });

  it("lists sandboxes by label and removes them; removing one twice is harmless", async () => {
    const box = await runtime.create(toProbeSpec(host, identity, "list", "true", {}));
    expect((await runtime.list(LABEL_RUN, identity.runId)).map((c) => c.id)).toContain(box.id);
    await runtime.remove(box.id);
    await runtime.remove(box.id);
    expect((await runtime.list(LABEL_RUN, identity.runId)).map((c) => c.id)).not.toContain(box.id);
  });

  it("refuses an image it does not have or cannot run, and an unregistered runtime", async () => {
    const spec = toProbeSpec(host, identity, "x", "true", {});
    await expect(runtime.create({ ...spec, image: "cratebox/no-such-image:1" })).rejects.toMatchObject({
      code: expect.stringMatching(/IMAGE_MISSING|BACKEND_UNAVAILABLE/),
    });
    // A runtime the engine does not have is refused before anything is created; bwrap runs no
    // OCI runtime at all (a runsc step is the engine's, SandboxRouter hands it over).
    const missing = name.startsWith("bwrap") ? "runsc" : "no-such-runtime";
    await expect(runtime.create({ ...spec, runtime: missing as "runsc" })).rejects.toMatchObject({
      code: name.startsWith("bwrap") ? "BACKEND_UNAVAILABLE" : "RUNTIME_MISSING",
    });
  });

  it("keeps read-only binds read-only: no remount, no write", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "cratebox-ro-"));
    writeFileSync(path.join(dir, "f"), "orig");
    try {
      const spec = toProbeSpec(host, identity, "ro", `mount -o remount,bind,rw ${dir}; echo pwn > ${dir}/f; cat ${dir}/f`, {});
      const run = await runSandbox(
        runtime,
        { ...spec, mounts: [...spec.mounts, { source: dir, target: dir, readOnly: true }] },
        { stdout: () => {}, stderr: () => {} },
        new AbortController().signal,
      );
      await runtime.remove(run.id);
      expect(readFileSync(path.join(dir, "f"), "utf8")).toBe("orig");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("bwrap's cgroups", () => {
  it("is removed with the sandbox, after the processes it left behind have gone", async () => {
    const bwrap = runtimes.find(([name]) => name === "bwrap")![1];
    // The program ends at once and leaves two sleepers, killed with its PID namespace a moment later.
    const run = await runSandbox(
      bwrap,
      toProbeSpec(host, identity, "cgroup", "sleep 30 & sleep 30 & exit 0", {}),
      { stdout: () => {}, stderr: () => {} },
      new AbortController().signal,
      {},
    );
    const dirs = ["memory", "pids", "cpu", "."].map((c) => path.join("/sys/fs/cgroup", c, "cratebox", identity.owner, run.id));
    expect(dirs.filter((d) => existsSync(d)).length).toBeGreaterThan(0);
    await bwrap.remove(run.id);
    expect(dirs.filter((d) => existsSync(d))).toEqual([]);
  });

  it("is removed once a process still in it has left, without blocking meanwhile", async () => {
    if (!("support" in cgroups)) throw new Error("no cgroups");
    const id = `test-${randomUUID().slice(0, 8)}`;
    const cg = cgroups.support.create(identity.owner, id, { ...DEFAULT_LIMITS });
    const dirs = cg.procs.map((p) => path.dirname(p));
    // A process that stays in it for 300 ms after the sandbox would have ended.
    const late = spawn("/bin/sh", ["-c", `for f in ${cg.procs.join(" ")}; do echo $$ > $f; done; exec sleep 0.3`]);
    await new Promise((r) => setTimeout(r, 100));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    await cg.remove();
    clearInterval(timer);
    expect(dirs.filter((d) => existsSync(d))).toEqual([]);
    expect(late.exitCode ?? (await new Promise((r) => late.once("exit", r)))).toBe(0);
    // The event loop ran while removal waited (it used to block it).
    expect(ticks).toBeGreaterThan(5);
  });
});

describe.each([
  ["Node's spawn", nodeLauncher],
  ["the native spawner", new SpawnerLauncher(NATIVE_SPAWNER)],
] as const)("bwrap's cgroup join, started by %s", (_name, launcher) => {
  it("refuses to run the program when the sandbox cannot be put in its cgroup", async () => {
    const marker = path.join(mkdtempSync(path.join(tmpdir(), "cratebox-join-")), "ran");
    // A cgroup.procs in a directory that does not exist (a fixed path such as /nonexistent could).
    const missing = path.join(path.dirname(marker), "nonexistent", "cgroup.procs");
    const nowhere: CgroupSupport = {
      version: 2,
      create: () => ({ procs: [missing], oomKilled: () => false, pidsLimitHit: () => false, kill: () => {}, remove: async () => {} }),
      sweep: () => {},
    };
    const bwrap = new BwrapRuntime({ ...bwrapOptions, cgroups: nowhere, launcher });
    const spec = toProbeSpec(host, identity, "join", `touch ${marker}`, {});
    const writable = { ...spec, mounts: [...spec.mounts, { source: path.dirname(marker), target: path.dirname(marker), readOnly: false }] };
    await expect(runSandbox(bwrap, writable, { stdout: () => {}, stderr: () => {} }, new AbortController().signal, {})).rejects.toThrow(
      /could not put the bwrap sandbox in its cgroup: .*nonexistent/,
    );
    expect(existsSync(marker)).toBe(false);
    rmSync(path.dirname(marker), { recursive: true });
  });
});

describe("bwrap's probe", () => {
  it("passes through Node's spawn and through the native spawner, and says why when bwrap fails", async () => {
    expect(await probeBwrap(nodeLauncher)).toEqual({ ok: true, bwrap: bwrapBinary });
    expect(await probeBwrap(new SpawnerLauncher(NATIVE_SPAWNER))).toEqual({ ok: true, bwrap: bwrapBinary });
    // What bwrap says where user namespaces are off (a default container), from a launcher double.
    const refusing: Launcher = {
      launch: (_file, _args, _env, _join, on) => {
        setImmediate(() => {
          on.spawned();
          on.stderr(Buffer.from("bwrap: No permissions to creating new namespace\n"));
          on.closed(1);
        });
        return { kill: () => {} };
      },
    };
    expect(await probeBwrap(refusing)).toEqual({ ok: false, reason: "bwrap cannot make its namespaces here: bwrap: No permissions to creating new namespace" });
  });
});

describe("the native spawner, started ahead of the first sandbox (run-cargo.ts)", () => {
  it("keeps nothing alive, so a no-op ends as before, and the first launch goes through it", async () => {
    // A process that only prestarts it ends by itself: a referenced spawner would hold it open.
    const launchTs = path.join(import.meta.dirname, "../../src/runtime/sandbox/launch.ts");
    const script = `import { SpawnerLauncher } from ${JSON.stringify(launchTs)};\nnew SpawnerLauncher(${JSON.stringify(NATIVE_SPAWNER)}).prestart();\n`;
    const alone = spawnSync(process.execPath, ["--input-type=module", "-e", script], { timeout: 10_000, encoding: "utf8" });
    expect({ status: alone.status, signal: alone.signal, stderr: alone.stderr }).toEqual({ status: 0, signal: null, stderr: "" });
    const launcher = new SpawnerLauncher(NATIVE_SPAWNER);
    const holding = () => process.getActiveResourcesInfo().filter((r) => r === "ProcessWrap").length;
    const before = holding();
    launcher.prestart();
    expect(holding()).toBe(before);
    expect(await probeBwrap(launcher)).toEqual({ ok: true, bwrap: bwrapBinary });
  });
});

describe("bwrap's capability drop", () => {
  it("is what keeps a read-only bind read-only: without it the program remounts it and writes the host file", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "cratebox-caps-"));
    const file = path.join(dir, "f");
    const base = ["--unshare-all", "--unshare-user", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib"];
    const rest = ["--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--ro-bind", dir, dir];
    const attack = ["--", "/bin/sh", "-c", `mount -o remount,bind,rw ${dir} && echo pwn > ${file}`];
    try {
      writeFileSync(file, "orig");
      spawnSync(bwrapBinary, [...base, ...rest, ...attack]);
      const withoutDrop = readFileSync(file, "utf8");
      writeFileSync(file, "orig");
      spawnSync(bwrapBinary, [...base, ...rest, "--disable-userns", "--cap-drop", "ALL", ...attack]);
      const withDrop = readFileSync(file, "utf8");
      // As root, bwrap's user namespace keeps every capability there: the attack works without the drop.
      if (process.getuid?.() === 0) expect(withoutDrop).toBe("pwn\n");
      expect(withDrop).toBe("orig");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.each(runtimes)("doctor's probes on %s", (_name, runtime) => {
  it("prove the limits, in labelled sandboxes that are removed afterwards", async () => {
    const probeRun = { runId: `doctor-${randomUUID()}`, owner: ownerLabel() };
    const seen = new Set<string>();
    const watching: SandboxRuntime = {
      kind: runtime.kind,
      create: async (spec) => {
        expect(spec.labels).toMatchObject({ "cratebox.run": probeRun.runId, "cratebox.owner": probeRun.owner, "cratebox.phase": "doctor" });
        const box = await runtime.create(spec);
        seen.add(box.id);
        return box;
      },
      remove: (id) => runtime.remove(id),
      list: (label, value) => runtime.list(label, value),
    };
    const results = await probeEnforcement({ runtime: watching, host, identity: probeRun });
    expect(results.map((r) => [r.name, r.enforced])).toEqual([
      ["pids", true],
      ["memory", true],
      ["network", true],
    ]);
    expect(seen.size).toBe(3);
    expect(await runtime.list(LABEL_RUN, probeRun.runId)).toEqual([]);
  });
});
