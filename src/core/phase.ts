/**
 * What a sandboxed step runs (its phase) and which cratebox.toml table grants it. Pure.
 * The one place these names live; every other module imports them from here.
 */

/**
 * A build script; a binary cargo runs through its runner hook (tests, benches, `cargo run`); a
 * compiler call (rustc, with the crate's proc macros inside it); a rustdoc call (`cargo doc`,
 * doctests, which rustdoc compiles and runs).
 */
export const PHASES = ["build-script", "test", "bench", "run", "rustc", "rustdoc"] as const;
export type Phase = (typeof PHASES)[number];

/** The phases cargo reaches through its runner hook (`target.<triple>.runner`). */
export type RunnerPhase = "test" | "bench" | "run";

export function isRunnerPhase(phase: Phase): phase is RunnerPhase {
  return phase === "test" || phase === "bench" || phase === "run";
}

/** The compiler phases: every rustc and rustdoc call that compiles a crate. */
export type CompilerPhase = "rustc" | "rustdoc";

export function isCompilerPhase(phase: Phase): phase is CompilerPhase {
  return phase === "rustc" || phase === "rustdoc";
}

/**
 * The kinds of cratebox.toml table that grant steps: `[build.<crate>]` (its build script),
 * `[test.<package>]` (what cargo runs of it), `[rustc.<crate>]` (compiling it: its macros).
 */
export const GRANT_PHASES = ["build", "test", "rustc"] as const;
export type GrantPhase = (typeof GRANT_PHASES)[number];

const PHASE_INFO: { readonly [P in Phase]: { table: GrantPhase; text: string } } = {
  "build-script": { table: "build", text: "build script" },
  test: { table: "test", text: "test binary" },
  bench: { table: "test", text: "bench binary" },
  run: { table: "test", text: "program" },
  rustc: { table: "rustc", text: "compilation" },
  rustdoc: { table: "rustc", text: "rustdoc" },
};

/** Which kind of table grants a step: `[build.*]` for build scripts, `[test.*]` for what cargo runs. */
export function toGrantPhase(phase: Phase): GrantPhase {
  return PHASE_INFO[phase].table;
}

/** "build script", "test binary", ... for messages. */
export function phaseText(phase: Phase): string {
  return PHASE_INFO[phase].text;
}

/** "build script", "test binaries": what a table of this kind grants, for messages. */
export const GRANT_PHASE_TEXT: { readonly [G in GrantPhase]: string } = {
  build: "build script",
  test: "test binaries",
  rustc: "compilation (rustc, its proc macros)",
};

/** The phase of a binary cargo runs through its runner hook, from the cargo subcommand. */
export function toRunnerPhase(subcommand: string | undefined): RunnerPhase {
  if (subcommand === "bench") return "bench";
  if (subcommand === "run" || subcommand === "r") return "run";
  return "test";
}
