/**
 * GitHub Actions workflow commands for failed steps (`::error file=...,title=...::message`),
 * printed when GITHUB_ACTIONS=true so failures show on the pull request. Pure.
 * Format: https://docs.github.com/actions/reference/workflow-commands-for-github-actions
 */
import path from "node:path";
import { isWithin } from "./paths.ts";
import { phaseText } from "./phase.ts";
import { describeFailure, type StepOutcome } from "./step-outcome.ts";

export const escapeData = (s: string) => s.replaceAll("%", "%25").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
export const escapeProperty = (s: string) => escapeData(s).replaceAll(":", "%3A").replaceAll(",", "%2C");

/** The annotation for a failed step, or undefined for a success. */
export function toGithubAnnotation(o: StepOutcome, workspace: string | undefined): string | undefined {
  if (o.ok) return undefined;
  const message = describeFailure(o) ?? `${phaseText(o.phase)} ${o.program} of ${o.crate} ${o.version} failed with exit code ${o.exitCode}`;
  // Point at the file that holds the code: build.rs for a build script, the manifest otherwise.
  const file = path.join(o.manifestDir, o.phase === "build-script" ? "build.rs" : "Cargo.toml");
  const where = workspace && isWithin(file, workspace) ? path.relative(workspace, file) : undefined;
  const props = [...(where ? [`file=${escapeProperty(where)}`] : []), `title=${escapeProperty(`cratebox: ${o.crate} ${o.version}`)}`];
  return `::error ${props.join(",")}::${escapeData(message)}`;
}
