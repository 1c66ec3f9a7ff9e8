/**
 * Cargo stays in charge: fingerprints, no-op rebuilds, rerun-if-* triggers, a user's own
 * RUSTC_WRAPPER, and a target/ shared with plain cargo in both directions.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { execa } from "execa";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { cratebox, makeFakeHome, plainCargo, testEnv } from "../helpers/run.ts";
import { makeRegistry, makeWorkspace, ROOT, tempDir } from "../helpers/workspace.ts";

// Reports where it ran (HOME inside the sandbox is /home/cratebox) and what FOO it saw.
const BUILD_RS = `
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=input.txt");
    println!("cargo:rerun-if-env-changed=FOO");
    let home = std::env::var("HOME").unwrap_or_default();
    let foo = std::env::var("FOO").unwrap_or_else(|_| "<unset>".into());
    let input = std::fs::read_to_string("input.txt").unwrap_or_default();
    let out = std::env::var("OUT_DIR").unwrap();
    std::fs::write(format!("{out}/gen.rs"), format!("pub const RAN_IN: &str = {home:?}; pub const FOO: &str = {foo:?}; pub const INPUT: &str = {:?};", input.trim())).unwrap();
}
`;
const MAIN_RS = `include!(concat!(env!("OUT_DIR"), "/gen.rs"));
fn main() { println!("ran_in={RAN_IN} foo={FOO} input={INPUT}"); }
`;

interface Report {
  steps: { crate: string; phase: string; ok: boolean }[];
}

describe("rebuilds under cratebox behave as under cargo", () => {
  const registry = makeRegistry();
  const fake = makeFakeHome();
  let ws: string;
  let reportFile: string;
  const env = (extra: Record<string, string> = {}) => testEnv(fake, extra);
  const boxed = async (extra: Record<string, string> = {}) => {
    const res = await cratebox(["build"], ws, env(extra), ["--report", reportFile]);
    const report = JSON.parse(readFileSync(reportFile, "utf8")) as Report;
    // The build scripts that ran (the compilations around them are counted apart).
    return { ...res, steps: report.steps.filter((s) => s.phase === "build-script") };
  };
  // The built program, run directly (`cargo run` would itself rebuild when the env differs).
  const program = async () => ({ stdout: execFileSync(path.join(ws, "target/debug/app"), { encoding: "utf8" }) });

  beforeAll(() => {
    ws = makeWorkspace({ registry: registry.dir, files: { "build.rs": BUILD_RS, "src/main.rs": MAIN_RS, "input.txt": "one\n" } });
    reportFile = path.join(tempDir(), "report.json");
  });

  it("runs the build script in the sandbox, then a no-op rebuild starts no container", async () => {
    const first = await boxed();
    expect(first.code, first.output).toBe(0);
    expect(first.steps.map((s) => s.crate)).toEqual(["app"]);
    expect((await program()).stdout).toContain("ran_in=/home/cratebox");

    const again = await boxed();
    expect(again.code).toBe(0);
    expect(again.steps).toEqual([]);
    expect(again.stderr).not.toMatch(/Compiling/);
    expect(again.stderr).toContain("nothing sandboxed: cargo ran no compiler, build script or binary");
  });

  it("reruns the build script in the sandbox when build.rs changes", async () => {
    writeFileSync(path.join(ws, "build.rs"), `${BUILD_RS}\n// edited\n`);
    const res = await boxed();
    expect(res.code, res.output).toBe(0);
    expect(res.steps.map((s) => s.crate)).toEqual(["app"]);
  });

  it("honours rerun-if-changed and rerun-if-env-changed (the variable itself stays withheld)", async () => {
    writeFileSync(path.join(ws, "input.txt"), "two\n");
    const changedFile = await boxed();
    expect(changedFile.steps).toHaveLength(1);
    expect((await program()).stdout).toContain("input=two");

    const changedEnv = await boxed({ FOO: "bar" });
    expect(changedEnv.steps).toHaveLength(1);
    // cargo reran it because FOO changed, but FOO is not granted: the sandbox does not pass it.
    expect((await program()).stdout).toContain("foo=<unset>");

    const same = await boxed({ FOO: "bar" });
    expect(same.steps).toHaveLength(0);
  });

  it("plain cargo on the same target/ stays fresh, and refuses to run a sandboxed script unsandboxed", async () => {
    const fresh = await plainCargo(["build"], ws, env({ FOO: "bar" }));
    expect(fresh.code).toBe(0);
    expect(fresh.stderr).not.toMatch(/Compiling/);

    const rerun = await plainCargo(["build"], ws, env({ FOO: "baz" }));
    expect(rerun.code).toBe(101);
    expect(rerun.stderr).toContain("was compiled under cratebox and runs only in its sandbox");

    const optOut = await plainCargo(["build"], ws, env({ FOO: "baz", CRATEBOX_ALLOW_UNSANDBOXED: "1" }));
    expect(optOut.code).toBe(0);
    expect((await program()).stdout).toContain("foo=baz");
    expect((await program()).stdout).not.toContain("/home/cratebox");
  });
});

describe("a target/ built by plain cargo first", () => {
  it("never runs the plain-built script unsandboxed under cratebox", async () => {
    const registry = makeRegistry();
    const fake = makeFakeHome();
    const ws = makeWorkspace({ registry: registry.dir, files: { "build.rs": BUILD_RS, "src/main.rs": MAIN_RS, "input.txt": "one\n" } });
    const reportFile = path.join(tempDir(), "report.json");
    const plain = await plainCargo(["build"], ws, testEnv(fake));
    expect(plain.code).toBe(0);

    // Fresh: nothing to run, but the plain binary is put behind the sandbox before cargo starts.
    const fresh = await cratebox(["build"], ws, testEnv(fake), ["--report", reportFile]);
    expect(fresh.code, fresh.output).toBe(0);
    expect(fresh.stderr).toContain("put 1 build script(s) compiled outside cratebox behind the sandbox");
    expect(fresh.stderr).not.toMatch(/Compiling/);

    // A rerun trigger now runs the script in the container, not on the host.
    const rerun = await cratebox(["build"], ws, testEnv(fake, { FOO: "x" }), ["--report", reportFile]);
    expect(rerun.code, rerun.output).toBe(0);
    const report = JSON.parse(readFileSync(reportFile, "utf8")) as Report;
    expect(report.steps.filter((s) => s.phase === "build-script").map((s) => s.crate)).toEqual(["app"]);
    expect(execFileSync(path.join(ws, "target/debug/app"), { encoding: "utf8" })).toContain("ran_in=/home/cratebox");
  });
});

describe("the `cargo metadata` bin/cratebox asks before Node starts", () => {
  // A stand-in cargo that notes each call: its subcommand, whether cratebox's hand-over
  // variables reached it, and which process started it (bin/cratebox's shell, or Node).
  const STAND_IN = (log: string) =>
    `#!/bin/sh\ncase $(readlink /proc/$PPID/exe) in */node) p=node ;; *) p=shell ;; esac\necho "$1 early=$(env | grep -c '^CRATEBOX_EARLY') parent=$p" >> ${log}\nexec cargo "$@"\n`;
  const setUp = (files: Record<string, string> = { "build.rs": BUILD_RS, "src/main.rs": MAIN_RS, "input.txt": "one\n" }) => {
    const registry = makeRegistry();
    const fake = makeFakeHome();
    const dir = tempDir();
    const tmp = path.join(dir, "tmp");
    mkdirSync(tmp);
    const log = path.join(dir, "cargo.log");
    const standIn = path.join(dir, "cargo");
    writeFileSync(standIn, STAND_IN(log), { mode: 0o755 });
    const ws = makeWorkspace({ registry: registry.dir, files });
    const env = testEnv(fake, { CARGO: standIn, TMPDIR: tmp });
    const calls = () => readFileSync(log, "utf8").trim().split("\n");
    return { ws, env, tmp, calls, fake, dir };
  };

  it("is this build's question: a relative --target-dir built by plain cargo is checked, and metadata is asked once", async () => {
    const { ws, env, tmp, calls, fake } = setUp();
    expect((await plainCargo(["build", "--target-dir", "out"], ws, testEnv(fake))).code).toBe(0);
    const res = await cratebox(["build", "--target-dir", "out"], ws, env);
    expect(res.code, res.output).toBe(0);
    // the answer told where plain cargo had put its build script: behind the sandbox now
    expect(res.stderr).toContain("put 1 build script(s) compiled outside cratebox behind the sandbox");
    const metadata = calls().filter((c) => c.startsWith("metadata"));
    expect(metadata).toHaveLength(1);
    expect(metadata[0]).toContain("parent=shell");
    // nothing cratebox started saw the hand-over, and its file is gone
    expect(calls().every((c) => c.includes("early=0"))).toBe(true);
    expect(readdirSync(tmp).filter((f) => f.startsWith("cratebox-early"))).toEqual([]);
  });

  it("for a test, also asks the rustc that names the host, once, in the shell", async () => {
    const { ws, env, calls, dir } = setUp({ "src/main.rs": "fn main() {}\n#[test]\nfn passes() {}\n" });
    expect((await cratebox(["test"], ws, env)).code).toBe(0);
    // A stand-in rustc that notes its calls the same way; the test binary is fresh now, so only
    // cratebox's question and cargo's probes reach it.
    const rustc = path.join(dir, "rustc");
    writeFileSync(rustc, STAND_IN(path.join(dir, "cargo.log")).replace("exec cargo", "exec rustc"), { mode: 0o755 });
    const res = await cratebox(["test"], ws, { ...env, RUSTC: rustc });
    expect(res.code, res.output).toBe(0);
    expect(res.stdout).toContain("test passes ... ok");
    expect(calls().filter((c) => c.startsWith("--print"))).toEqual(["--print early=0 parent=shell"]);
  });

  it("that fails is asked again by Node, which reports cargo's own words", async () => {
    const { ws, env, calls } = setUp({ "Cargo.toml": "[package]\nname = \n" });
    const res = await cratebox(["build"], ws, env);
    expect(res.code).toBe(101);
    expect(res.stderr).toContain("`cargo metadata` failed, so cratebox cannot tell where this build writes");
    expect(res.stderr).toMatch(/failed to parse manifest|invalid string|expected/);
    expect(
      calls()
        .filter((c) => c.startsWith("metadata"))
        .map((c) => c.replace(/^.* parent=/, "")),
    ).toEqual(["shell", "node"]);
  });

  it.each([
    ["named for another process", "1", "$PPID"],
    ["named for this process, but no child of it wrote it", "$$", "1"],
  ])("is not taken from a variable set by anyone else (a file %s), which removes no file", async (_, pid, job) => {
    const { ws, env, calls } = setUp();
    const dir = tempDir();
    // A valid answer, planted: taken, it would pass for cargo's (its metadata names no package).
    const answer = '{"packages":[],"workspace_members":[],"target_directory":"/nonexistent"}\n#cratebox-early 0\n';
    // The shell execs Node, so $$ is Node's pid: the variables can name the file for it.
    const script = `f=${dir}/cratebox-early-${pid}; printf '%s' '${answer}' > "$f"; chmod 600 "$f"; echo "$f" > ${dir}/planted
CRATEBOX_EARLY=$f CRATEBOX_EARLY_JOB=${job} CRATEBOX_EARLY_CARGO="$CARGO" exec "$0" "$@"`;
    const res = await execa("sh", ["-c", script, process.execPath, path.join(ROOT, "dist/cli/cratebox.js"), "cargo", "build"], {
      cwd: ws,
      env,
      extendEnv: false,
      reject: false,
      all: true,
      stdin: "ignore",
    });
    expect(res.exitCode, res.all).toBe(0);
    const planted = readFileSync(path.join(dir, "planted"), "utf8").trim();
    expect(readFileSync(planted, "utf8")).toBe(answer);
    expect(calls().filter((c) => c.startsWith("metadata"))).toEqual(["metadata early=0 parent=node"]);
  });
});

describe("a user's own RUSTC_WRAPPER", () => {
  const LOGGER = (log: string) => `#!/bin/sh\necho "$@" >> ${log}\nexec "$@"\n`;

  // A compilation runs in its own sandbox, without the user's wrapper (sccache's client could not
  // reach its server there); cargo's probes, which compile nothing, still go through it.
  it.each(["env", "config"])("is chained for cargo's probes; compilations run sandboxed without it (set through %s)", async (how) => {
    const registry = makeRegistry();
    const fake = makeFakeHome();
    const dir = tempDir();
    const log = path.join(dir, "wrapper.log");
    const wrapper = path.join(dir, "wrapper.sh");
    writeFileSync(wrapper, LOGGER(log), { mode: 0o755 });
    const ws = makeWorkspace({
      registry: registry.dir,
      dependencies: ['libc = "0.2"'],
      files: { "build.rs": BUILD_RS, "src/main.rs": MAIN_RS, "input.txt": "one\n" },
    });
    if (how === "config") {
      const cfg = path.join(ws, ".cargo/config.toml");
      writeFileSync(cfg, `${readFileSync(cfg, "utf8")}[build]\nrustc-wrapper = "${wrapper}"\n`);
    }
    const res = await cratebox(["build"], ws, testEnv(fake, how === "env" ? { RUSTC_WRAPPER: wrapper } : {}));
    expect(res.code, res.output).toBe(0);
    const calls = readFileSync(log, "utf8");
    expect(calls).toMatch(/rustc -vV/);
    expect(calls).not.toMatch(/--crate-name (build_script_build|libc|app)/);
    // every compilation and the build scripts (libc's and ours) ran in the sandbox
    expect(res.stderr).toMatch(/\d+ rustc calls and 2 build scripts sandboxed, all passed/);
  });
});

describe("timestamps", () => {
  it("a swapped build script keeps the compiled binary's mtime (cargo sees no change)", async () => {
    const registry = makeRegistry();
    const fake = makeFakeHome();
    const ws = makeWorkspace({ registry: registry.dir, files: { "build.rs": BUILD_RS, "src/main.rs": MAIN_RS, "input.txt": "one\n" } });
    expect((await plainCargo(["build"], ws, testEnv(fake))).code).toBe(0);
    const old = new Date("2020-01-01T00:00:00Z");
    const { statSync } = await import("node:fs");
    const buildDir = path.join(ws, "target/debug/build");
    const scriptDir = readdirSync(buildDir)
      .map((d) => path.join(buildDir, d))
      .find((d) => readdirSync(d).some((f) => f.startsWith("build_script_build-")))!;
    const bin = path.join(scriptDir, readdirSync(scriptDir).find((f) => /^build_script_build-[0-9a-f]{16}$/.test(f))!);
    utimesSync(bin, old, old);
    expect((await cratebox(["build"], ws, testEnv(fake))).code).toBe(0);
    expect(statSync(bin).mtime.getTime()).toBe(old.getTime());
    expect(readFileSync(bin, "utf8")).toContain("cratebox-build-script-shim");
  });
});
