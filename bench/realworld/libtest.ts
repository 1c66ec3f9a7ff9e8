/**
 * Reads what `cargo test` printed (stdout and stderr merged, as a terminal shows them) into one
 * outcome per test. Pure: no I/O.
 *
 * cargo announces each test binary on stderr (`Running tests/tests.rs (target/debug/deps/…)`,
 * `Running unittests src/main.rs (…)`, `Doc-tests bat`); libtest then prints one line per test
 * (`test name ... ok|FAILED|ignored[, reason]`), a `failures:` list, and `test result: …`.
 * A test is named `<binary> :: <test>`, the binary by cargo's label, never by its hashed file
 * name, so plain cargo's and cratebox's runs compare. A child process writing to an inherited
 * stderr can split a `test … ...` line from its verdict; the `failures:` list and the
 * `test result:` counts are read too, and a mismatch is reported instead of guessed around.
 */

export type Outcome = "passed" | "failed" | "ignored";

interface BinaryRun {
  /** cargo's label: `unittests src/main.rs`, `tests/integration_tests.rs`, `Doc-tests bat`. */
  label: string;
  /** libtest's closing counts; undefined when the binary never printed them (it died). */
  summary?: { passed: number; failed: number; ignored: number; seconds: number };
  /** Why a binary ended without its summary: cargo's `process didn't exit successfully` line. */
  died?: string;
  /** Lines that could not be matched to a test (verdict split by a child's output, …). */
  unparsed: string[];
}

export interface SuiteRun {
  tests: Map<string, Outcome>;
  /** For failed tests: the first lines of their captured output that say why (panic message). */
  causes: Map<string, string>;
  binaries: BinaryRun[];
}

const RUNNING = /^\s*(?:Running|Doc-tests)\s+(.*?)\s*$/;
const TEST_LINE = /^test (.+?) \.\.\. (ok|FAILED|ignored(?:, .*)?)\s*$/;
const TEST_START = /^test (.+?) \.\.\. (.*)$/;
const RESULT = /^test result: (?:ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored;.*?(?:finished in ([\d.]+)s)?\s*$/;
const DIED = /process didn't exit successfully: .*\((.*)\)\s*$/;

/** `Running tests/tests.rs (target/debug/deps/integration-0123abcd)` -> `tests/tests.rs`. */
function toBinaryLabel(rest: string, docTests: boolean): string {
  if (docTests) return `Doc-tests ${rest}`;
  // Under cratebox the binary may be shown behind the runner: keep cargo's own label only.
  return rest.replace(/\s*\(.*\)\s*$/, "").replace(/^`|`$/g, "");
}

export function parseCargoTest(output: string): SuiteRun {
  const tests = new Map<string, Outcome>();
  const causes = new Map<string, string>();
  const binaries: BinaryRun[] = [];
  let current: BinaryRun | undefined;
  let section: "tests" | "failure-output" | "failure-list" = "tests";
  let failureOf: string | undefined;
  let failureLines: string[] = [];
  let pending: string | undefined;

  const id = (name: string) => `${current?.label ?? "?"} :: ${name}`;
  const flushFailure = () => {
    if (failureOf !== undefined) causes.set(id(failureOf), summariseFailure(failureLines));
    failureOf = undefined;
    failureLines = [];
  };

  // Colours (trybuild prints its own `test tests/ui/x.rs ... ok` lines in colour) are dropped.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes start with ESC
  for (const raw of output.replace(/\x1b\[[0-9;]*m/g, "").split("\n")) {
    const line = raw.replace(/\r$/, "");
    const running = RUNNING.exec(line);
    if (running && /^\s*(Running|Doc-tests)\s/.test(line) && !line.startsWith("test ")) {
      flushFailure();
      current = { label: toBinaryLabel(running[1]!, /^\s*Doc-tests/.test(line)), unparsed: [] };
      binaries.push(current);
      section = "tests";
      pending = undefined;
      continue;
    }
    if (!current) continue;
    const died = DIED.exec(line);
    if (died && !current.summary) {
      current.died = died[1]!;
      continue;
    }
    const result = RESULT.exec(line);
    if (result) {
      flushFailure();
      current.summary = { passed: Number(result[1]), failed: Number(result[2]), ignored: Number(result[3]), seconds: Number(result[4] ?? 0) };
      section = "tests";
      continue;
    }
    if (section === "tests") {
      const t = TEST_LINE.exec(line);
      if (t) {
        tests.set(id(t[1]!), toOutcome(t[2]!));
        pending = undefined;
        continue;
      }
      if (pending !== undefined && /^(ok|FAILED|ignored(?:, .*)?)\s*$/.test(line.trim())) {
        tests.set(id(pending), toOutcome(line.trim()));
        pending = undefined;
        continue;
      }
      // A verdict at the end of someone else's line (a child process wrote without a newline).
      if (pending !== undefined) {
        const tail = /(?:^|\s)(ok|FAILED)\s*$/.exec(line);
        if (tail) {
          tests.set(id(pending), toOutcome(tail[1]!));
          pending = undefined;
          continue;
        }
      }
      const start = TEST_START.exec(line);
      if (start && !/ \.\.\. (bench|ok|FAILED|ignored)/.test(line)) {
        // `test x ... ` then a child's output, and libtest's verdict at the end of the same line.
        const tail = /\s(ok|FAILED)\s*$/.exec(start[2]!);
        if (tail) tests.set(id(start[1]!), toOutcome(tail[1]!));
        else pending = start[1]!;
        continue;
      }
      if (line === "failures:") {
        section = "failure-output";
        continue;
      }
      continue;
    }
    if (section === "failure-output") {
      const header = /^---- (.+?) stdout ----$/.exec(line);
      if (header) {
        flushFailure();
        failureOf = header[1]!;
        continue;
      }
      if (line === "failures:") {
        flushFailure();
        section = "failure-list";
        continue;
      }
      if (failureOf !== undefined) failureLines.push(line);
      continue;
    }
    // failure-list: four-space-indented names; every one of them failed, whatever was printed.
    const listed = /^ {4}(\S.*)$/.exec(line);
    if (listed) {
      const key = id(listed[1]!);
      if (tests.get(key) !== "failed") {
        if (!tests.has(key)) current.unparsed.push(`listed as failed, verdict line unreadable: ${listed[1]}`);
        tests.set(key, "failed");
      }
    }
  }
  flushFailure();
  return { tests, causes, binaries };
}

function toOutcome(verdict: string): Outcome {
  if (verdict === "ok") return "passed";
  if (verdict === "FAILED") return "failed";
  return "ignored";
}

/** The panic message (or the first non-empty lines) of a failed test's captured output. */
function summariseFailure(lines: string[]): string {
  // Thread ids (`thread 'x' (11115) panicked`) differ from run to run: dropped.
  const text = lines.map((l) => l.trim().replace(/^(thread '[^']*') \(\d+\)/, "$1")).filter(Boolean);
  const panic = text.findIndex((l) => /panicked at/.test(l));
  // The panic line, its message, and (assert_cmd, fd's testenv) the first lines of the diff.
  const picked = panic >= 0 ? text.slice(panic, panic + 6) : text.slice(0, 3);
  const joined = picked.filter((l) => !/^note: run with `RUST_BACKTRACE/.test(l)).join(" | ");
  return joined.length > 400 ? `${joined.slice(0, 397)}...` : joined;
}

/**
 * Per binary: did every test libtest counted get its verdict read? More lines than libtest counts
 * are fine (trybuild prints one per UI case); fewer mean verdicts were lost.
 */
export function checkCounts(run: SuiteRun): string[] {
  const problems: string[] = [];
  for (const b of run.binaries) {
    if (!b.summary) {
      problems.push(`${b.label}: no summary (${b.died ?? "no test result line"})`);
      continue;
    }
    const counted = { passed: 0, failed: 0, ignored: 0 };
    for (const [key, outcome] of run.tests) if (key.startsWith(`${b.label} :: `)) counted[outcome]++;
    for (const k of ["passed", "failed", "ignored"] as const) {
      if (counted[k] < b.summary[k]) problems.push(`${b.label}: ${k} ${counted[k]} read, libtest says ${b.summary[k]}`);
    }
  }
  return problems;
}

/** Seconds the test binaries themselves reported (libtest's `finished in`), summed over the run. */
export function binarySeconds(run: SuiteRun): number {
  return run.binaries.reduce((t, b) => t + (b.summary?.seconds ?? 0), 0);
}
