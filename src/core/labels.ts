/**
 * The labels every sandbox of cratebox carries, built in this one place. Pure.
 * `cratebox.run` ties a sandbox to its run (removed when the run ends); `cratebox.owner` names
 * the process that created it (runtime/sweep.ts removes those whose owner is gone).
 */
import type { Phase } from "./phase.ts";

export const LABEL_RUN = "cratebox.run";
export const LABEL_OWNER = "cratebox.owner";

/** Who created a sandbox: the run's id and its owner process (`host:pid:starttime`). */
export interface RunIdentity {
  runId: string;
  owner: string;
}

/** What a sandbox runs: a step of a crate, or one of doctor's probes. */
export type SandboxPurpose = { crate: string; version: string; phase: Phase } | { probe: string };

export function toLabels(run: RunIdentity, purpose: SandboxPurpose): Record<string, string> {
  const what: Record<string, string> =
    "probe" in purpose
      ? { "cratebox.phase": "doctor", "cratebox.probe": purpose.probe }
      : { "cratebox.crate": purpose.crate, "cratebox.version": purpose.version, "cratebox.phase": purpose.phase };
  return { [LABEL_RUN]: run.runId, [LABEL_OWNER]: run.owner, ...what };
}
