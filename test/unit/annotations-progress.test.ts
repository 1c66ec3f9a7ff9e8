import { afterEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_LIMITS } from "../../src/core/limits.ts";
import { toGithubAnnotation } from "../../src/core/annotations.ts";
import type { StepOutcome } from "../../src/core/step-outcome.ts";
import { ProgressLine } from "../../src/cli/progress.ts";

const o = (x: Partial<StepOutcome>): StepOutcome => ({
  phase: "build-script",
  crate: "foo",
  version: "1.0.0",
  program: "build-script-build",
  manifestDir: "/ws/crates/foo",
  image: "i",
  containerId: "c",
  backend: "docker",
  ok: false,
  cause: "exit",
  exitCode: 3,
  signal: undefined,
  durationMs: 1,
  runMs: 1,
  limits: DEFAULT_LIMITS,
  grant: { table: null, items: [] },
  withheldEnv: [],
  withheldPaths: [],
  blockedDirectives: [],
  askedWithheld: [],
  source: "registry",
  network: "none",
  egress: [],
  ...x,
});

describe("toGithubAnnotation", () => {
  it("points at build.rs inside the workspace and escapes the message", () => {
    expect(toGithubAnnotation(o({}), "/ws")).toBe(
      "::error file=crates/foo/build.rs,title=cratebox%3A foo 1.0.0::build script of foo 1.0.0 failed with exit code 3 in the sandbox (no network, no home, read-only sources, only cargo's variables); `cratebox learn cargo ...` traces what it tries and proposes the grant; `cratebox profiles explain foo` shows what it has",
    );
  });
  it("names a failing test binary at its manifest, and leaves out files outside the workspace", () => {
    expect(toGithubAnnotation(o({ phase: "test", program: "it-1", exitCode: 101 }), "/ws")).toBe(
      "::error file=crates/foo/Cargo.toml,title=cratebox%3A foo 1.0.0::test binary it-1 of foo 1.0.0 failed with exit code 101",
    );
    expect(toGithubAnnotation(o({ manifestDir: "/registry/foo" }), "/ws")).toMatch(/^::error title=cratebox%3A foo 1\.0\.0::/);
  });
  it("says nothing for a success", () => expect(toGithubAnnotation(o({ ok: true }), "/ws")).toBeUndefined());
});

describe("ProgressLine", () => {
  afterEach(() => void vi.useRealTimers());
  it("reserves the bottom row, draws throttled counts there, and gives the row back", () => {
    vi.useFakeTimers();
    const out: string[] = [];
    const p = new ProgressLine(
      (s) => out.push(s),
      () => 24,
    );
    p.started();
    p.started();
    p.finished(o({ ok: true }));
    expect(out).toEqual([]); // throttled
    vi.advanceTimersByTime(200);
    expect(out).toEqual(["\n\x1b7\x1b[1;23r\x1b8\x1b[1A", "\x1b7\x1b[24;1H\x1b[Kcratebox: 1 build script sandboxed, 1 running\x1b8"]);
    p.finished(o({ phase: "test", ok: false }));
    vi.advanceTimersByTime(200);
    expect(out.at(-1)).toBe("\x1b7\x1b[24;1H\x1b[Kcratebox: 1 build script, 1 binary sandboxed, 0 running, 1 failed\x1b8");
    p.stop();
    expect(out.at(-1)).toBe("\x1b7\x1b[24;1H\x1b[K\x1b[r\x1b8");
  });
  it("never touches the terminal when nothing ran", () => {
    const out: string[] = [];
    new ProgressLine(
      (s) => out.push(s),
      () => 24,
    ).stop();
    expect(out).toEqual([]);
  });
});
