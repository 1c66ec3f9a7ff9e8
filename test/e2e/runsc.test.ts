/**
 * gVisor (`runtime = "runsc"`, registered with the engine by scripts/setup): the hostile build
 * script (test/fixtures/crates/evil-build-0.1.0) and a real-crate build with every step under
 * runsc. The attacks assert the same observable effects as test/e2e/attacks.test.ts (secrets not
 * read, listeners never connected, planted files unchanged, no daemon left, bombs ended at their
 * limits); the combined plan also runs under plain cargo first, where it must work. Each boxed
 * side proves it ran inside gVisor: its kernel is gVisor's (`/proc/version`), not the host's.
 * Under runsc the bwrap backend hands the step to the engine (SandboxRouter).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { reportSchema, type Report } from "../../src/core/report.ts";
import { cratebox, makeFakeHome, plainCargo, testEnv, type RunResult } from "../helpers/run.ts";
import { killAll, processesWith } from "../helpers/processes.ts";
import { makeRegistry, makeWorkspace, tempDir } from "../helpers/workspace.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await Promise.resolve(fn()).catch(() => {});
});
const track = (dir: string) => {
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};
const rand = () => randomBytes(10).toString("hex");
const HOST_KERNEL = readFileSync("/proc/version", "utf8").trim();
const UNDER_RUNSC = '[build.evil-build]\nruntime = "runsc"\n';

// ---- one side: its own registry copy, workspace, fake HOME, target ----------------------------

interface Side {
  ws: string;
  crateDir: string;
  home: string;
  cargoHome: string;
  targetDir: string;
  reportFile: string;
  env: Record<string, string>;
  secrets: { credentials: string; sshKey: string; token: string };
}

function side(profile: string): Side {
  const registry = makeRegistry(["evil-build-0.1.0"]);
  track(registry.dir);
  const ws = track(makeWorkspace({ registry: registry.dir, dependencies: ['evil-build = "0.1"'], files: { "cratebox.toml": `version = 1\n${profile}` } }));
  const fake = makeFakeHome();
  track(fake.home);
  const secrets = { credentials: `cio-cred-${rand()}`, sshKey: `ssh-key-${rand()}`, token: `ghp_${rand()}` };
  writeFileSync(path.join(fake.cargoHome, "credentials.toml"), `[registry]\ntoken = "${secrets.credentials}"\n`);
  mkdirSync(path.join(fake.home, ".ssh"), { mode: 0o700 });
  writeFileSync(path.join(fake.home, ".ssh/id_ed25519"), `${secrets.sshKey}\n`, { mode: 0o600 });
  writeFileSync(path.join(fake.home, ".bashrc"), "# ~/.bashrc\n");
  const tmp = track(tempDir("cratebox-runsc-"));
  return {
    ws,
    crateDir: registry.crate("evil-build"),
    home: fake.home,
    cargoHome: fake.cargoHome,
    targetDir: path.join(tmp, "target"),
    reportFile: path.join(tmp, "report.json"),
    env: testEnv(fake, { GITHUB_TOKEN: secrets.token }),
    secrets,
  };
}

function arm(s: Side, plan: string[]): void {
  writeFileSync(path.join(s.crateDir, "cratebox-attack.txt"), `${plan.join("\n")}\n`);
}

async function build(s: Side, mode: "plain" | "boxed", crateboxArgs: string[] = []): Promise<RunResult> {
  const args = ["build", "-vv", "--target-dir", s.targetDir];
  return mode === "plain" ? plainCargo(args, s.ws, s.env) : cratebox(args, s.ws, s.env, ["--report", s.reportFile, ...crateboxArgs]);
}

/** The loot file's text, or "" when the script never got to write it. */
function lootText(s: Side): string {
  const buildDir = path.join(s.targetDir, "debug/build");
  if (!existsSync(buildDir)) return "";
  const file = readdirSync(buildDir)
    .filter((d) => d.startsWith("evil-build-"))
    .map((d) => path.join(buildDir, d, "out/loot.txt"))
    .find((f) => existsSync(f));
  return file ? readFileSync(file, "utf8") : "";
}

function results(s: Side): Map<string, string> {
  const text = lootText(s);
  expect(text, "the armed build script did not run").toMatch(/^armed => OK/m);
  const map = new Map<string, string>();
  for (const line of text.split("\n")) {
    const at = line.indexOf(" => ");
    if (at > 0) map.set(line.slice(0, at), line.slice(at + 4));
  }
  return map;
}

function evilStep(s: Side): Report["steps"][number] {
  const step = reportSchema.parse(JSON.parse(readFileSync(s.reportFile, "utf8"))).steps.find((x) => x.crate === "evil-build" && x.phase === "build-script");
  expect(step).toBeDefined();
  return step!;
}

async function listen(host: "127.0.0.1" | "::1"): Promise<{ address: string; connections: () => number; data: () => string }> {
  let connections = 0;
  let data = "";
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    connections++;
    sockets.add(sock);
    sock.setTimeout(10_000, () => sock.destroy());
    sock.on("data", (d) => (data += d.toString("utf8")));
    sock.on("error", () => {});
    sock.on("close", () => sockets.delete(sock));
  });
  server.maxConnections = 20;
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  const port = (server.address() as { port: number }).port;
  return { address: host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`, connections: () => connections, data: () => data };
}

// ---- the tests --------------------------------------------------------------------------------

describe('a hostile build script under gVisor (runtime = "runsc")', () => {
  it("steals nothing, reaches no listener or socket, changes no file and leaves no daemon; plain cargo lets it do all of that", async () => {
    const plan = async (s: Side) => {
      const [v4, v6] = await Promise.all([listen("127.0.0.1"), listen("::1")]);
      const mark = `tampered-${rand()}`;
      const daemon = `cratebox-daemon-${rand()}`;
      cleanups.push(() => killAll(daemon));
      const victims = [path.join(s.ws, "src/main.rs"), path.join(s.crateDir, "src/lib.rs"), path.join(s.home, ".bashrc")];
      const lines = [
        `read ${path.join(s.cargoHome, "credentials.toml")}`,
        `read ${path.join(s.home, ".ssh/id_ed25519")}`,
        "env GITHUB_TOKEN",
        `connect ${v4.address} exfil-${mark}`,
        `connect ${v6.address} exfil-${mark}`,
        "unix /var/run/docker.sock",
        ...victims.map((f) => `write ${f} ${f.endsWith(".rs") ? "//" : "#"} ${mark}`),
        `daemon ${daemon}`,
        "read /proc/version",
        "netifs",
      ];
      arm(s, lines);
      return { v4, v6, mark, daemon, victims, lines };
    };

    const p = side(UNDER_RUNSC);
    const pp = await plan(p);
    const pr = await build(p, "plain");
    const pAlive = processesWith(pp.daemon);
    killAll(pp.daemon);
    expect(pr.code, pr.output).toBe(0);
    const pl = results(p);
    expect(pl.get(pp.lines[0]!)).toContain(p.secrets.credentials);
    expect(pl.get(pp.lines[1]!)).toContain(p.secrets.sshKey);
    expect(pl.get("env GITHUB_TOKEN")).toBe(`OK ${p.secrets.token}`);
    await expect.poll(() => pp.v4.data() + pp.v6.data(), { timeout: 5_000 }).toContain(`exfil-${pp.mark}\nexfil-${pp.mark}`);
    expect(pl.get("unix /var/run/docker.sock")).toMatch(/^OK connected/);
    for (const f of pp.victims) expect(readFileSync(f, "utf8")).toContain(pp.mark);
    expect(pAlive.length, "the daemon did not outlive plain cargo").toBeGreaterThan(0);
    expect(pl.get("read /proc/version")).toBe(`OK ${HOST_KERNEL}\\n`);

    const b = side(UNDER_RUNSC);
    const bp = await plan(b);
    const before = new Map(bp.victims.map((f) => [f, readFileSync(f)]));
    const br = await build(b, "boxed");
    const bAlive = processesWith(bp.daemon);
    expect(br.code, br.output).toBe(0);
    const bl = results(b);
    // Inside gVisor: its own kernel (the host's is not even visible), loopback only.
    expect(bl.get("read /proc/version")).toMatch(/^OK Linux version 4\.4\.0/);
    expect(bl.get("read /proc/version")).not.toContain(HOST_KERNEL);
    expect(bl.get("netifs")).toBe("OK [lo]");
    for (const line of bp.lines.filter((l) => !/^(daemon|read \/proc|netifs)/.test(l))) expect(bl.get(line), line).toMatch(/^ERR /);
    for (const secret of Object.values(b.secrets)) {
      expect(lootText(b)).not.toContain(secret);
      expect(br.output).not.toContain(secret);
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(bp.v4.connections() + bp.v6.connections()).toBe(0);
    for (const [f, bytes] of before) expect(readFileSync(f).equals(bytes), `${f} changed`).toBe(true);
    expect(bl.get(`daemon ${bp.daemon}`)).toMatch(/^OK .* running/);
    expect(bAlive, "a process of the build script outlived cratebox").toEqual([]);
    const step = evilStep(b);
    expect(step.containerId).toMatch(/^[0-9a-f]{64}$/); // the engine ran it, not bwrap
    expect(step.grant.items).toContainEqual(expect.objectContaining({ key: "runtime", value: "runsc" }));
  });

  it("a fork bomb, a memory bomb and an endless loop end at their limits", async () => {
    const fork = side(UNDER_RUNSC);
    arm(fork, ["fork 200"]);
    const f = await build(fork, "boxed", ["--pids", "64"]);
    expect(f.code).not.toBe(0);
    // gVisor's own host threads meet the cgroup's limit first: the whole sandbox ends there.
    expect(lootText(fork)).not.toMatch(/^fork 200 => OK/m);
    expect(f.output).toMatch(/^cratebox: .*evil-build 0\.1\.0.*process limit of 64/m);

    const mem = side(UNDER_RUNSC);
    arm(mem, ["alloc 1024"]);
    const m = await build(mem, "boxed", ["--memory", "256MiB"]);
    expect(m.code).not.toBe(0);
    expect(lootText(mem)).not.toMatch(/^alloc 1024 => /m);
    expect(m.output).toMatch(/^cratebox: .*evil-build 0\.1\.0 was killed: memory limit of 256 MiB/m);

    const spin = side(UNDER_RUNSC);
    arm(spin, ["spin 120"]);
    const started = Date.now();
    const t = await build(spin, "boxed", ["--timeout", "3s"]);
    expect(t.code).not.toBe(0);
    expect(t.output).toMatch(/^cratebox: .*evil-build 0\.1\.0 was killed: time limit of 3s/m);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(evilStep(spin).cause).toBe("timeout");
  });

  it("reaches a listed host through the egress proxy and nothing else; network = true is refused up front, naming the way out", async () => {
    const secret = `hello-${rand()}`;
    const requests: string[] = [];
    const site = createHttpServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.end(secret);
    });
    site.maxConnections = 20;
    await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => site.close(() => resolve())));
    const port = (site.address() as { port: number }).port;
    const other = await listen("127.0.0.1");
    const get = `http-get http://127.0.0.1:${port}/hello`;
    const direct = `connect ${other.address} exfil`;

    const s = side(`[build.evil-build]\nruntime = "runsc"\nnetwork = ["127.0.0.1:${port}"]\n`);
    arm(s, [get, direct, "read /proc/version"]);
    const r = await build(s, "boxed");
    expect(r.code, r.output).toBe(0);
    const got = results(s);
    expect(got.get("read /proc/version")).toMatch(/^OK Linux version 4\.4\.0/);
    expect(got.get(get)).toBe(`OK HTTP/1.1 200 OK body=${secret}`);
    expect(got.get(direct)).toMatch(/^ERR /);
    expect(requests).toEqual(["GET /hello"]);
    expect(other.connections()).toBe(0);
    expect(evilStep(s).egress.map((e) => [e.method, e.decision])).toEqual([["GET", "allowed"]]);

    const full = side('[build.evil-build]\nruntime = "runsc"\nnetwork = true\n');
    arm(full, ["netifs"]);
    const f = await build(full, "boxed");
    expect(f.code).toBe(101);
    expect(f.stderr).toContain("this step cannot run under runsc: it asks for full network (network = true) under runsc");
    expect(f.stderr).toContain('grant the hosts it needs instead (network = ["host:port"]');
    expect(lootText(full)).toBe("");
  });
});

describe('a real-crate build with every step under runsc ([defaults] runtime = "runsc")', () => {
  it("builds C through the cc crate and links a pkg-config library, the same as plain cargo", async () => {
    const registry = makeRegistry(["cc-demo-0.1.0"]);
    track(registry.dir);
    const main =
      'fn main() { let v = unsafe { std::ffi::CStr::from_ptr(libz_sys::zlibVersion()) }; println!("{} {}", cc_demo::mix(2, 3), v.to_string_lossy()); }\n';
    const ws = track(
      makeWorkspace({
        registry: registry.dir,
        dependencies: ['cc-demo = "0.1"', 'libz-sys = "1"'],
        files: { "src/main.rs": main, "cratebox.toml": 'version = 1\n[defaults]\nruntime = "runsc"\n' },
      }),
    );
    const fake = makeFakeHome();
    track(fake.home);
    const tmp = track(tempDir("cratebox-runsc-real-"));
    const env = testEnv(fake);
    const plain = await plainCargo(["build", "--target-dir", path.join(tmp, "plain")], ws, env);
    expect(plain.code, plain.output).toBe(0);
    const reportFile = path.join(tmp, "report.json");
    const boxed = await cratebox(["build", "--target-dir", path.join(tmp, "boxed")], ws, env, ["--report", reportFile]);
    expect(boxed.code, boxed.output).toBe(0);
    const run = (dir: string) => execFileSync(path.join(tmp, dir, "debug/app"), { encoding: "utf8", env: {} });
    expect(run("boxed")).toBe(run("plain"));
    expect(run("boxed")).toMatch(/^65 1\.\d+/);
    const steps = reportSchema.parse(JSON.parse(readFileSync(reportFile, "utf8"))).steps;
    expect(steps.filter((x) => x.phase === "build-script").map((x) => x.crate)).toEqual(expect.arrayContaining(["cc-demo", "libz-sys"]));
    expect(steps.filter((x) => x.phase === "rustc").map((x) => x.crate)).toEqual(expect.arrayContaining(["app", "cc-demo", "libz-sys"]));
    for (const step of steps) {
      expect(step.containerId, step.crate).toMatch(/^[0-9a-f]{64}$/);
      expect(step.grant.items, step.crate).toContainEqual(expect.objectContaining({ key: "runtime", value: "runsc" }));
    }
  });
});
