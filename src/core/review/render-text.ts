/** The review as a terminal reads it (the default format). Pure. */
import {
  CHANGE_MARK,
  describeBase,
  describeCounts,
  describeDetails,
  describeFlags,
  describeSource,
  describeTime,
  describeVerdict,
  describeVersions,
} from "./describe.ts";
import type { ReviewReport } from "./report.ts";

export function toReviewText(r: ReviewReport): string {
  const out: string[] = [
    `cratebox review of ${r.lockfile} in ${r.workspace}`,
    `  base: ${describeBase(r)}`,
    `  time: ${describeTime(r)}`,
    `  ${describeCounts(r)}`,
  ];
  if (r.failures.length > 0) {
    out.push("", `FAILED (${r.failures.length}):`);
    for (const f of r.failures) out.push(`  x ${f.message}`);
  }
  if (r.packages.length > 0) out.push("", "changes, riskiest first:");
  for (const p of r.packages) {
    const flags = describeFlags(p);
    out.push(
      `${CHANGE_MARK[p.change]} ${p.name} ${describeVersions(p)}  ${describeSource(p)}${flags ? `  ${flags}` : ""}${p.problems.length ? "  FAILS" : ""}`,
    );
    if (p.change === "removed") continue;
    for (const d of describeDetails(p)) out.push(`    ${d}`);
  }
  if (r.grants.length > 0) {
    out.push("", "cratebox.toml:");
    for (const g of r.grants) out.push(`  ${g.kind}: ${g.message}`);
  }
  if (r.unusedExemptions.length > 0) {
    out.push("", "[[review.exempt]] entries that exempted nothing (remove them once their release is old enough):");
    for (const e of r.unusedExemptions) out.push(`  ${e.name} ${e.version} (${e.reason})`);
  }
  if (r.policies.length > 0) out.push("", `policies: ${r.policies.join(", ")}`);
  if (r.notes.length > 0) {
    out.push("", "notes:");
    for (const n of r.notes) out.push(`  - ${n}`);
  }
  out.push("", `cratebox review: ${describeVerdict(r)}`);
  return `${out.join("\n")}\n`;
}
