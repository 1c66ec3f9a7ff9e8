/**
 * What a sandboxed step runs (its phase) and which cratebox.toml table grants it. Pure.
 * The one place these names live; every other module imports them from here.
 */

/** A build script, or a binary cargo runs through its runner hook (tests, benches, `cargo run`). */
export const PHASES = ["build-script", "test", "bench", "run"] as const;
export type Phase = (typeof PHASES)[number];

/** The phases cargo reaches through its runner hook (`target.<triple>.runner`). */
export type RunnerPhase = Exclude<Phase, "build-script">;

/** The kinds of cratebox.toml table that grant steps: `[build.<crate>]`, `[test.<package>]`. */
const GRANT_PHASES = ["build", "test"] as const;
export type GrantPhase = (typeof GRANT_PHASES)[number];

const PHASE_INFO: { readonly [P in Phase]: { table: GrantPhase; text: string } } = {
  "build-script": { table: "build", text: "build script" },
  test: { table: "test", text: "test binary" },
  bench: { table: "test", text: "bench binary" },
  run: { table: "test", text: "program" },
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
export const GRANT_PHASE_TEXT: { readonly [G in GrantPhase]: string } = { build: "build script", test: "test binaries" };

/** The phase of a binary cargo runs through its runner hook, from the cargo subcommand. */
export function toRunnerPhase(subcommand: string | undefined): RunnerPhase {
  if (subcommand === "bench") return "bench";
  if (subcommand === "run" || subcommand === "r") return "run";
  return "test";
}
