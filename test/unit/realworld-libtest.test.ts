import { describe, expect, it } from "vitest";
import { checkCounts, parseCargoTest } from "../../bench/realworld/libtest.ts";

// Shaped like real `cargo test --no-fail-fast` output (stdout and stderr merged), from
// scripts/realworld's logs: cargo's Running lines, libtest's verdicts, failures and summaries.
const OUTPUT = `   Compiling probe v0.1.0 (/w/probe)
    Finished \`test\` profile [unoptimized + debuginfo] target(s) in 0.54s
     Running unittests src/main.rs (target/debug/deps/probe-eb231bce8b33539c)

running 3 tests
test tests::a ... ok
test tests::b ... ignored, needs a network
test tests::c - should panic ... ok

test result: ok. 2 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s

     Running tests/aborts.rs (target/debug/deps/aborts-0f1237d8220888e0)

running 1 test
error: test failed, to rerun pass \`--test aborts\`

Caused by:
  process didn't exit successfully: \`/w/target/debug/deps/aborts-0f1237d8220888e0\` (signal: 6, SIGABRT: process abort signal)
     Running tests/outside.rs (target/debug/deps/outside-9a307e9c50ac44e8)

running 3 tests
test reads_workspace_fixture ... FAILED
test spawns_a_child ... child wrote this without a newline ok
test \x1b[0m\x1b[1mtests/ui/wrong_type.rs\x1b[0m ... \x1b[0m\x1b[32mok\x1b[0m
test prints_between ... 
ok

failures:

---- reads_workspace_fixture stdout ----

thread 'reads_workspace_fixture' (10) panicked at probe/tests/outside.rs:4:96:
called \`Result::unwrap()\` on an \`Err\` value: Os { code: 2, kind: NotFound, message: "No such file or directory" }
note: run with \`RUST_BACKTRACE=1\` environment variable to display a backtrace


failures:
    reads_workspace_fixture

test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.42s

error: test failed, to rerun pass \`--test outside\`
   Doc-tests probe

running 1 test
test src/lib.rs - add (line 3) ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.20s
`;

describe("scripts/realworld's libtest reader", () => {
  const run = parseCargoTest(OUTPUT);

  it("names each test by cargo's label of its binary, never the hashed file name", () => {
    expect([...run.tests.keys()]).toContain("tests/outside.rs :: reads_workspace_fixture");
    expect([...run.tests.keys()]).toContain("Doc-tests probe :: src/lib.rs - add (line 3)");
    expect([...run.tests.keys()].some((k) => /[0-9a-f]{16}/.test(k))).toBe(false);
  });

  it("reads passed, failed and ignored, also with a reason or should_panic", () => {
    expect(run.tests.get("unittests src/main.rs :: tests::a")).toBe("passed");
    expect(run.tests.get("unittests src/main.rs :: tests::b")).toBe("ignored");
    expect(run.tests.get("unittests src/main.rs :: tests::c - should panic")).toBe("passed");
    expect(run.tests.get("tests/outside.rs :: reads_workspace_fixture")).toBe("failed");
  });

  it("keeps a verdict that a child's output split from its test line", () => {
    expect(run.tests.get("tests/outside.rs :: spawns_a_child")).toBe("passed");
    expect(run.tests.get("tests/outside.rs :: prints_between")).toBe("passed");
    expect(run.tests.get("tests/outside.rs :: tests/ui/wrong_type.rs")).toBe("passed");
  });

  it("gives a failed test its panic message as the cause", () => {
    expect(run.causes.get("tests/outside.rs :: reads_workspace_fixture")).toMatch(
      /^thread .reads_workspace_fixture. panicked at .* \| called `Result::unwrap\(\)`.*NotFound/,
    );
  });

  it("says which binary died without a result, and why", () => {
    const aborts = run.binaries.find((b) => b.label === "tests/aborts.rs");
    expect(aborts?.summary).toBeUndefined();
    expect(aborts?.died).toBe("signal: 6, SIGABRT: process abort signal");
    expect(checkCounts(run)).toEqual(["tests/aborts.rs: no summary (signal: 6, SIGABRT: process abort signal)"]);
  });

  it("reports verdicts it could not read against libtest's own counts", () => {
    const lost = parseCargoTest(OUTPUT.replace("test tests::a ... ok\n", ""));
    expect(checkCounts(lost)).toContain("unittests src/main.rs: passed 1 read, libtest says 2");
  });
});
