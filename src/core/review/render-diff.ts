/**
 * `cratebox review --diff <crate>`: the whole diff of one package, in reading order (issue 14):
 * the build script and the files it uses, the proc-macro code, the manifest (its build-time
 * changes summed up first), new executables and scripts, the rest. Pure.
 */
import { SECTION_TITLE, SECTIONS, sectionOf, type Classification, type FileDiff } from "./file-diff.ts";
import { describeManifestChange, describeSources, describeVersions } from "./describe.ts";
import type { ReviewedPackage } from "./report.ts";

const HOW_FOUND: Record<ReviewedPackage["diff"]["buildScriptFiles"], string> = {
  "dep-info": "the build script's files are those its dep-info lists (from an earlier build), plus what its source names",
  parsed: "the build script's files were found by following mod and include! in its source (no dep-info: an approximation)",
  none: "no build script on either side",
};

export function toDiffText(p: ReviewedPackage, files: readonly FileDiff[], c: Classification): string {
  const out = [`${p.name} ${describeVersions(p)}: the full diff`, `sources: ${describeSources(p)}`, HOW_FOUND[p.diff.buildScriptFiles]];
  if (!p.diff.available) out.push(`no diff: ${p.diff.reason ?? "sources not available"}`);
  for (const section of SECTIONS) {
    const mine = files.filter((f) => sectionOf(f.path, c) === section).sort((a, b) => a.path.localeCompare(b.path));
    if (mine.length === 0) continue;
    out.push("", `==== ${SECTION_TITLE[section]} (${mine.length} file${mine.length === 1 ? "" : "s"}) ====`);
    if (section === "manifest") out.push(...describeManifestChange(p));
    for (const f of mine) {
      const note = c.executables.get(f.path);
      if (note || f.binary || f.patch === "") out.push(`${f.path}: ${[f.status, f.binary ? "binary" : undefined, note].filter(Boolean).join(", ")}`);
      if (f.patch) out.push(f.patch.trimEnd());
    }
  }
  return `${out.join("\n")}\n`;
}
