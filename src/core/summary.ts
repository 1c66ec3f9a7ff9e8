/** The one summary line at the end of a run. Pure. */
import { isRunnerPhase, toGrantPhase, type Phase } from "./phase.ts";
import type { StepOutcome } from "./step-outcome.ts";

const NOUNS: Record<Phase, [string, string]> = {
  rustc: ["rustc call", "rustc calls"],
  rustdoc: ["rustdoc call", "rustdoc calls"],
  "build-script": ["build script", "build scripts"],
  test: ["test binary", "test binaries"],
  bench: ["bench binary", "bench binaries"],
  run: ["program", "programs"],
};

export function toSummaryLine(outcomes: readonly StepOutcome[]): string {
  const failed = outcomes.filter((o) => !o.ok);
  if (outcomes.length === 0) return "nothing sandboxed: cargo ran no compiler, build script or binary";
  const counts = (Object.keys(NOUNS) as Phase[])
    .map((phase) => [phase, outcomes.filter((o) => o.phase === phase).length] as const)
    .filter(([, n]) => n > 0)
    .map(([phase, n]) => `${n} ${NOUNS[phase][n === 1 ? 0 : 1]}`);
  const what = counts.length > 1 ? `${counts.slice(0, -1).join(", ")} and ${counts.at(-1)}` : counts[0];
  if (failed.length === 0) return `${what} sandboxed, all passed`;
  const causes = new Map<string, number>();
  for (const o of failed) causes.set(o.cause, (causes.get(o.cause) ?? 0) + 1);
  const why = [...causes].map(([c, k]) => `${k} ${c === "exit" ? "exit code" : c}`).join(", ");
  const names = failed.map((o) =>
    isRunnerPhase(o.phase) ? `${o.crate} ${o.version} (${o.program})` : `${o.crate} ${o.version}${o.phase === "build-script" ? "" : ` (${o.phase})`}`,
  );
  return `${what} sandboxed, ${failed.length} failed (${why}): ${names.join(", ")}`;
}

/**
 * The warnings printed with the summary: each step that ran with full network access
 * (`network = true`), once per crate and phase, with the narrower grant to use instead.
 */
export function networkWarnings(outcomes: readonly StepOutcome[]): string[] {
  const seen = new Map<string, StepOutcome>();
  for (const o of outcomes) if (o.network === "full") seen.set(`${o.phase} ${o.crate} ${o.version}`, o);
  return [...seen.values()].map((o) => {
    const from = o.grant.items.find((i) => i.key === "network")?.from ?? "its grant";
    const scope = toGrantPhase(o.phase);
    return (
      `WARNING: ${o.phase === "build-script" ? "the build script" : `the ${NOUNS[o.phase][1]}`} of ${o.crate} ${o.version} ran with FULL network access ` +
      `(network = true, from ${from}): the whole internet and this machine's own services; list the hosts it needs instead: [${scope}.${o.crate}] network = ["host:port"]`
    );
  });
}
