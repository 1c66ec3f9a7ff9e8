/**
 * The phrases every review format shares: a package's versions, its sources, its manifest
 * change, a section's stat. Pure.
 */
import { describeAudits } from "../audits/view.ts";
import { formatAge } from "./age.ts";
import { describeFileStat, SECTION_TITLE, type SectionStat } from "./file-diff.ts";
import type { ReviewedPackage, ReviewReport } from "./report.ts";
import { FLAG_TEXT } from "./risk.ts";

export const CHANGE_MARK: Record<ReviewedPackage["change"], string> = { added: "+", removed: "-", updated: "~", "checksum-changed": "!" };

/** "1.0.0 -> 1.1.0", "0.1.0 (new)", "1.0.0 (removed)". */
export function describeVersions(p: ReviewedPackage): string {
  if (p.change === "added") return `${p.new!.version} (new)`;
  if (p.change === "removed") return `${p.old!.version} (removed)`;
  return p.old!.version === p.new!.version ? p.new!.version : `${p.old!.version} -> ${p.new!.version}`;
}

/** "registry", "git", "registry -> git (git+https://...)". */
export function describeSource(p: ReviewedPackage): string {
  const side = p.new ?? p.old!;
  if (!p.sourceChanged) return side.sourceKind === "registry" && side.source ? `registry ${side.source.replace(/^(registry|sparse)\+/, "")}` : side.sourceKind;
  return `source changed: ${p.old!.source ?? "path"} -> ${p.new!.source ?? "path"}`;
}

export function describeFlags(p: ReviewedPackage): string {
  return p.flags.map((f) => FLAG_TEXT[f]).join(", ");
}

/** "verified (...)", for the new side (or the old one of a removed package). */
export function describeSources(p: ReviewedPackage): string {
  const side = p.new ?? p.old!;
  const old = p.old && p.new && p.old.sources !== p.new.sources ? `; old version: ${p.old.sources} (${p.old.sourcesDetail})` : "";
  return `${side.sources}: ${side.sourcesDetail}${old}`;
}

/** One line per manifest change that matters for build-time code; none when nothing changed. */
export function describeManifestChange(p: ReviewedPackage): string[] {
  const m = p.manifestChange;
  if (!m) return [];
  const lines: string[] = [];
  for (const kind of ["build", "normal", "dev"] as const) {
    const added = m.addedDependencies.filter((d) => d.kind === kind).map((d) => d.package);
    const removed = m.removedDependencies.filter((d) => d.kind === kind).map((d) => d.package);
    const what = kind === "normal" ? "dependencies" : `${kind}-dependencies`;
    if (added.length) lines.push(`new ${what}: ${added.join(", ")}`);
    if (removed.length && p.change !== "added") lines.push(`${what} dropped: ${removed.join(", ")}`);
  }
  const v = (x: string | boolean | null) => (x === null || x === false ? "none" : x === true ? "yes" : JSON.stringify(x));
  if (m.build) lines.push(`build script: ${v(m.build.to)}${p.change === "added" ? "" : ` (was ${v(m.build.from)})`}`);
  if (m.procMacro) lines.push(`proc-macro: ${v(m.procMacro.to)}${p.change === "added" ? "" : ` (was ${v(m.procMacro.from)})`}`);
  if (m.links) lines.push(`links: ${v(m.links.to)}${p.change === "added" ? "" : ` (was ${v(m.links.from)})`}`);
  return lines;
}

/** "build script: +12 -3 in 2 files: build.rs (+10 -3), ..." (at most `max` files named). */
function describeSection(s: SectionStat, max = 5): string {
  const names = s.files.slice(0, max).map(describeFileStat).join(", ");
  const more = s.files.length > max ? `, ... ${s.files.length - max} more` : "";
  return `${SECTION_TITLE[s.section]}: +${s.added} -${s.removed} in ${s.files.length} file${s.files.length === 1 ? "" : "s"}: ${names}${more}`;
}

function describeDiffAvailability(p: ReviewedPackage): string | undefined {
  if (!p.diff.available) return `no diff: ${p.diff.reason ?? "sources not available"}`;
  if (p.diff.sections.length === 0) return "no file changed";
  return undefined;
}

/** "published 2026-03-01T00:00:00.000Z (2d ago): ..." */
function describeCoolOff(p: ReviewedPackage): string | undefined {
  return p.coolOff ? `cool-off: ${p.coolOff.message}` : undefined;
}

/** The lines under a package's heading, in every format: sources, diff stat, manifest, grant, cool-off. */
export function describeDetails(p: ReviewedPackage): string[] {
  const lines = [
    `sources: ${describeSources(p)}`,
    ...p.diff.sections.map((s) => describeSection(s)),
    describeDiffAvailability(p),
    ...describeManifestChange(p).map((l) => `manifest: ${l}`),
    p.grant ? `grant: [${p.grant}]` : undefined,
    p.audits ? `audits: ${describeAudits(p.audits)}` : undefined,
    describeCoolOff(p),
  ];
  return lines.filter((l): l is string => l !== undefined);
}

export function describeBase(r: ReviewReport): string {
  return `${r.base.ref} (${r.base.commit.slice(0, 12)}; ${r.base.how})`;
}

export function describeTime(r: ReviewReport): string {
  const minAge = r.minAgeMs ? `min-age ${formatAge(r.minAgeMs)}` : "no min-age";
  return `${r.now} (${r.nowFrom === "--now" ? "from --now" : "this machine's clock"}); ${minAge}; require-pubtime ${r.requirePubtime ? "on" : "off"}`;
}

export function describeCounts(r: ReviewReport): string {
  const c = r.counts;
  return `${c.added} added, ${c.updated} updated, ${c.removed} removed, ${c.checksumChanged} with a changed checksum; ${c.unchanged} unchanged`;
}

export function describeVerdict(r: ReviewReport): string {
  return r.ok ? "passed" : `FAILED: ${r.failures.length} problem${r.failures.length === 1 ? "" : "s"}`;
}
