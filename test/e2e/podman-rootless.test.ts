/**
 * cratebox run by a non-root user on that user's rootless Podman (issue 16): no Docker socket,
 * no root, no docker group. `scripts/setup --podman cratebox-podman` (scripts/podman-rootless; run
 * by scripts/test) creates the user, starts its `podman system service` and mounts the Rust
 * toolchain read-only at /opt/cratebox-rust (root's ~/.rustup is not readable by the user). This test, as root, prepares
 * everything in a directory the user owns and runs cargo and cratebox as the user (runuser).
 * cratebox finds the user's Podman socket by itself ($XDG_RUNTIME_DIR/podman/podman.sock).
 *
 * The hostile build script (test/fixtures/crates/evil-build-0.1.0) runs under plain cargo as the
 * user, where it steals, connects and writes, then under cratebox, where each attempt fails and
 * nothing changed; the OUT_DIR it writes belongs to the user (Podman's keep-id). A real-crate
 * build (C through the cc crate, zlib through pkg-config) gives the same program as plain cargo.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeRegistry, makeWorkspace, ROOT } from "../helpers/workspace.ts";
import { killAll, processesWith } from "../helpers/processes.ts";

const USER = "cratebox-podman";
const TOOLCHAIN = "/opt/cratebox-rust";
const uid = Number(execFileSync("id", ["-u", USER], { encoding: "utf8" }).trim());
const gid = Number(execFileSync("id", ["-g", USER], { encoding: "utf8" }).trim());
const runtimeDir = `/run/user/${uid}`;
const socket = `${runtimeDir}/podman/podman.sock`;
if (!existsSync(socket)) throw new Error(`no rootless Podman service for ${USER} at ${socket}: run scripts/setup --podman cratebox-podman (scripts/test does)`);
if (!existsSync(`${TOOLCHAIN}/bin/cargo`)) throw new Error(`no toolchain at ${TOOLCHAIN}: run scripts/setup --podman cratebox-podman (scripts/test does)`);

const rand = () => randomBytes(10).toString("hex");
let base: string;
let cratebox: string;
let repoMount: string | undefined;
const savedTmp = process.env.TMPDIR;

beforeAll(() => {
  // Everything the user touches lives below a directory it owns (the suite's TMPDIR is root's, 0700).
  base = mkdtempSync("/tmp/cratebox-podman-");
  chmodSync(base, 0o755);
  process.env.TMPDIR = base;
  cratebox = path.join(ROOT, "bin/cratebox");
  // A checkout the user cannot reach (under /root): the test shows it to the user read-only.
  if (spawnSync("runuser", ["-u", USER, "--", "test", "-r", path.join(ROOT, "dist/cli/cratebox.js")]).status !== 0) {
    repoMount = path.join(base, "cratebox");
    mkdirSync(repoMount);
    execFileSync("mount", ["--bind", ROOT, repoMount]);
    execFileSync("mount", ["-o", "remount,bind,ro", repoMount]);
    cratebox = path.join(repoMount, "bin/cratebox");
  }
});

afterAll(() => {
  if (repoMount) spawnSync("umount", [repoMount]);
  process.env.TMPDIR = savedTmp;
  rmSync(base, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  output: string;
}

/** `cmd args` as the user, with exactly `env` (HOME, XDG_RUNTIME_DIR, the toolchain on PATH). */
async function asUser(cmd: string, args: string[], cwd: string, env: Record<string, string>): Promise<Run> {
  execFileSync("chown", ["-R", `${uid}:${gid}`, base]);
  const pairs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const res = await execa("runuser", ["-u", USER, "--", "env", "-i", ...pairs, cmd, ...args], {
    cwd,
    reject: false,
    all: true,
    timeout: 300_000,
    stdin: "ignore",
  });
  return { code: res.exitCode ?? -1, stdout: res.stdout, stderr: res.stderr, output: res.all ?? "" };
}

function userHome(): { home: string; env: Record<string, string> } {
  const home = mkdtempSync(path.join(base, "home-"));
  mkdirSync(path.join(home, ".cargo"));
  return {
    home,
    env: {
      HOME: home,
      CARGO_HOME: path.join(home, ".cargo"),
      XDG_CACHE_HOME: path.join(home, ".cache"),
      XDG_RUNTIME_DIR: runtimeDir,
      PATH: `${TOOLCHAIN}/bin:/usr/bin:/bin`,
      CARGO_TERM_COLOR: "never",
    },
  };
}

async function listen(): Promise<{ address: string; connections: () => number; data: () => string; close: () => Promise<void> }> {
  let connections = 0;
  let data = "";
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    connections++;
    sockets.add(s);
    s.setTimeout(10_000, () => s.destroy());
    s.on("data", (d) => (data += d.toString("utf8")));
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
  });
  server.maxConnections = 20;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as { port: number }).port;
  return {
    address: `127.0.0.1:${port}`,
    connections: () => connections,
    data: () => data,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function results(target: string): Map<string, string> {
  const build = path.join(target, "debug/build");
  const loot = readdirSync(build)
    .filter((d) => d.startsWith("evil-build-"))
    .map((d) => path.join(build, d, "out/loot.txt"))
    .find((f) => existsSync(f));
  expect(loot, "the armed build script did not run").toBeDefined();
  const map = new Map<string, string>([["<owner>", String(statSync(loot!).uid)]]);
  for (const line of readFileSync(loot!, "utf8").split("\n")) {
    const at = line.indexOf(" => ");
    if (at > 0) map.set(line.slice(0, at), line.slice(at + 4));
  }
  return map;
}

describe("a non-root user on rootless Podman", () => {
  it("a hostile build script steals, connects and writes under plain cargo; under cratebox nothing, and OUT_DIR is the user's", async () => {
    const side = async (mode: "plain" | "boxed") => {
      const registry = makeRegistry(["evil-build-0.1.0"]);
      const ws = makeWorkspace({ registry: registry.dir, dependencies: ['evil-build = "0.1"'] });
      const { home, env } = userHome();
      const secret = `cio-cred-${rand()}`;
      const token = `ghp_${rand()}`;
      writeFileSync(path.join(home, ".cargo/credentials.toml"), `[registry]\ntoken = "${secret}"\n`);
      writeFileSync(path.join(home, ".bashrc"), "# ~/.bashrc\n");
      const listener = await listen();
      const mark = `tampered-${rand()}`;
      const daemon = `cratebox-daemon-${rand()}`;
      const victims = [path.join(ws, "src/main.rs"), path.join(home, ".bashrc")];
      const plan = [
        `read ${path.join(home, ".cargo/credentials.toml")}`,
        "env GITHUB_TOKEN",
        `connect ${listener.address} exfil-${mark}`,
        `unix ${socket}`,
        ...victims.map((f) => `write ${f} ${f.endsWith(".rs") ? "//" : "#"} ${mark}`),
        `daemon ${daemon}`,
        "netifs",
      ];
      writeFileSync(path.join(registry.crate("evil-build"), "cratebox-attack.txt"), `${plan.join("\n")}\n`);
      const before = new Map(victims.map((f) => [f, readFileSync(f)]));
      const target = path.join(ws, "target");
      const args = ["build", "-vv", "--target-dir", target];
      const run =
        mode === "plain"
          ? await asUser(`${TOOLCHAIN}/bin/cargo`, args, ws, { ...env, GITHUB_TOKEN: token })
          : await asUser(cratebox, ["--backend", "docker", "cargo", ...args], ws, { ...env, GITHUB_TOKEN: token });
      const alive = processesWith(daemon);
      killAll(daemon);
      await listener.close();
      return { run, got: results(target), secret, token, listener, mark, plan, victims, before, alive };
    };

    const p = await side("plain");
    expect(p.run.code, p.run.output).toBe(0);
    expect(p.got.get(p.plan[0]!)).toContain(p.secret);
    expect(p.got.get("env GITHUB_TOKEN")).toBe(`OK ${p.token}`);
    expect(p.listener.data()).toContain(`exfil-${p.mark}`);
    expect(p.got.get(`unix ${socket}`)).toMatch(/^OK connected/); // the user's own engine, from a build script
    for (const f of p.victims) expect(readFileSync(f, "utf8")).toContain(p.mark);
    expect(p.alive.length, "the daemon did not outlive plain cargo").toBeGreaterThan(0);

    const b = await side("boxed");
    expect(b.run.code, b.run.output).toBe(0);
    expect(b.run.stderr).toMatch(/1 build script sandboxed, all passed/);
    for (const line of b.plan.filter((l) => !/^(daemon|netifs)/.test(l))) expect(b.got.get(line), line).toMatch(/^ERR /);
    expect(b.got.get("netifs")).toBe("OK [lo]");
    expect(b.run.output).not.toContain(b.secret);
    expect(b.run.output).not.toContain(b.token);
    expect(b.listener.connections()).toBe(0);
    for (const [f, bytes] of b.before) expect(readFileSync(f).equals(bytes), `${f} changed`).toBe(true);
    expect(b.got.get(`daemon ${b.plan.find((l) => l.startsWith("daemon "))!.slice(7)}`)).toMatch(/^OK .* running/);
    expect(b.alive, "a process of the build script outlived cratebox").toEqual([]);
    // What the build script wrote into OUT_DIR belongs to the user, not to a subordinate uid.
    expect(b.got.get("<owner>")).toBe(String(uid));
  });

  it("doctor names the engine as rootless Podman and proves what it enforces", async () => {
    const { env } = userHome();
    const res = await asUser(cratebox, ["doctor"], base, env);
    expect(res.stdout).toMatch(new RegExp(`^ok {3}engine: Podman \\S+, rootless, at unix://${socket}, cgroup v\\d`, "m"));
    expect(res.stdout).toMatch(/^ok {3}podman network limit: network interfaces inside: lo$/m);
    // Rootless containers get cgroup limits only on cgroup v2 with delegation: on v1 they are
    // accepted and ignored, and the probes say so (doctor then exits 1).
    if (statSync("/sys/fs/cgroup/pids", { throwIfNoEntry: false })) {
      expect(res.stdout).toMatch(/^FAIL podman pids limit: asked for 40 processes under a limit of 16, the sandbox held \d+$/m);
      expect(res.stdout).toMatch(/^FAIL podman memory limit: allocating 512 MiB under a 64 MiB limit ended with exit code 0, not killed$/m);
      expect(res.code).toBe(1);
    } else expect(res.stdout).toMatch(/^(ok {3}|FAIL )podman pids limit: /m);
  });

  it("builds real crates (C through cc, zlib through pkg-config) to the same program as plain cargo", async () => {
    const registry = makeRegistry(["cc-demo-0.1.0"]);
    const main =
      'fn main() { let v = unsafe { std::ffi::CStr::from_ptr(libz_sys::zlibVersion()) }; println!("{} {}", cc_demo::mix(2, 3), v.to_string_lossy()); }\n';
    const ws = makeWorkspace({ registry: registry.dir, dependencies: ['cc-demo = "0.1"', 'libz-sys = "1"'], files: { "src/main.rs": main } });
    const { env } = userHome();
    const plain = await asUser(`${TOOLCHAIN}/bin/cargo`, ["build", "--target-dir", path.join(ws, "plain")], ws, env);
    expect(plain.code, plain.output).toBe(0);
    const boxed = await asUser(cratebox, ["--backend", "docker", "cargo", "build", "--target-dir", path.join(ws, "boxed")], ws, env);
    expect(boxed.code, boxed.output).toBe(0);
    expect(boxed.stderr).toMatch(/cratebox: \d+ rustc calls and \d+ build scripts sandboxed, all passed/);
    const run = (dir: string) => execFileSync(path.join(ws, dir, "debug/app"), { encoding: "utf8", env: {} });
    expect(run("boxed")).toBe(run("plain"));
    expect(run("boxed")).toMatch(/^65 1\.\d+/);
    for (const f of readdirSync(path.join(ws, "boxed/debug/build"), { recursive: true, encoding: "utf8" }))
      expect(statSync(path.join(ws, "boxed/debug/build", f)).uid, f).toBe(uid);
  });
});
