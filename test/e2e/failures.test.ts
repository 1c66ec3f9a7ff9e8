/**
 * Failures explain themselves and leave nothing behind: exit codes as cargo's, one cratebox line
 * naming the crate and the cause, Ctrl-C, a killed run swept at the next start, clear errors.
 */
import { execa } from "execa";
import { readdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { writeEnforcementRecord } from "../../src/runtime/enforcement.ts";
import { imageTag } from "../../src/runtime/image.ts";
import { procStat } from "../../src/runtime/proc-stat.ts";
import { processesWith } from "../helpers/processes.ts";
import { CRATEBOX, cratebox, makeFakeHome, plainCargo, testEnv } from "../helpers/run.ts";
import { makeRegistry, makeWorkspace, ROOT, tempDir } from "../helpers/workspace.ts";

const docker = new Docker();
const registry = makeRegistry();

function workspaceWithBuildRs(buildRs: string): string {
  return makeWorkspace({ registry: registry.dir, files: { "build.rs": buildRs } });
}

async function containersOf(label: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [label] } });
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("a failing build script", () => {
  it.each([
    ["exits with an error", 'fn main() { eprintln!("no luck"); std::process::exit(3); }', /build script of app 0\.1\.0 failed with exit code 3 in the sandbox/],
    ["panics", 'fn main() { panic!("boom"); }', /build script of app 0\.1\.0 failed with exit code 101 in the sandbox/],
  ])("fails the build exactly as cargo does when it %s, plus one cratebox line", async (_what, buildRs, line) => {
    const fake = makeFakeHome();
    const ws = workspaceWithBuildRs(buildRs);
    const plain = await plainCargo(["build", "--target-dir", "target/plain"], ws, testEnv(fake));
    const boxed = await cratebox(["build", "--target-dir", "target/boxed"], ws, testEnv(fake));
    expect(plain.code).toBe(101);
    expect(boxed.code).toBe(plain.code);
    expect(boxed.stderr).toMatch(line);
    expect(boxed.stderr).toContain("failed to run custom build command for `app v0.1.0");
    const cargoStderrOf = (s: string) =>
      s
        .split("\n")
        .filter((l) => /no luck|boom/.test(l))
        .map((l) => l.trim());
    expect(cargoStderrOf(boxed.stderr)).toEqual(cargoStderrOf(plain.stderr));
  });
});

const SLEEPER = "fn main() { std::thread::sleep(std::time::Duration::from_secs(120)); }";

describe("a denial that explains itself", () => {
  it("a script failing without a withheld variable it reads gets the exact grant, and the grant works", async () => {
    const ws = workspaceWithBuildRs(
      'fn main() { println!("cargo:rerun-if-env-changed=MY_SDK_DIR"); let d = std::env::var("MY_SDK_DIR").expect("MY_SDK_DIR must be set"); println!("cargo:rustc-env=SDK={d}"); }',
    );
    const env = testEnv(makeFakeHome(), { MY_SDK_DIR: "/opt/sdk" });
    const res = await cratebox(["build"], ws, env);
    expect(res.code).toBe(101);
    expect(res.stderr).toContain(
      'it reads MY_SDK_DIR (rerun-if-env-changed), which your environment has and the sandbox withheld; if it needs it, grant in cratebox.toml: [build.app] version = "=0.1.0" source = "path" env = ["MY_SDK_DIR"]',
    );
    const { writeFileSync } = await import("node:fs");
    writeFileSync(path.join(ws, "cratebox.toml"), 'version = 1\n[build.app]\nsource = "path"\nversion = "=0.1.0"\nenv = ["MY_SDK_DIR"]\n');
    const granted = await cratebox(["build"], ws, env);
    expect(granted.code, granted.output).toBe(0);
  });
});

describe("in GitHub Actions", () => {
  it("a failure is also printed as a workflow annotation on stdout", async () => {
    const ws = workspaceWithBuildRs("fn main() { std::process::exit(3); }");
    const res = await cratebox(["build"], ws, testEnv(makeFakeHome(), { GITHUB_ACTIONS: "true", CI: "true" }));
    expect(res.code).toBe(101);
    expect(res.stdout).toMatch(/^::error file=build\.rs,title=cratebox%3A app 0\.1\.0::build script of app 0\.1\.0 failed with exit code 3 in the sandbox/m);
  });
});

/** The sandboxed build script's processes, found by the workspace its binary lives in (bwrap). */
function sandboxedProcesses(ws: string): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return (
          readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(`${ws}/target/`) && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(".cratebox-real")
        );
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The native spawner a cratebox process started (src/runtime/sandbox/launch.ts), by its parent's pid. */
const spawnerOf = (parent: number) => processesWith("cratebox-spawner").find((pid) => procStat(pid)?.[1] === String(parent));
/** Gone, or a zombie. */
const ended = (pid: number) => (procStat(pid)?.[0] ?? "Z") === "Z";

/** A `cratebox --backend bwrap cargo build` in its own process group, once its build script (a sleeper) runs. */
async function sleeperUnderBwrap(env = testEnv(makeFakeHome())) {
  const ws = workspaceWithBuildRs(SLEEPER);
  const child = execa(CRATEBOX, ["--backend", "bwrap", "cargo", "build"], {
    cwd: ws,
    env,
    extendEnv: false,
    reject: false,
    detached: true,
  });
  await until("the build script's process", async () => (sandboxedProcesses(ws).length > 0 ? true : undefined));
  return { ws, child };
}

const DOCKER = { CRATEBOX_BACKEND: "docker" };

describe("interruption on the Docker engine", () => {
  it("Ctrl-C stops the running containers, exits 130 and leaves nothing behind", async () => {
    const fake = makeFakeHome();
    const ws = workspaceWithBuildRs(SLEEPER);
    const child = execa(CRATEBOX, ["cargo", "build"], { cwd: ws, env: testEnv(fake, DOCKER), extendEnv: false, reject: false, detached: true, all: true });
    const running = await until("the build script's container", async () =>
      (await containersOf("cratebox.crate=app")).find(
        (c) => c.State === "running" && c.Labels["cratebox.phase"] === "build-script" && c.Labels["cratebox.owner"]?.includes(`:${child.pid}:`),
      ),
    );
    // Every container carries the run id, the crate, its version and the phase.
    expect(running.Labels).toMatchObject({ "cratebox.crate": "app", "cratebox.version": "0.1.0", "cratebox.phase": "build-script" });
    const runId = running.Labels["cratebox.run"]!;
    expect(runId).toMatch(/^[0-9a-f-]{36}$/);

    const t0 = Date.now();
    process.kill(-child.pid!, "SIGINT"); // as a terminal does: the whole process group
    const res = await child;
    expect(res.exitCode).toBe(130);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(await containersOf(`cratebox.run=${runId}`)).toEqual([]);
  });

  it("containers of a run that was killed outright are swept at the next start", async () => {
    const fake = makeFakeHome();
    const ws = workspaceWithBuildRs(SLEEPER);
    const child = execa(CRATEBOX, ["cargo", "build"], { cwd: ws, env: testEnv(fake, DOCKER), extendEnv: false, reject: false, detached: true });
    const running = await until("the build script's container", async () =>
      (await containersOf("cratebox.crate=app")).find(
        (c) => c.Labels["cratebox.phase"] === "build-script" && c.Labels["cratebox.owner"]?.includes(`:${child.pid}:`),
      ),
    );
    const runId = running.Labels["cratebox.run"]!;
    // SIGKILL the whole group: cratebox gets no chance to clean up.
    process.kill(-child.pid!, "SIGKILL");
    await child;
    // The build script's container is left, and may not be alone (a compilation running beside it).
    expect((await containersOf(`cratebox.run=${runId}`)).map((c) => c.Id)).toContain(running.Id);

    const next = await cratebox(["build"], makeWorkspace({ registry: registry.dir }), testEnv(fake, DOCKER));
    expect(next.code, next.output).toBe(0);
    // Whichever cratebox started first since the kill swept it (test files run in parallel, so
    // it may have been another test's run; then this one has nothing left to report).
    expect(await containersOf(`cratebox.run=${runId}`)).toEqual([]);
    if (!/removed [1-9]\d* container\(s\) left behind by an earlier run/.test(next.stderr)) {
      expect(next.stderr).not.toContain("could not remove container");
    }
  });

  it("the sweep spares containers whose owner is alive", async () => {
    const { tag } = imageTag();
    const alive = await docker.createContainer({
      Image: tag,
      Cmd: ["/x"],
      Labels: {
        "cratebox.owner": `${hostname()}:1:${procStat(1)![19]}`,
        "cratebox.run": "alive-test",
      },
    });
    try {
      const res = await cratebox(["build"], makeWorkspace({ registry: registry.dir }), testEnv(makeFakeHome(), DOCKER));
      expect(res.code).toBe(0);
      expect(await containersOf("cratebox.run=alive-test")).toHaveLength(1);
    } finally {
      await alive.remove({ force: true });
    }
  });
});

describe("interruption under bubblewrap", () => {
  it("Ctrl-C stops the sandbox's processes and exits 130", async () => {
    const { ws, child } = await sleeperUnderBwrap();
    const spawner = spawnerOf(child.pid!);
    expect(spawner).toBeDefined();
    process.kill(-child.pid!, "SIGINT");
    expect((await child).exitCode).toBe(130);
    await until("the sandbox's processes to end", async () => (sandboxedProcesses(ws).length === 0 ? true : undefined), 10_000);
    await until("the spawner to end", async () => (ended(spawner!) ? true : undefined), 10_000);
  });

  it("a cratebox process killed alone takes its spawner and sandboxes with it", async () => {
    const { ws, child } = await sleeperUnderBwrap();
    const spawner = spawnerOf(child.pid!);
    expect(spawner).toBeDefined();
    // Node alone (bin/cratebox exec'd it): cargo, the shim's client, the spawner and bwrap live on.
    process.kill(child.pid!, "SIGKILL");
    await until("the spawner to end", async () => (ended(spawner!) ? true : undefined), 10_000);
    await until("the sandbox's processes to end", async () => (sandboxedProcesses(ws).length === 0 ? true : undefined), 10_000);
    try {
      process.kill(-child.pid!, "SIGKILL"); // cargo, still waiting for its client
    } catch {
      /* gone */
    }
    await child;
  });

  it("a run killed outright takes its sandboxes with it", async () => {
    // A TMPDIR of its own: any other run of the suite sweeps a dead run's directory in the
    // shared one, and would take this one between the kill and the look.
    const env = testEnv(makeFakeHome(), { TMPDIR: tempDir("cratebox-own-tmp-") });
    const { ws, child } = await sleeperUnderBwrap(env);
    const runDir = () => readdirSync(env.TMPDIR!).filter((n) => n.startsWith("cratebox-run-") && n.includes(`-${child.pid}-`));
    expect(runDir()).toHaveLength(1);
    process.kill(-child.pid!, "SIGKILL");
    await child;
    await until("the sandbox's processes to end", async () => (sandboxedProcesses(ws).length === 0 ? true : undefined), 10_000);
    // Its private directory stays behind (nothing ran its clean-up); the next run removes it.
    expect(runDir()).toHaveLength(1);
    const next = await cratebox(["build"], makeWorkspace({ registry: registry.dir }), env, ["--backend", "bwrap"]);
    expect(next.code, next.output).toBe(0);
    expect(runDir()).toEqual([]);
  });
});

describe("limits the engine does not enforce", () => {
  it("make every run warn loudly, from what `cratebox doctor` found", async () => {
    const fake = makeFakeHome();
    const { ID } = (await docker.info()) as { ID: string };
    writeEnforcementRecord(testEnv(fake), {
      engineId: ID,
      checkedAt: new Date().toISOString(),
      probes: [{ name: "pids", enforced: false, detail: "held 40 of 16" }],
    });
    const res = await cratebox(["build"], makeWorkspace({ registry: registry.dir }), testEnv(fake, DOCKER));
    expect(res.code).toBe(0);
    expect(res.stderr).toContain("cratebox: WARNING: `cratebox doctor` found the pids limit not enforced by this engine: held 40 of 16");
    const clean = await cratebox(["build"], makeWorkspace({ registry: registry.dir }), testEnv(makeFakeHome(), DOCKER));
    expect(clean.stderr).not.toContain("WARNING");
  });
});

describe("errors with a fix, exit code 2", () => {
  const ws = makeWorkspace({ registry: registry.dir });
  it("no Docker engine, when the engine is the backend", async () => {
    const build = workspaceWithBuildRs("fn main() {}");
    const res = await cratebox(["build"], build, testEnv(makeFakeHome(), { ...DOCKER, DOCKER_HOST: "unix:///tmp/cratebox-no-such-engine.sock" }));
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("no Docker engine answers at unix:///tmp/cratebox-no-such-engine.sock");
    expect(res.stderr).toContain("Start one:");
    expect(res.stderr).not.toMatch(/\n\s+at /); // no stack trace
    // Under bubblewrap the same build needs no engine at all.
    const bwrap = await cratebox(
      ["build"],
      build,
      testEnv(makeFakeHome(), { CRATEBOX_BACKEND: "bwrap", DOCKER_HOST: "unix:///tmp/cratebox-no-such-engine.sock" }),
    );
    expect(bwrap.code, bwrap.output).toBe(0);
  });
  it.each([
    [["--memory", "lots", "cargo", "build"], /invalid value "lots": expected a size such as/],
    [["--timeout", "soon", "cargo", "build"], /invalid value "soon": expected a duration/],
    [[], /no command given/],
    [["frobnicate"], /unknown command "frobnicate"/],
    [["cargo"], /no cargo arguments given/],
    [["--bogus", "cargo", "build"], /Unknown argument: bogus/],
  ])("bad arguments %j", async (args, message) => {
    const res = await execa(CRATEBOX, args, { cwd: ws, env: testEnv(makeFakeHome()), extendEnv: false, reject: false });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(message);
  });
});

describe("entry points", () => {
  it("`cargo cratebox build` runs through the cargo-cratebox binary", async () => {
    const fake = makeFakeHome();
    const ws = workspaceWithBuildRs('fn main() { println!("cargo:rustc-env=WHERE={}", std::env::var("HOME").unwrap()); }');
    const env = testEnv(fake);
    env.PATH = `${path.join(ROOT, "bin")}:${env.PATH}`;
    const res = await execa("cargo", ["cratebox", "build"], { cwd: ws, env, extendEnv: false, reject: false, all: true });
    expect(res.exitCode, res.all).toBe(0);
    expect(res.stderr).toContain("1 build script sandboxed, all passed");
  });

  it("cargo commands that run no crate code pass straight through", async () => {
    const res = await cratebox(["--version"], ROOT, testEnv(makeFakeHome()));
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^cargo \d+\.\d+/);
  });

  it("`cratebox doctor` proves the limits are enforced", async () => {
    const res = await execa(CRATEBOX, ["doctor"], { env: testEnv(makeFakeHome()), extendEnv: false, reject: false });
    expect(res.exitCode, res.stdout).toBe(0);
    expect(res.stdout).toMatch(/^ok {3}backend: bwrap: bubblewrap works here/m);
    expect(res.stdout).toMatch(/^ok {3}native helpers: the shims' client and bwrap's spawner, in \S+\/dist\/native$/m);
    for (const backend of ["bwrap", "docker"]) {
      expect(res.stdout).toMatch(new RegExp(`^ok {3}${backend} pids limit: asked for 40 processes under a limit of 16, a fork past it was refused$`, "m"));
      expect(res.stdout).toMatch(new RegExp(`^ok {3}${backend} memory limit: allocating 512 MiB under a 64 MiB limit was killed for memory$`, "m"));
      expect(res.stdout).toMatch(new RegExp(`^ok {3}${backend} network limit: network interfaces inside: lo$`, "m"));
    }
    // The engine by name, and gVisor as scripts/setup registers it, proved like the others.
    expect(res.stdout).toMatch(/^ok {3}engine: Docker \S+, rootful \(the engine runs as root\), at \S+, cgroup v\d/m);
    expect(res.stdout).toMatch(/^ok {3}gVisor: gVisor registered as runsc \(\S*runsc --network=none --host-uds=open\)$/m);
    expect(res.stdout).toMatch(
      /^ok {3}runsc pids limit: asked for 40 processes under a limit of 16, the sandbox was ended (at the limit|before it could count them)/m,
    );
    expect(res.stdout).toMatch(/^ok {3}runsc memory limit: allocating 512 MiB under a 64 MiB limit was killed for memory$/m);
    expect(res.stdout).toMatch(/^ok {3}runsc network limit: network interfaces inside: lo$/m);
  });
});
