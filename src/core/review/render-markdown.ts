/**
 * The review as a pull-request comment (`--format markdown`): the verdict and problems first,
 * a table of the changes riskiest first, the diff stat folded away. Pure.
 */
import { CHANGE_MARK, describeBase, describeCounts, describeDetails, describeFlags, describeTime, describeVerdict, describeVersions } from "./describe.ts";
import type { ReviewReport } from "./report.ts";

/** Text safe inside a table cell or a list item: no HTML, no pipes, no line breaks. */
export function escapeMarkdown(s: string): string {
  return s.replace(/[\\`*_[\]<>|#]/g, (c) => `\\${c}`).replace(/\r?\n/g, " ");
}

export function toReviewMarkdown(r: ReviewReport): string {
  const e = escapeMarkdown;
  const out: string[] = [
    `### cratebox review: ${r.ok ? "passed" : "**failed**"}`,
    "",
    `\`${e(r.lockfile)}\` compared with ${e(describeBase(r))}.  `,
    `Time: ${e(describeTime(r))}.  `,
    `${e(describeCounts(r))}.`,
  ];
  if (r.failures.length > 0) {
    out.push("", `#### Problems (${r.failures.length})`);
    for (const f of r.failures) out.push(`- ${e(f.message)}`);
  }
  if (r.packages.length > 0) {
    out.push("", "#### Changes, riskiest first", "", "| | package | version | risk | sources | published |", "|---|---|---|---|---|---|");
    for (const p of r.packages) {
      const side = p.new ?? p.old!;
      const published = p.coolOff?.publishedAt ? `${p.coolOff.publishedAt.slice(0, 10)}${p.coolOff.fails ? " (too young)" : ""}` : p.coolOff ? "unknown" : "";
      out.push(
        `| ${CHANGE_MARK[p.change]} | ${e(p.name)} | ${e(describeVersions(p))} | ${e(describeFlags(p)) || ""} | ${p.change === "removed" ? "" : e(side.sources)} | ${e(published)} |`,
      );
    }
    const detailed = r.packages.filter((p) => p.change !== "removed");
    if (detailed.length > 0) {
      out.push("", "<details><summary>What changed in each package (diff stat)</summary>", "");
      for (const p of detailed) {
        out.push(`**${e(p.name)} ${e(describeVersions(p))}**`, "");
        for (const l of describeDetails(p)) out.push(`- ${e(l)}`);
        out.push("");
      }
      out.push("`cratebox review --diff <crate>` prints the full diff, build script first.", "", "</details>");
    }
  }
  if (r.grants.length > 0) {
    out.push("", "#### cratebox.toml");
    for (const g of r.grants) out.push(`- ${e(g.kind)}: ${e(g.message)}`);
  }
  if (r.unusedExemptions.length > 0) {
    out.push("", "#### Exemptions that exempted nothing");
    for (const x of r.unusedExemptions) out.push(`- ${e(x.name)} ${e(x.version)}: ${e(x.reason)}`);
  }
  if (r.notes.length > 0) {
    out.push("", "#### Notes");
    for (const n of r.notes) out.push(`- ${e(n)}`);
  }
  out.push("", `cratebox review: ${describeVerdict(r)}`);
  return `${out.join("\n")}\n`;
}
