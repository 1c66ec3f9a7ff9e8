/**
 * The native front (issue 13, native/client/src/bin/cratebox-front.rs): a build whose start Node
 * recorded in a ticket runs without Node until cargo's first step. What it may never do: run a
 * build script bare, replay a start Node would now decide otherwise, or leave anything behind.
 * Each test reads the front's own account (CRATEBOX_FRONT_LOG) to know which way the run went.
 */
import { chmodSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { execa } from "execa";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CRATEBOX, cratebox, makeFakeHome, plainCargo, testEnv } from "../helpers/run.ts";
import { makeRegistry, makeWorkspace, tempDir } from "../helpers/workspace.ts";

/** A build script that tries to read a file the test plants in its throwaway home. */
const buildRs = (secret: string) => `
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=input.txt");
    let secret = std::fs::read_to_string(${JSON.stringify(secret)}).unwrap_or_else(|_| "<unreadable>".into());
    let input = std::fs::read_to_string("input.txt").unwrap_or_default();
    // What it holds beyond its standard streams and this listing (nothing of cratebox's or its caller's may reach it).
    let mut held: Vec<String> = std::fs::read_dir("/proc/self/fd").map(|d| d.flatten().filter_map(|e| {
        let fd: u32 = e.file_name().to_str()?.parse().ok()?;
        let to = std::fs::read_link(e.path()).ok()?.to_string_lossy().into_owned();
        (fd > 2 && !to.starts_with("/proc/")).then(|| format!("{fd}"))
    }).collect()).unwrap_or_default();
    held.sort();
    let out = std::env::var("OUT_DIR").unwrap();
    std::fs::write(format!("{out}/gen.rs"), format!("pub const SECRET: &str = {:?}; pub const INPUT: &str = {:?}; pub const HELD: &str = {:?};", secret.trim(), input.trim(), held.join(","))).unwrap();
}
`;
const MAIN_RS = `include!(concat!(env!("OUT_DIR"), "/gen.rs"));
fn main() { println!("secret={SECRET} input={INPUT} held={HELD}"); }
`;

/** A descriptor the caller leaves open (as a shell, a CI runner or make's jobserver may). */
const LEFT_OPEN = 200;

/**
 * Until a file written now is older than the stamps' 2 s of doubt: a start that read a file
 * changed within them gets no ticket (runtime/start-inputs.ts).
 */
const settled = () => new Promise((r) => setTimeout(r, 2100));

/** cratebox's own lines of a run's output. */
const ownLines = (output: string) => output.split("\n").filter((l) => l.startsWith("cratebox:"));

describe("the native front", () => {
  const registry = makeRegistry();
  const fake = makeFakeHome();
  const secretFile = path.join(fake.home, ".cargo/credentials.toml");
  let ws: string;
  let frontLog: string;
  const env = (extra: Record<string, string> = {}) => testEnv(fake, { CRATEBOX_FRONT_LOG: frontLog, ...extra });
  /** The front's account of the last run. */
  const lastWay = () => readFileSync(frontLog, "utf8").trim().split("\n").at(-1) ?? "";
  const program = () => execFileSync(path.join(ws, "target/debug/app"), { encoding: "utf8" }).trim();
  const build = async (extra: Record<string, string> = {}) => {
    writeFileSync(frontLog, "");
    return cratebox(["build"], ws, env(extra));
  };

  beforeAll(async () => {
    writeFileSync(secretFile, "planted-secret\n");
    ws = makeWorkspace({ registry: registry.dir, files: { "build.rs": buildRs(secretFile), "src/main.rs": MAIN_RS, "input.txt": "one\n" } });
    frontLog = path.join(tempDir(), "front.log");
    await settled();
  });

  it("replays a no-op build without Node, saying what Node says", async () => {
    const first = await build();
    expect(first.code, first.output).toBe(0);
    expect(lastWay()).toMatch(/^node: /);
    expect(program()).toBe("secret=<unreadable> input=one held=");
    const byNode = await build({ ANOTHER_RUN: "1" }); // another environment: Node's way
    expect(byNode.code, byNode.output).toBe(0);
    expect(lastWay()).toMatch(/^node: (the environment changed|no ticket)$/);
    await build(); // Node again (the environment changed back), with a ticket for this one

    const noop = await build();
    expect(noop.code, noop.output).toBe(0);
    expect(lastWay()).toBe("front: no step; exit 0");
    expect(ownLines(noop.output)).toEqual(ownLines(byNode.output));
    expect(ownLines(noop.output)).toEqual(["cratebox: nothing sandboxed: cargo ran no compiler, build script or binary"]);
  });

  it("hands the run to Node when a step comes: the build script runs in the sandbox", async () => {
    await build(); // the ticket of this very run
    writeFileSync(path.join(ws, "input.txt"), "two\n");
    const res = await build();
    expect(res.code, res.output).toBe(0);
    expect(readFileSync(frontLog, "utf8")).toContain("front: node adopted the run");
    expect(res.output).toContain("1 build script sandboxed");
    expect(program()).toBe("secret=<unreadable> input=two held=");
  });

  it("leaves a build script plain cargo compiled to Node, which puts it behind the sandbox", async () => {
    await build();
    expect(lastWay()).toBe("front: no step; exit 0");
    // Plain cargo compiles the build script anew and runs it bare: the attack works there.
    utimesSync(path.join(ws, "build.rs"), new Date(), new Date());
    const plain = await plainCargo(["build"], ws, testEnv(fake));
    expect(plain.code, plain.output).toBe(0);
    expect(program()).toMatch(/^secret=planted-secret input=two held=/);
    // The next run must not let cargo rerun that binary: the front hands over before cargo starts.
    writeFileSync(path.join(ws, "input.txt"), "three\n");
    const res = await build();
    expect(res.code, res.output).toBe(0);
    expect(program()).toBe("secret=<unreadable> input=three held=");
    expect(lastWay()).toMatch(/^node: .*build_script_build-[0-9a-f]{16} is not cratebox's shim$/);
    expect(res.output).toContain("put 1 build script(s) compiled outside cratebox behind the sandbox");
  });

  it("keeps a descriptor its caller left open out of the sandbox, through the front and through Node", async () => {
    // Plain cargo hands it to the build script (compiled anew: the shim refuses plain cargo).
    writeFileSync(path.join(ws, "input.txt"), "four\n");
    utimesSync(path.join(ws, "build.rs"), new Date(), new Date());
    const fifo = path.join(tempDir(), "left-open");
    execFileSync("mkfifo", [fifo]);
    // As a shell that opened a descriptor and did not close it before running the command.
    const leavingOpen = (file: string, args: string[], extra: Record<string, string> = {}) =>
      execa("bash", ["-c", `exec ${LEFT_OPEN}<>"$0"; exec "$@"`, fifo, file, ...args], {
        cwd: ws,
        env: env(extra),
        extendEnv: false,
        reject: false,
        all: true,
        stdin: "ignore",
      });
    await leavingOpen("cargo", ["build"]);
    expect(program().split("held=")[1]?.split(",")).toContain(String(LEFT_OPEN));
    for (const extra of [{}, { THROUGH_NODE: "1" }]) {
      await build(extra); // a ticket for this environment
      writeFileSync(path.join(ws, "input.txt"), `five${Object.keys(extra).length}\n`);
      writeFileSync(frontLog, "");
      const res = await leavingOpen(CRATEBOX, ["cargo", "build"], extra);
      expect(res.exitCode, res.all).toBe(0);
      expect(program()).toBe(`secret=<unreadable> input=five${Object.keys(extra).length} held=`);
    }
  });

  it("takes no ticket that starts anything but cargo with cratebox's own wrappers, nor one others may write", async () => {
    await build();
    await build();
    expect(lastWay()).toBe("front: no step; exit 0");
    const dir = path.join(fake.home, ".cache/cratebox/tickets");
    const [name] = readdirSync(dir).filter((n) => /^[0-9a-f]{16}$/.test(n) && readFileSync(path.join(dir, n), "utf8").includes(`\0cwd\0${ws}\0`));
    const file = path.join(dir, name!);
    const good = readFileSync(file, "utf8");
    const forged: [string, string, RegExp][] = [
      ["\0cargo\0cargo\0", "\0cargo\0/bin/sh\0", /^node: the ticket names another cargo$/],
      ["\0set\0RUSTC_WRAPPER\0", "\0set\0RUSTC_WRAPPER\0/tmp/elsewhere\0set\0X\0", /^node: the ticket sets (RUSTC_WRAPPER|X) otherwise$/],
      ["\0end\0", "\0unset\0RUSTC_WRAPPER\0end\0", /^node: the ticket unsets RUSTC_WRAPPER$/],
    ];
    try {
      for (const [from, to, why] of forged) {
        expect(good).toContain(from);
        writeFileSync(file, good.replace(from, to), { mode: 0o600 });
        const res = await build();
        expect(res.code, res.output).toBe(0);
        expect(lastWay()).toMatch(why);
      }
      writeFileSync(file, good);
      chmodSync(file, 0o620); // another may write it
      await build();
      expect(lastWay()).toBe("node: no ticket");
    } finally {
      writeFileSync(file, good);
      chmodSync(file, 0o600);
    }
  });

  it("does not replay a start once a file it was decided from changed", async () => {
    await build();
    await build();
    expect(lastWay()).toBe("front: no step; exit 0");
    const profile = path.join(ws, "cratebox.toml");
    writeFileSync(profile, "[crates.app]\nnetwork = maybe\n");
    try {
      const res = await build();
      expect(lastWay()).toBe(`node: ${profile} changed`);
      expect(res.code, res.output).toBe(2);
      expect(res.output).toContain("cratebox.toml");
    } finally {
      rmSync(profile);
    }
  });
});

describe("the native front on Ctrl-C", () => {
  it("stops cargo, exits 130 and leaves no run directory", async () => {
    const fake = makeFakeHome();
    const ws = makeWorkspace({ registry: makeRegistry().dir });
    const frontLog = path.join(tempDir(), "front.log");
    const armed = path.join(tempDir(), "armed");
    // A cargo that answers `metadata` and, once armed, hangs in `build` (as a slow cargo would).
    const slowCargo = path.join(tempDir(), "slow-cargo");
    writeFileSync(slowCargo, `#!/bin/sh\n[ "$1" = build ] && [ -e ${armed} ] && exec sleep 60\nexec cargo "$@"\n`, { mode: 0o755 });
    const tmp = tempDir("cratebox-tmp-");
    const env = testEnv(fake, { CRATEBOX_FRONT_LOG: frontLog, CARGO: slowCargo, TMPDIR: tmp });
    await settled();
    const first = await cratebox(["build"], ws, env);
    expect(first.code, first.output).toBe(0);
    writeFileSync(armed, "");
    const run = execa(CRATEBOX, ["cargo", "build"], { cwd: ws, env, extendEnv: false, reject: false, stdin: "ignore" });
    // Until the front has started cargo.
    for (let i = 0; i < 200 && !readFileSync(frontLog, "utf8").includes("front: cargo started"); i++) await new Promise((r) => setTimeout(r, 50));
    expect(readFileSync(frontLog, "utf8")).toContain("front: cargo started");
    run.kill("SIGINT");
    const res = await run;
    expect(res.exitCode).toBe(130);
    expect(readdirSync(tmp).filter((n) => n.startsWith("cratebox-"))).toEqual([]);
  });
});
