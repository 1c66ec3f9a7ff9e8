/**
 * `cratebox cargo test`: every binary cargo runs (unit and integration tests, doctests) runs in
 * its own container, and the harness behaves exactly as under cargo.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reportSchema } from "../../src/core/report.ts";
import { cratebox, makeFakeHome, plainCargo, testEnv, type RunResult } from "../helpers/run.ts";
import { copyWorkspace, makeRegistry, tempDir } from "../helpers/workspace.ts";

interface Report {
  steps: { phase: string; crate: string; program: string; ok: boolean; cause: string; signal: number | null }[];
}

const registry = makeRegistry(["evil-dev-0.1.0"]);
const fake = makeFakeHome();
const ws = copyWorkspace("harness", registry.dir);
const env = testEnv(fake);
const reportFile = path.join(tempDir(), "report.json");
/**
 * The report's steps of binaries cargo ran and of rustdoc (doctests run inside rustdoc's
 * sandbox); not evil-dev's build script, which reruns every time (its plan file may be missing).
 */
const report = () => {
  // Every report is checked against the published schema (docs/report.schema.json's source).
  const r = reportSchema.parse(JSON.parse(readFileSync(reportFile, "utf8"))) as Report;
  return { steps: r.steps.filter((s) => ["test", "bench", "run", "rustdoc"].includes(s.phase)) };
};
const boxedTest = (args: string[], crateboxArgs: string[] = []) => cratebox(["test", ...args], ws, env, ["--report", reportFile, ...crateboxArgs]);
// Plain cargo gets its own target dir: it refuses to rerun build scripts cratebox compiled.
const plainTest = (args: string[]) => plainCargo(["test", "--target-dir", "target/plain", ...args], ws, env);

/** Test-harness lines that must match between plain cargo and cratebox. */
function harnessLines(r: RunResult): string[] {
  return (
    r.stdout
      .split("\n")
      .filter((l) => /^(test |running |test result:)/.test(l))
      .map((l) => l.replace(/finished in [\d.]+s/, "finished in Xs"))
      // Tests run on several threads: their lines come in any order within a binary.
      .sort()
  );
}

beforeAll(async () => {
  // Compile once under cratebox, so the comparisons below time test runs, not compilation.
  const warm = await cratebox(["test", "--no-run"], ws, env);
  expect(warm.code, warm.output).toBe(0);
  const warmPlain = await plainTest(["--no-run"]);
  expect(warmPlain.code, warmPlain.output).toBe(0);
});

describe("the test harness under cratebox", () => {
  it("runs unit and integration tests each in a sandbox, doctests in rustdoc's, with cargo's output and exit code", async () => {
    const plain = await plainTest(["--", "--skip", "dev_dependency_code"]);
    const boxed = await boxedTest(["--", "--skip", "dev_dependency_code"]);
    expect(plain.code, plain.output).toBe(0);
    expect(boxed.code, boxed.output).toBe(0);
    expect(harnessLines(boxed)).toEqual(harnessLines(plain));
    const steps = report().steps;
    expect(steps.map((s) => s.phase).sort()).toEqual(["rustdoc", "test", "test"]);
    expect(steps.every((s) => s.ok)).toBe(true);
    expect(boxed.stderr).toMatch(/1 rustdoc call, .*2 test binaries sandboxed, all passed/);
  });

  it("fixtures next to the package are readable; CARGO_TARGET_TMPDIR and /tmp writable; sources are not", async () => {
    rmSync(path.join(ws, "tests/fixtures/overwritten.txt"), { force: true }); // plain cargo's runs write it
    const res = await boxedTest(["--test", "integration", "--", "--nocapture"]);
    expect(res.code, res.output).toBe(0);
    expect(res.stdout).toContain("package-write-denied=true");
    expect(existsSync(path.join(ws, "target/tmp/written-by-test.txt"))).toBe(true);
    expect(existsSync(path.join(ws, "tests/fixtures/overwritten.txt"))).toBe(false);
  });

  it("filters, --nocapture, --list and --test-threads behave as under cargo", async () => {
    for (const args of [
      ["--lib", "--", "prints", "--nocapture"],
      ["--lib", "--", "--list"],
      ["--lib", "--", "--test-threads", "1"],
      ["--lib", "passes"],
    ]) {
      const plain = await plainTest(args);
      const boxed = await boxedTest(args);
      expect(boxed.code).toBe(plain.code);
      expect(harnessLines(boxed), args.join(" ")).toEqual(harnessLines(plain));
      if (args.includes("--nocapture")) expect(boxed.stdout).toContain("printed-by-test");
      if (args.includes("--list")) expect(boxed.stdout).toContain("tests::passes: test");
    }
  });

  it("a failing test fails as under cargo (exit code 101), without a cratebox line", async () => {
    const plain = await plainTest(["--lib", "--", "--ignored", "fails"]);
    const boxed = await boxedTest(["--lib", "--", "--ignored", "fails"]);
    expect(plain.code).toBe(101);
    expect(boxed.code).toBe(101);
    expect(boxed.stdout).toContain("deliberate failure");
    expect(harnessLines(boxed)).toEqual(harnessLines(plain));
    expect(boxed.stderr).not.toMatch(/cratebox: test binary .* (killed|failed)/);
    expect(boxed.stderr).toMatch(/1 test binary sandboxed, 1 failed \(1 exit code\): harness 0\.1\.0 \(harness\)/);
  });

  it("an abort is reported as the signal, as cargo reports it", async () => {
    const plain = await plainTest(["--lib", "--", "--ignored", "aborts"]);
    const boxed = await boxedTest(["--lib", "--", "--ignored", "aborts"]);
    expect(plain.stderr).toContain("signal: 6, SIGABRT");
    expect(boxed.code).toBe(plain.code);
    expect(boxed.stderr).toContain("signal: 6, SIGABRT");
    expect(report().steps[0]).toMatchObject({ cause: "signal", signal: 6 });
  });

  it("a test that runs too long is killed and named as a timeout", async () => {
    const t0 = Date.now();
    const boxed = await boxedTest(["--lib", "--", "--ignored", "sleeps"], ["--timeout", "3s"]);
    expect(Date.now() - t0).toBeLessThan(60_000);
    expect(boxed.code).toBe(101);
    expect(boxed.stderr).toMatch(/cratebox: test binary harness of harness 0\.1\.0 was killed: time limit of 3s reached/);
    expect(report().steps[0]).toMatchObject({ cause: "timeout" });
  });
});

describe("grants for test binaries", () => {
  it("[test.<package>] network = true gives the tests a network; without it they have none", async () => {
    const args = ["--test", "integration", "--", "--ignored", "network_interfaces", "--nocapture"];
    const denied = await boxedTest(args);
    expect(denied.code, denied.output).toBe(0);
    expect(denied.stdout).toContain("interfaces=lo\n");
    writeFileSync(path.join(ws, "cratebox.toml"), "version = 1\n[test.harness]\nnetwork = true\n");
    try {
      const granted = await boxedTest(args);
      expect(granted.code, granted.output).toBe(0);
      expect(granted.stdout).toContain("interfaces=eth0,lo\n");
    } finally {
      rmSync(path.join(ws, "cratebox.toml"));
    }
  });
});

describe("an attack from a dev-dependency at test time", () => {
  let server: Server;
  let connections = 0;
  let port = 0;

  beforeAll(async () => {
    server = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("works under plain cargo test and gets nothing under cratebox", async () => {
    const secretFile = path.join(fake.cargoHome, "credentials.toml");
    writeFileSync(secretFile, '[registry]\ntoken = "cio-planted-test-secret"\n');
    const dropped = path.join(fake.home, ".bashrc");
    writeFileSync(dropped, "# planted\n");
    writeFileSync(
      path.join(registry.crate("evil-dev"), "cratebox-attack.txt"),
      [`read ${secretFile}`, "env GITHUB_TOKEN", `connect 127.0.0.1:${port}`, `write ${dropped}`].join("\n"),
    );
    const armed = testEnv(fake, { GITHUB_TOKEN: "ghp_planted_env_secret" });
    const args = ["test", "--test", "integration", "--", "dev_dependency_code", "--nocapture"];

    const plain = await plainCargo([...args.slice(0, 3), "--target-dir", "target/plain", ...args.slice(3)], ws, armed);
    expect(plain.code, plain.output).toBe(0);
    expect(plain.stdout).toContain("cio-planted-test-secret");
    expect(plain.stdout).toContain("OK ghp_planted_env_secret");
    expect(plain.stdout).toContain(`connect 127.0.0.1:${port} => OK connected`);
    expect(connections).toBe(1);
    expect(readFileSync(dropped, "utf8")).toBe("evil-dev was here\n");

    writeFileSync(dropped, "# planted\n");
    const boxed = await cratebox([...args.slice(0, 3), "--target-dir", "target/boxed", ...args.slice(3)], ws, armed);
    expect(boxed.code, boxed.output).toBe(0);
    expect(boxed.stdout).toContain(`read ${secretFile} => ERR`);
    expect(boxed.stdout).toContain("env GITHUB_TOKEN => ERR");
    expect(boxed.stdout).toContain(`connect 127.0.0.1:${port} => ERR`);
    expect(boxed.stdout).toContain(`write ${dropped} => ERR`);
    expect(boxed.output).not.toContain("cio-planted-test-secret");
    expect(boxed.output).not.toContain("ghp_planted_env_secret");
    expect(connections).toBe(1);
    expect(readFileSync(dropped, "utf8")).toBe("# planted\n");
  });
});
