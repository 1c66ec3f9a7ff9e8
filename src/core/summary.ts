/** The one summary line at the end of a run, and the JSON report. Pure. */
import type { StepOutcome } from "./step-outcome.ts";

export function toSummaryLine(outcomes: readonly StepOutcome[]): string {
  const failed = outcomes.filter((o) => !o.ok);
  const n = outcomes.length;
  const noun = n === 1 ? "build script" : "build scripts";
  if (n === 0) return "no build script needed to run (nothing sandboxed)";
  if (failed.length === 0) return `${n} ${noun} sandboxed, all passed`;
  const causes = new Map<string, number>();
  for (const o of failed) causes.set(o.cause, (causes.get(o.cause) ?? 0) + 1);
  const why = [...causes].map(([c, k]) => `${k} ${c === "exit" ? "exit code" : c}`).join(", ");
  return `${n} ${noun} sandboxed, ${failed.length} failed (${why}): ${failed.map((o) => `${o.crate} ${o.version}`).join(", ")}`;
}

export const REPORT_VERSION = 1;

export interface Report {
  version: number;
  runId: string;
  command: string[];
  exitCode: number;
  engineWarnings: string[];
  steps: (Omit<StepOutcome, "limits"> & { limits: StepOutcome["limits"]; overheadMs: number | undefined })[];
}

export function toReport(runId: string, command: string[], exitCode: number, outcomes: readonly StepOutcome[], engineWarnings: string[]): Report {
  return {
    version: REPORT_VERSION,
    runId,
    command,
    exitCode,
    engineWarnings,
    steps: outcomes.map((o) => ({ ...o, overheadMs: o.runMs === undefined ? undefined : Math.max(0, o.durationMs - o.runMs) })),
  };
}
