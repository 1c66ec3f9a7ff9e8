/**
 * The review as GitHub Actions workflow commands (`--format github`): an error annotation on
 * Cargo.lock's line for each problem, a warning for each package that brings new or changed
 * build-time code or another source, one notice with the verdict. Pure.
 * Format: https://docs.github.com/actions/reference/workflow-commands-for-github-actions
 */
import { escapeData, escapeProperty } from "../annotations.ts";
import { describeCounts, describeFlags, describeVerdict, describeVersions } from "./describe.ts";
import type { ReviewReport } from "./report.ts";

/** Ranks up to links and new executables (risk.ts) are worth a warning of their own. */
const WARN_UP_TO_RANK = 5;

export function toReviewAnnotations(r: ReviewReport): string {
  const command = (kind: "error" | "warning" | "notice", title: string, message: string, line?: number | null) => {
    const props = [`file=${escapeProperty(r.lockfile)}`, ...(line ? [`line=${line}`] : []), `title=${escapeProperty(title)}`];
    return `::${kind} ${props.join(",")}::${escapeData(message)}`;
  };
  const out: string[] = [];
  for (const p of r.packages) {
    const line = (p.new ?? p.old!).line;
    const title = `cratebox review: ${p.name} ${describeVersions(p)}`;
    for (const x of p.problems) out.push(command("error", title, x.message, line));
    if (p.problems.length === 0 && p.rank <= WARN_UP_TO_RANK)
      out.push(command("warning", title, `${describeFlags(p)}; see \`cratebox review --diff ${p.name}\``, line));
  }
  for (const g of r.grants) if (g.kind === "goes-stale") out.push(command("warning", `cratebox review: [${g.table}]`, g.message));
  out.push(command("notice", "cratebox review", `${describeVerdict(r)}; ${describeCounts(r)}`));
  return `${out.join("\n")}\n`;
}
