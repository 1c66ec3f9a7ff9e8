import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../src/core/limits.ts";
import { describeFailure, FileErrorWatch, toTargetName, toCause, toSignal, type StepOutcome } from "../../src/core/step-outcome.ts";
import { toSummaryLine } from "../../src/core/summary.ts";

const base = { exitCode: 0, oomKilled: false, pidsLimitHit: false };

describe("toCause", () => {
  it.each([
    [{ ...base }, "exit"],
    [{ ...base, exitCode: 1 }, "exit"],
    [{ ...base, exitCode: 137, oomKilled: true }, "memory"],
    [{ ...base, exitCode: 137, stoppedBy: "timeout" as const }, "timeout"],
    [{ ...base, exitCode: 137, stoppedBy: "interrupt" as const }, "interrupted"],
    [{ ...base, exitCode: 101, pidsLimitHit: true }, "pids"],
    [{ ...base, exitCode: 139 }, "signal"],
    [{ ...base, exitCode: 124 }, "exit"],
  ])("%j -> %s", (exit, cause) => expect(toCause(exit)).toBe(cause));

  it("reads 124 as the backstop timer's only when the program ran until it", () => {
    expect(toCause({ ...base, exitCode: 124 }, { seconds: 930, runMs: 930_004 })).toBe("fallback-timeout");
    // A program's own exit code 124, or a sandbox without the timer (bwrap dies with cratebox).
    expect(toCause({ ...base, exitCode: 124 }, { seconds: 930, runMs: 2_000 })).toBe("exit");
    expect(toCause({ ...base, exitCode: 124 }, { seconds: undefined, runMs: 930_004 })).toBe("exit");
  });

  it("reports signals as cargo would see them", () => {
    expect(toSignal({ ...base, exitCode: 139 }, "signal")).toBe(11);
    expect(toSignal({ ...base, exitCode: 137, oomKilled: true }, "memory")).toBe(9);
    expect(toSignal({ ...base, exitCode: 1 }, "exit")).toBeUndefined();
  });
});

const outcome = (o: Partial<StepOutcome>): StepOutcome => ({
  phase: "build-script",
  crate: "foo",
  version: "1.2.3",
  program: "build-script-build",
  manifestDir: "/src/foo",
  image: "cratebox/sandbox:x",
  grant: { table: null, items: [] },
  withheldEnv: [],
  withheldPaths: [],
  blockedDirectives: [],
  askedWithheld: [],
  source: "registry",
  network: "none",
  egress: [],
  containerId: "c",
  backend: "docker",
  ok: false,
  cause: "exit",
  exitCode: 1,
  signal: undefined,
  durationMs: 10,
  runMs: 5,
  limits: { ...DEFAULT_LIMITS, memoryBytes: 512 * 1024 ** 2, timeoutMs: 2000, pids: 64 },
  ...o,
});

describe("describeFailure", () => {
  it("names the crate, what ended it and the limit with how to raise it", () => {
    // Below cratebox's default, the default is offered (twice a tiny limit helps nobody).
    expect(describeFailure(outcome({ cause: "memory" }))).toBe(
      'build script of foo 1.2.3 was killed: memory limit of 512 MiB reached (raise it in cratebox.toml: [build.foo] version = "=1.2.3" memory = "4GiB", or for one run: `cratebox --memory 4GiB cargo ...`)',
    );
    expect(describeFailure(outcome({ cause: "timeout" }))).toBe(
      'build script of foo 1.2.3 was killed: time limit of 2s reached (raise it in cratebox.toml: [build.foo] version = "=1.2.3" timeout = "15m", or for one run: `cratebox --timeout 15m cargo ...`)',
    );
    // At or above it, twice the limit.
    const big = { ...DEFAULT_LIMITS, memoryBytes: 8 * 1024 ** 3, pids: 512 };
    expect(describeFailure(outcome({ cause: "memory", limits: big }))).toContain('memory = "16GiB", or for one run: `cratebox --memory 16GiB cargo ...`');
    expect(describeFailure(outcome({ cause: "pids", limits: big }))).toContain("pids = 1024, or for one run: `cratebox --pids 1024 cargo ...`");
    // A limit given on the command line wins over cratebox.toml: it is raised there.
    const fromFlag = { table: null, items: [{ key: "memory", value: "1 MiB", from: "command line" }] };
    expect(describeFailure(outcome({ cause: "memory", grant: fromFlag, limits: { ...DEFAULT_LIMITS, memoryBytes: 1024 ** 2 } }))).toBe(
      "build script of foo 1.2.3 was killed: memory limit of 1 MiB reached (set with --memory on the command line, which wins over cratebox.toml: `cratebox --memory 4GiB cargo ...`)",
    );
    expect(describeFailure(outcome({ cause: "pids" }))).toMatch(/^build script of foo 1\.2\.3 failed with exit code 1 after hitting the process limit of 64/);
    expect(describeFailure(outcome({ cause: "exit", exitCode: 3 }))).toMatch(
      /^build script of foo 1\.2\.3 failed with exit code 3 in the sandbox.*`cratebox learn cargo \.\.\.` traces/,
    );
    // Under learn (the step was traced) it does not send the user to learn again.
    const traced = { reads: [], writes: [], connects: [], sockets: [], sequence: [] };
    expect(describeFailure(outcome({ cause: "exit", exitCode: 3, denials: traced }))).not.toContain("cratebox learn");
    expect(describeFailure(outcome({ cause: "signal", exitCode: 139, signal: 11 }))).toMatch(/killed by SIGSEGV/);
    expect(describeFailure(outcome({ ok: true }))).toBeUndefined();
  });
});

describe("toSummaryLine", () => {
  it("counts and names failures", () => {
    expect(toSummaryLine([])).toBe("nothing sandboxed: cargo ran no compiler, build script or binary");
    expect(toSummaryLine([outcome({ ok: true }), outcome({ ok: true })])).toBe("2 build scripts sandboxed, all passed");
    expect(toSummaryLine([outcome({ ok: true }), outcome({ cause: "memory" })])).toBe("2 build scripts sandboxed, 1 failed (1 memory): foo 1.2.3");
  });
});

describe("binaries cargo runs", () => {
  it("a program that aborts by itself is not blamed on the sandbox (cargo names the signal)", () => {
    expect(describeFailure(outcome({ phase: "test", program: "aborts", cause: "signal", exitCode: 134, signal: 6 }))).toBeUndefined();
    expect(describeFailure(outcome({ phase: "run", program: "app", cause: "signal", exitCode: 139, signal: 11 }))).toBeUndefined();
    // a build script's signal is still named (cargo shows only "exit status")
    expect(describeFailure(outcome({ cause: "signal", exitCode: 134, signal: 6 }))).toMatch(/killed by SIGABRT/);
  });
  it("a bus error names the full tmpfs that causes one", () => {
    expect(describeFailure(outcome({ phase: "test", program: "ui", cause: "signal", exitCode: 135, signal: 7 }))).toMatch(/SIGBUS .*a full tmpfs/);
  });
  it("a failed test whose output shows a file error gets a hint about the paths the sandbox hides", () => {
    const line = describeFailure(outcome({ phase: "test", program: "outside", cause: "exit", exitCode: 101, fileErrorSeen: true, manifestDir: "/w/probe" }));
    expect(line).toMatch(/^test binary outside of foo 1\.2\.3 failed after a file error .* its package \(\/w\/probe\).*`cratebox learn cargo test \.\.\.`/);
  });
  it("names test binaries as cargo does, without the hash", () => {
    expect(toTargetName("/w/target/debug/deps/integration-253d51ba8d7601fa")).toBe("integration");
    expect(toTargetName("/w/target/debug/build/foo-0123456789abcdef/build_script_build-0123456789abcdef.cratebox-real")).toBe("build_script_build");
    expect(toTargetName("/w/target/debug/app")).toBe("app");
  });
  it("sees a file error even when it straddles two chunks of output", () => {
    const w = new FileErrorWatch();
    w.push(Buffer.from("Error: Os { code: 2, kind: Not"));
    expect(w.seen).toBe(false);
    w.push(Buffer.from('Found, message: "..." }'));
    expect(w.seen).toBe(true);
  });
  it("a failing test is the harness's to report; a limit or signal is named", () => {
    expect(describeFailure(outcome({ phase: "test", program: "it-0123", cause: "exit", exitCode: 101 }))).toBeUndefined();
    expect(describeFailure(outcome({ phase: "test", program: "it-0123", cause: "timeout" }))).toBe(
      'test binary it-0123 of foo 1.2.3 was killed: time limit of 2s reached (raise it in cratebox.toml: [test.foo] version = "=1.2.3" source = "registry" timeout = "15m", or for one run: `cratebox --timeout 15m cargo ...`)',
    );
  });
  it("the summary counts each kind", () => {
    expect(toSummaryLine([outcome({ ok: true }), outcome({ ok: true, phase: "test" }), outcome({ phase: "test", program: "it-0123" })])).toBe(
      "1 build script and 2 test binaries sandboxed, 1 failed (1 exit code): foo 1.2.3 (it-0123)",
    );
  });
});

describe("a failure after reading a withheld variable", () => {
  it("names the variables it declared it reads and the pinned grant", () => {
    expect(describeFailure(outcome({ cause: "exit", exitCode: 101, askedWithheld: ["MY_SDK_DIR"] }))).toBe(
      'build script of foo 1.2.3 failed with exit code 101 in the sandbox; it reads MY_SDK_DIR (rerun-if-env-changed), which your environment has and the sandbox withheld; if it needs it, grant in cratebox.toml: [build.foo] version = "=1.2.3" env = ["MY_SDK_DIR"]',
    );
  });
});
