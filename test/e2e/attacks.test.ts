/**
 * The threat model (design/THREATS.md), attack by attack, with a real hostile build script
 * (test/fixtures/crates/evil-build-0.1.0) served as a third-party registry crate.
 *
 * Every attack is run twice, each time in a fresh registry copy, workspace, fake HOME and target
 * directory: under plain cargo, where it must WORK (otherwise the test proves nothing), and under
 * cratebox, where it must be STOPPED. Both halves assert observable effects only: what the script
 * managed to write into its loot file ($OUT_DIR/loot.txt), what a listener received, whether
 * planted files changed, which processes are alive, cargo's exit code and cratebox's own lines.
 *
 * Secrets are random per run and never appear in a plan (the loot echoes each plan line), so
 * finding a secret's value anywhere means it was stolen. Builds run with `-vv`, which makes cargo
 * print the build script's stdout (its `cargo:warning=` loot lines): the output is a channel too.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { cratebox, makeFakeHome, plainCargo, testEnv, type FakeHome, type RunResult } from "../helpers/run.ts";
import { killAll, processesWith } from "../helpers/processes.ts";
import { makeRegistry, makeWorkspace, tempDir } from "../helpers/workspace.ts";

type Mode = "plain" | "boxed";

const PLAN_FILE = "cratebox-attack.txt";
const DOCKER_SOCKET = "/var/run/docker.sock";

// ---------------------------------------------------------------------------------------------
// Bookkeeping: everything a test creates is undone in afterEach (listeners, daemons, temp dirs).

const cleanups: (() => void | Promise<void>)[] = [];

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch {
      /* best effort */
    }
  }
});

function track(dir: string): string {
  if (!process.env.CRATEBOX_TEST_KEEP) cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function rand(): string {
  return randomBytes(12).toString("hex");
}

// ---------------------------------------------------------------------------------------------
// One side of an attack: its own registry copy (armed), workspace, fake HOME and target dir.

interface Secrets {
  cargoCredentials: string;
  sshKey: string;
  registryToken: string;
  githubToken: string;
  awsSecret: string;
  procSecret: string;
}

interface Side {
  mode: Mode;
  tmp: string;
  crateDir: string;
  ws: string;
  fake: FakeHome;
  targetDir: string;
  reportFile: string;
  env: Record<string, string>;
  secrets: Secrets;
}

/** Files planted in the fake HOME; the same content on both sides except the secrets. */
function plantHome(fake: FakeHome, secrets: Secrets): void {
  writeFileSync(path.join(fake.cargoHome, "credentials.toml"), `[registry]\ntoken = "${secrets.cargoCredentials}"\n`);
  writeFileSync(path.join(fake.cargoHome, "config.toml"), "# the user's own cargo configuration\n");
  mkdirSync(path.join(fake.home, ".ssh"), { recursive: true, mode: 0o700 });
  writeFileSync(path.join(fake.home, ".ssh/id_ed25519"), `-----BEGIN OPENSSH PRIVATE KEY-----\n${secrets.sshKey}\n-----END OPENSSH PRIVATE KEY-----\n`, {
    mode: 0o600,
  });
  writeFileSync(path.join(fake.home, ".bashrc"), "# ~/.bashrc\nexport EDITOR=vi\n");
}

function makeSideOn(mode: Mode, opts: { files?: Record<string, string>; backend?: string } = {}): Side {
  const registry = makeRegistry(["evil-build-0.1.0"]);
  track(registry.dir);
  const ws = track(
    makeWorkspace({
      registry: registry.dir,
      dependencies: ['evil-build = "0.1"'],
      ...(opts.files ? { files: opts.files } : {}),
    }),
  );
  const fake = makeFakeHome();
  track(fake.home);
  const secrets: Secrets = {
    cargoCredentials: `cio-cred-${rand()}`,
    sshKey: `ssh-key-${rand()}`,
    registryToken: `cio-env-${rand()}`,
    githubToken: `ghp_${rand()}`,
    awsSecret: `aws-${rand()}`,
    procSecret: `proc-${rand()}`,
  };
  plantHome(fake, secrets);
  const tmp = track(tempDir("cratebox-attack-"));
  const env = testEnv(fake, {
    ...(opts.backend ? { CRATEBOX_BACKEND: opts.backend } : {}),
    CARGO_REGISTRY_TOKEN: secrets.registryToken,
    GITHUB_TOKEN: secrets.githubToken,
    AWS_SECRET_ACCESS_KEY: secrets.awsSecret,
    CRATEBOX_PROC_SECRET: secrets.procSecret,
  });
  return {
    mode,
    tmp,
    crateDir: registry.crate("evil-build"),
    ws,
    fake,
    targetDir: path.join(tmp, mode),
    reportFile: path.join(tmp, "report.json"),
    env,
    secrets,
  };
}

function arm(side: Side, plan: string[]): void {
  writeFileSync(path.join(side.crateDir, PLAN_FILE), `${plan.join("\n")}\n`);
}

async function build(side: Side, crateboxArgs: string[] = [], timeoutMs = 240_000): Promise<RunResult & { ms: number }> {
  const args = ["build", "-vv", "--target-dir", side.targetDir];
  const started = Date.now();
  const res =
    side.mode === "plain"
      ? await plainCargo(args, side.ws, side.env, timeoutMs)
      : await cratebox(args, side.ws, side.env, ["--report", side.reportFile, ...crateboxArgs], timeoutMs);
  return { ...res, ms: Date.now() - started };
}

/** `<target>/debug/build/<pkg>-<hash>/out` directories of a package that exist. */
function outDirs(side: Side, pkg: string): string[] {
  const buildDir = path.join(side.targetDir, "debug/build");
  if (!existsSync(buildDir)) return [];
  return readdirSync(buildDir)
    .filter((d) => d.startsWith(`${pkg}-`))
    .map((d) => path.join(buildDir, d, "out"))
    .filter((d) => existsSync(d));
}

/** The loot file the armed script wrote; fails the test when the script never ran armed. */
function loot(side: Side): string {
  const files = outDirs(side, "evil-build")
    .map((d) => path.join(d, "loot.txt"))
    .filter((f) => existsSync(f));
  expect(files, `no loot.txt under ${side.targetDir}: the armed build script did not run`).toHaveLength(1);
  const text = readFileSync(files[0]!, "utf8");
  expect(text).toMatch(/^armed => OK \d+ action\(s\)$/m);
  return text;
}

/** The recorded result of one plan line (`<line> => <result>`). */
function result(lootText: string, line: string): string {
  const prefix = `${line} => `;
  const hit = lootText.split("\n").find((l) => l.startsWith(prefix));
  expect(hit, `no result recorded for "${line}"`).toBeDefined();
  return hit!.slice(prefix.length);
}

function report(side: Side): string {
  return existsSync(side.reportFile) ? readFileSync(side.reportFile, "utf8") : "";
}

// ---------------------------------------------------------------------------------------------
// Host observers: loopback listeners, process table.

interface Listener {
  host: string;
  port: number;
  /** `host:port` as the build script's plan spells it. */
  address: string;
  connections: number;
  data: string;
}

async function listen(host: "127.0.0.1" | "::1"): Promise<Listener> {
  const sockets = new Set<Socket>();
  const l: Listener = { host, port: 0, address: "", connections: 0, data: "" };
  const server: Server = createServer((sock) => {
    l.connections++;
    sockets.add(sock);
    sock.setTimeout(10_000, () => sock.destroy());
    sock.on("data", (d) => (l.data += d.toString("utf8")));
    sock.on("error", () => {});
    sock.on("close", () => sockets.delete(sock));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  l.port = (server.address() as { port: number }).port;
  l.address = host.includes(":") ? `[${host}]:${l.port}` : `${host}:${l.port}`;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
        setTimeout(resolve, 2_000).unref();
      }),
  );
  return l;
}

/** Host pids whose command line contains `token` (a /proc scan, like `pgrep -f`). */

// ---------------------------------------------------------------------------------------------

// Each attack on each backend: bwrap (what `auto` picks here) and the Docker engine.
describe.each(["bwrap", "docker"])("a hostile build script: works under plain cargo, stopped by cratebox on %s", (backend) => {
  const makeSide = (mode: Mode, opts: { files?: Record<string, string> } = {}) => makeSideOn(mode, { ...opts, backend });
  it("cannot steal credentials from HOME/CARGO_HOME, the environment or /proc/*/environ", async () => {
    const plan = (s: Side) => [
      `read ${path.join(s.fake.cargoHome, "credentials.toml")}`,
      "read-home .cargo/credentials.toml",
      `read ${path.join(s.fake.home, ".ssh/id_ed25519")}`,
      "read-home .ssh/id_ed25519",
      `ls ${s.fake.home}`,
      "env CARGO_REGISTRY_TOKEN",
      "env GITHUB_TOKEN",
      "env AWS_SECRET_ACCESS_KEY",
      "env CRATEBOX_PROC_SECRET",
      "proc-environ CRATEBOX_PROC_SECRET=",
    ];
    const secretsOf = (s: Side) => Object.values(s.secrets);

    // Plain cargo: every one of them is stolen, and leaks into cargo's output too.
    const plain = makeSide("plain");
    arm(plain, plan(plain));
    const p = await build(plain);
    expect(p.code, p.output).toBe(0);
    const pLoot = loot(plain);
    expect(result(pLoot, plan(plain)[0]!)).toContain(plain.secrets.cargoCredentials);
    expect(result(pLoot, "read-home .cargo/credentials.toml")).toContain(plain.secrets.cargoCredentials);
    expect(result(pLoot, plan(plain)[2]!)).toContain(plain.secrets.sshKey);
    expect(result(pLoot, "read-home .ssh/id_ed25519")).toContain(plain.secrets.sshKey);
    expect(result(pLoot, `ls ${plain.fake.home}`)).toMatch(/^OK \[.*\.ssh/);
    expect(result(pLoot, "env CARGO_REGISTRY_TOKEN")).toBe(`OK ${plain.secrets.registryToken}`);
    expect(result(pLoot, "env GITHUB_TOKEN")).toBe(`OK ${plain.secrets.githubToken}`);
    expect(result(pLoot, "env AWS_SECRET_ACCESS_KEY")).toBe(`OK ${plain.secrets.awsSecret}`);
    // Another process's environment (cargo's, the build script's own pid is skipped).
    const pProc = result(pLoot, "proc-environ CRATEBOX_PROC_SECRET=");
    expect(pProc).toContain(`CRATEBOX_PROC_SECRET=${plain.secrets.procSecret}`);
    expect(pProc).toMatch(/\(cargo\): CRATEBOX_PROC_SECRET=/);
    for (const secret of secretsOf(plain)) expect(p.output).toContain(secret);

    // cratebox: the script ran every attempt, and every one came back empty-handed.
    const boxed = makeSide("boxed");
    arm(boxed, plan(boxed));
    const b = await build(boxed);
    expect(b.code, b.output).toBe(0);
    const bLoot = loot(boxed);
    for (const line of plan(boxed).filter((l) => !l.startsWith("proc-environ"))) {
      expect(result(bLoot, line), line).toMatch(/^ERR /);
    }
    const bProc = result(bLoot, "proc-environ CRATEBOX_PROC_SECRET=");
    expect(bProc).toMatch(/ 0 hits: \[\]$/);
    // Its own PID namespace: the container's init and the timeout backstop at most, no cargo.
    expect(Number(/^OK (\d+) other processes visible/.exec(bProc)?.[1] ?? NaN)).toBeLessThanOrEqual(3);
    for (const secret of secretsOf(boxed)) {
      expect(bLoot).not.toContain(secret);
      expect(b.output).not.toContain(secret);
      expect(report(boxed)).not.toContain(secret);
    }
  });

  it("cannot reach loopback listeners (IPv4, IPv6) or the Docker socket", async () => {
    const plan = (v4: Listener, v6: Listener, payload: string) => [
      `connect ${v4.address} ${payload}`,
      `connect ${v6.address} ${payload}`,
      `unix ${DOCKER_SOCKET}`,
    ];

    const plain = makeSide("plain");
    const [p4, p6] = await Promise.all([listen("127.0.0.1"), listen("::1")]);
    const pPayload = `exfil-plain-${rand()}`;
    arm(plain, plan(p4, p6, pPayload));
    const p = await build(plain);
    expect(p.code, p.output).toBe(0);
    const pLoot = loot(plain);
    expect(result(pLoot, `connect ${p4.address} ${pPayload}`)).toMatch(/^OK connected/);
    expect(result(pLoot, `connect ${p6.address} ${pPayload}`)).toMatch(/^OK connected/);
    await expect.poll(() => p4.data, { timeout: 5_000 }).toContain(pPayload);
    await expect.poll(() => p6.data, { timeout: 5_000 }).toContain(pPayload);
    expect(result(pLoot, `unix ${DOCKER_SOCKET}`)).toMatch(/^OK connected to \/var\/run\/docker\.sock, answer: HTTP\/1\.\d 200 OK.*"ApiVersion"/);

    const boxed = makeSide("boxed");
    const [b4, b6] = await Promise.all([listen("127.0.0.1"), listen("::1")]);
    const bPayload = `exfil-boxed-${rand()}`;
    arm(boxed, plan(b4, b6, bPayload));
    const b = await build(boxed);
    expect(b.code, b.output).toBe(0);
    const bLoot = loot(boxed);
    expect(result(bLoot, `connect ${b4.address} ${bPayload}`)).toMatch(/^ERR /);
    expect(result(bLoot, `connect ${b6.address} ${bPayload}`)).toMatch(/^ERR /);
    expect(result(bLoot, `unix ${DOCKER_SOCKET}`)).toMatch(/^ERR /);
    expect(bLoot).not.toContain("ApiVersion");
    await new Promise((r) => setTimeout(r, 500));
    expect(b4.connections).toBe(0);
    expect(b6.connections).toBe(0);
    expect(b4.data + b6.data).toBe("");
  });

  it("cannot tamper with sources, another crate's OUT_DIR or dotfiles, nor leave a daemon running", async () => {
    // The workspace's own build script fills its OUT_DIR in a first, unarmed build; then the evil
    // crate is cleaned, armed and rebuilt, so that its build script runs while that OUT_DIR
    // (another crate's) exists.
    const files = {
      "build.rs": [
        "fn main() {",
        '    println!("cargo:rerun-if-changed=build.rs");',
        '    let out = std::env::var("OUT_DIR").unwrap();',
        '    std::fs::write(format!("{out}/generated.rs"), "pub const GENERATED: u32 = 1;\\n").unwrap();',
        "}",
        "",
      ].join("\n"),
    };
    const victims = (s: Side, appOut: string) => [
      path.join(s.ws, "src/main.rs"),
      path.join(s.ws, "Cargo.toml"),
      path.join(appOut, "generated.rs"),
      path.join(s.crateDir, "src/lib.rs"),
      path.join(s.fake.home, ".bashrc"),
      path.join(s.fake.cargoHome, "config.toml"),
    ];
    // What is appended is a comment in each file's language: the plain build must still work.
    const comment = (f: string) => (f.endsWith(".rs") ? "//" : "#");
    const plan = (s: Side, appOut: string, mark: string, token: string) => [
      ...victims(s, appOut).map((f) => `write ${f} ${comment(f)} ${mark}`),
      `write-home .bashrc echo ${mark}`,
      `write-home .cargo/config.toml # ${mark}`,
      `daemon ${token}`,
    ];
    const prepare = async (s: Side) => {
      const first = await build(s);
      expect(first.code, first.output).toBe(0);
      const appOut = outDirs(s, "app");
      expect(appOut, "the workspace's build script did not run").toHaveLength(1);
      expect(readFileSync(path.join(appOut[0]!, "generated.rs"), "utf8")).toContain("GENERATED");
      const clean = await plainCargo(["clean", "-p", "evil-build", "--target-dir", s.targetDir], s.ws, s.env);
      expect(clean.code, clean.output).toBe(0);
      expect(outDirs(s, "evil-build")).toHaveLength(0);
      return appOut[0]!;
    };
    const snapshot = (paths: string[]) => new Map(paths.map((f) => [f, readFileSync(f)]));

    // Plain cargo: every file is changed and the daemon outlives the build.
    const plain = makeSide("plain", { files });
    const pOut = await prepare(plain);
    const pMark = `tampered-${rand()}`;
    const pToken = `cratebox-daemon-${rand()}`;
    cleanups.push(() => killAll(pToken));
    arm(plain, plan(plain, pOut, pMark, pToken));
    const p = await build(plain);
    const pAlive = processesWith(pToken);
    killAll(pToken);
    expect(p.code, p.output).toBe(0);
    const pLoot = loot(plain);
    for (const f of victims(plain, pOut)) {
      expect(result(pLoot, `write ${f} ${comment(f)} ${pMark}`)).toMatch(/^OK wrote/);
      expect(readFileSync(f, "utf8"), f).toContain(pMark);
    }
    expect(result(pLoot, `daemon ${pToken}`)).toMatch(/^OK .* running/);
    expect(pAlive.length, "the daemon did not outlive plain cargo").toBeGreaterThan(0);

    // cratebox: nothing changed, byte for byte, and nothing of the script is left running.
    const boxed = makeSide("boxed", { files });
    const bOut = await prepare(boxed);
    const bMark = `tampered-${rand()}`;
    const bToken = `cratebox-daemon-${rand()}`;
    cleanups.push(() => killAll(bToken));
    const before = snapshot(victims(boxed, bOut));
    const homeBefore = readdirSync(boxed.fake.home).sort();
    arm(boxed, plan(boxed, bOut, bMark, bToken));
    const b = await build(boxed);
    const bAlive = processesWith(bToken);
    expect(b.code, b.output).toBe(0);
    const bLoot = loot(boxed);
    for (const [f, bytes] of before) {
      expect(result(bLoot, `write ${f} ${comment(f)} ${bMark}`), f).toMatch(/^ERR /);
      expect(readFileSync(f).equals(bytes), `${f} changed`).toBe(true);
    }
    // $HOME inside is a throwaway tmpfs: writing there "works" and goes nowhere.
    expect(readdirSync(boxed.fake.home).sort()).toEqual(homeBefore);
    // The daemon did start inside the container, and died with it.
    expect(result(bLoot, `daemon ${bToken}`)).toMatch(/^OK .* running/);
    expect(bAlive, "a process of the build script outlived cratebox").toEqual([]);
  });

  it("a fork bomb ends at the process limit", async () => {
    const plan = ["fork 200"];

    const plain = makeSide("plain");
    arm(plain, plan);
    const p = await build(plain);
    expect(p.code, p.output).toBe(0);
    expect(result(loot(plain), "fork 200")).toBe("OK held 200 of 200 processes");

    const boxed = makeSide("boxed");
    arm(boxed, plan);
    const b = await build(boxed, ["--pids", "64"]);
    expect(b.code).not.toBe(0);
    const held = /^ERR held (\d+) of 200 processes/.exec(result(loot(boxed), "fork 200"));
    expect(held, "the fork bomb was not refused").not.toBeNull();
    expect(Number(held![1])).toBeLessThan(64);
    expect(b.output).toMatch(/^cratebox: .*evil-build 0\.1\.0.*process limit of 64/m);
  });

  it("a memory bomb is killed at the memory limit", async () => {
    const plan = ["alloc 1024"];

    const plain = makeSide("plain");
    arm(plain, plan);
    const p = await build(plain);
    expect(p.code, p.output).toBe(0);
    expect(result(loot(plain), "alloc 1024")).toMatch(/^OK held 1024 MiB/);

    const boxed = makeSide("boxed");
    arm(boxed, plan);
    const b = await build(boxed, ["--memory", "256MiB"]);
    expect(b.code).not.toBe(0);
    expect(loot(boxed)).not.toMatch(/^alloc 1024 => /m);
    expect(b.output).toMatch(/^cratebox: .*evil-build 0\.1\.0 was killed: memory limit of 256 MiB/m);
  });

  it("an endless loop is killed at the time limit", async () => {
    const plain = makeSide("plain");
    arm(plain, ["spin 4"]);
    const p = await build(plain);
    expect(p.code, p.output).toBe(0);
    expect(Number(/^OK finished after (\d+) ms$/.exec(result(loot(plain), "spin 4"))?.[1])).toBeGreaterThanOrEqual(4000);

    // Under cratebox the loop would run for 120 s; the run must end long before that. The limit
    // is the build script's alone (cratebox.toml): `--timeout` would bind the compiles too, and
    // on a loaded machine rustc may need more than 2 s for the script itself.
    const boxed = makeSide("boxed", { files: { "cratebox.toml": 'version = 1\n[build.evil-build]\nreviewed = true\ntimeout = "2s"\n' } });
    arm(boxed, ["spin 120"]);
    const b = await build(boxed, [], 180_000);
    expect(b.code).not.toBe(0);
    expect(loot(boxed)).not.toMatch(/^spin 120 => /m);
    expect(b.output).toMatch(/^cratebox: .*evil-build 0\.1\.0 was killed: time limit of 2s/m);
    expect(b.ms).toBeLessThan(60_000);
    const step = (JSON.parse(report(boxed)) as { steps: { crate: string; phase: string; cause: string; runMs?: number }[] }).steps.find(
      (s) => s.crate === "evil-build" && s.phase === "build-script",
    );
    expect(step?.cause).toBe("timeout");
    expect(step?.runMs ?? Infinity).toBeLessThan(6_000);
  });
});
