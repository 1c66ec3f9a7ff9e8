/**
 * The facts the runtime gathered about each changed package -> the review report: flags, rank,
 * cool-off, problems, order, verdict. Pure.
 */
import type { AuditView } from "../audits/view.ts";
import type { ReviewExemption } from "../profile/schema.ts";
import { decideCoolOff, unusedExemptions, type CoolOffPolicy, type Release } from "./cool-off.ts";
import type { SectionStat } from "./file-diff.ts";
import type { GrantTransition } from "./grant-transitions.ts";
import type { PackageChange } from "./lock-diff.ts";
import { sourceKindOf, type LockPackage } from "./lockfile.ts";
import { diffManifests, type ManifestFacts } from "./manifest.ts";
import { REVIEW_REPORT_VERSION, type ReviewedPackage, type ReviewReport, type ReviewSide, type RiskFlag, type SourceStatus } from "./report.ts";
import { orderByRisk, toRank } from "./risk.ts";

/** What is known of one version's contents. */
export interface SideFacts {
  sources: SourceStatus;
  detail: string;
  manifest: ManifestFacts | null;
}

export interface DiffFacts {
  available: boolean;
  reason: string | null;
  buildScriptFiles: "dep-info" | "parsed" | "none";
  sections: SectionStat[];
}

export interface PackageFacts {
  change: PackageChange;
  old: SideFacts | null;
  new: SideFacts | null;
  /** The index's pubtime of the new version; null: not known. */
  pubtime: string | null;
  /** The index's checksum of the new version (bare hex); null: not known. */
  indexChecksum: string | null;
  buildOnly: boolean | null;
  diff: DiffFacts;
  /** The table of cratebox.toml that selects the new version's build script. */
  grant: string | null;
  /** cargo-vet audits of the new version; null or absent: no audit files configured. */
  audits?: AuditView | null;
}

export interface ReviewInputs {
  workspace: string;
  lockfile: string;
  base: ReviewReport["base"];
  now: Date;
  nowFrom: ReviewReport["nowFrom"];
  coolOff: CoolOffPolicy;
  unchanged: number;
  packages: PackageFacts[];
  grants: GrantTransition[];
  policies: string[];
  notes: string[];
}

export function assembleReview(inputs: ReviewInputs): ReviewReport {
  const packages = orderByRisk(inputs.packages.map((p) => toReviewedPackage(p, inputs.coolOff, inputs.now)));
  const released = inputs.packages.flatMap((p) => (p.change.new ? [toRelease(p.change.new)] : []));
  const count = (k: PackageChange["kind"]) => inputs.packages.filter((p) => p.change.kind === k).length;
  return finish({
    version: REVIEW_REPORT_VERSION,
    workspace: inputs.workspace,
    lockfile: inputs.lockfile,
    base: inputs.base,
    now: inputs.now.toISOString(),
    nowFrom: inputs.nowFrom,
    minAgeMs: inputs.coolOff.minAgeMs,
    requirePubtime: inputs.coolOff.requirePubtime,
    ok: true,
    counts: {
      added: count("added"),
      removed: count("removed"),
      updated: count("updated"),
      checksumChanged: count("checksum-changed"),
      unchanged: inputs.unchanged,
    },
    failures: [],
    packages,
    grants: inputs.grants,
    unusedExemptions: unusedExemptions(inputs.coolOff.exemptions, released).map((e: ReviewExemption) => ({ ...e })),
    policies: inputs.policies,
    notes: inputs.notes,
  });
}

/** Policy refusals (a `deny` for a reviewed package) added to the report; the verdict follows. */
export function withPolicyRefusals(report: ReviewReport, refusals: readonly { name: string; version: string; message: string }[]): ReviewReport {
  const packages = report.packages.map((p) => {
    const mine = refusals.filter((r) => r.name === p.name && r.version === p.new?.version);
    return mine.length === 0 ? p : { ...p, problems: [...p.problems, ...mine.map((r) => ({ kind: "policy" as const, message: r.message }))] };
  });
  return finish({ ...report, packages: orderByRisk(packages) });
}

function finish(report: ReviewReport): ReviewReport {
  const failures = report.packages.flatMap((p) =>
    p.problems.map((x) => ({ name: p.name, version: p.new?.version ?? p.old!.version, kind: x.kind, message: x.message })),
  );
  return { ...report, failures, ok: failures.length === 0 };
}

function toRelease(p: LockPackage): Release {
  return { name: p.name, version: p.version, sourceKind: sourceKindOf(p.source), checksum: p.checksum };
}

function toSide(p: LockPackage, f: SideFacts): ReviewSide {
  return {
    version: p.version,
    source: p.source,
    sourceKind: sourceKindOf(p.source),
    checksum: p.checksum === null ? null : `sha256:${p.checksum}`,
    line: p.line ?? null,
    sources: f.sources,
    sourcesDetail: f.detail,
    manifest: f.manifest ? { buildScript: f.manifest.buildScript, procMacro: f.manifest.procMacro, links: f.manifest.links } : null,
  };
}

function toReviewedPackage(f: PackageFacts, coolOff: CoolOffPolicy, now: Date): ReviewedPackage {
  const { change } = f;
  const before = f.old?.manifest ?? null;
  const after = f.new?.manifest ?? null;
  const sections = new Set(f.diff.sections.map((s) => s.section));
  const flags = new Set<RiskFlag>();
  const problems: ReviewedPackage["problems"] = [];
  const version = change.new?.version ?? change.old!.version;

  if (change.kind === "checksum-changed") {
    flags.add("checksum-changed");
    problems.push({
      kind: "checksum-changed",
      message: `${change.name} ${version} (${change.new!.source}): Cargo.lock's checksum changed from sha256:${change.old!.checksum} to sha256:${change.new!.checksum} for the same version and source: the registry served other bytes under a published version`,
    });
  }
  if (change.new?.checksum && f.indexChecksum && f.indexChecksum !== change.new.checksum) {
    flags.add("index-checksum-mismatch");
    problems.push({
      kind: "index-checksum-mismatch",
      message: `${change.name} ${version}: the index gives checksum sha256:${f.indexChecksum}, Cargo.lock pins sha256:${change.new.checksum}`,
    });
  }
  for (const side of [f.old, f.new]) {
    if (side?.sources === "refused") {
      flags.add("sources-refused");
      problems.push({ kind: "sources-refused", message: `${change.name}: ${side.detail}` });
    }
  }
  if (change.new) {
    const knownBefore = change.old === null || before !== null;
    if (after?.buildScript && knownBefore && !before?.buildScript) flags.add("new-build-script");
    else if ((after?.buildScript || before?.buildScript) && (sections.has("build-script") || !f.diff.available)) flags.add("build-script-changed");
    if (after?.procMacro && knownBefore && !before?.procMacro) flags.add("new-proc-macro");
    else if ((after?.procMacro || before?.procMacro) && (sections.has("proc-macro") || !f.diff.available)) flags.add("proc-macro-changed");
    if (after?.links && (change.old === null || before?.links !== after.links)) flags.add("links");
    if (f.diff.sections.some((s) => s.section === "executables" && s.files.some((x) => x.status !== "removed"))) flags.add("new-executables");
    if (change.sourceChanged) flags.add("source-changed");
    if (f.buildOnly) flags.add("build-only");
    if (f.new?.sources === "unverified") flags.add("unverified");
    if (f.new?.sources === "unavailable") flags.add("sources-unavailable");
  }

  const audits = change.new ? (f.audits ?? null) : null;
  for (const v of audits?.violations ?? []) {
    flags.add("audit-violation");
    problems.push({
      kind: "audit-violation",
      message: `${change.name} ${version}: ${v.source} records a violation ${JSON.stringify(v.violation)} (${v.criteria.join(", ")}) by ${v.who.join(", ") || "(no one named)"}${v.notes ? `: ${v.notes}` : ""}`,
    });
  }
  // The cool-off is for versions new to the lockfile; a changed checksum already fails.
  const verdict = change.new && change.kind !== "checksum-changed" ? decideCoolOff(toRelease(change.new), f.pubtime, coolOff, now) : null;
  if (verdict?.fails)
    problems.push({ kind: verdict.status === "too-young" ? "too-young" : "no-pubtime", message: `${change.name} ${version}: ${verdict.message}` });
  const flagList = [...flags];
  return {
    name: change.name,
    change: change.kind,
    old: change.old && f.old ? toSide(change.old, f.old) : null,
    new: change.new && f.new ? toSide(change.new, f.new) : null,
    sourceChanged: change.sourceChanged,
    buildOnly: change.new ? f.buildOnly : null,
    rank: toRank(change.kind, flagList),
    flags: flagList,
    grant: f.grant,
    coolOff: verdict,
    manifestChange: after && (change.old === null || before) ? diffManifests(before, after) : null,
    diff: f.diff,
    audits,
    problems,
  };
}
