/**
 * What makes a changed package risky, and the order a reviewer reads them in. Pure.
 *
 * Riskiest first (issue 14): bytes that do not match what was published, then code that newly
 * runs on the build machine (a new build script, a new procedural macro), then changes to such
 * code, a change of source, native links and new executables; then plain additions, updates and
 * removals. Within a rank: packages that fail the review first, then by name.
 */
import type { ChangeKind } from "./lock-diff.ts";
import type { RiskFlag } from "./report.ts";

const FLAG_RANK: Record<RiskFlag, number | undefined> = {
  "checksum-changed": 0,
  "index-checksum-mismatch": 0,
  "sources-refused": 0,
  "audit-violation": 0,
  "new-build-script": 1,
  "new-proc-macro": 2,
  "build-script-changed": 3,
  "proc-macro-changed": 3,
  "source-changed": 4,
  links: 5,
  "new-executables": 5,
  // These describe; they do not raise a package above its change.
  "build-only": undefined,
  unverified: undefined,
  "sources-unavailable": undefined,
};

const CHANGE_RANK: Record<ChangeKind, number> = { "checksum-changed": 0, added: 6, updated: 7, removed: 8 };

export function toRank(change: ChangeKind, flags: readonly RiskFlag[]): number {
  return Math.min(CHANGE_RANK[change], ...flags.map((f) => FLAG_RANK[f] ?? Number.MAX_SAFE_INTEGER));
}

export function orderByRisk<
  T extends { rank: number; name: string; problems: readonly unknown[]; new: { version: string } | null; old: { version: string } | null },
>(list: readonly T[]): T[] {
  const version = (p: T) => p.new?.version ?? p.old?.version ?? "";
  return [...list].sort(
    (a, b) =>
      a.rank - b.rank || Number(b.problems.length > 0) - Number(a.problems.length > 0) || a.name.localeCompare(b.name) || version(a).localeCompare(version(b)),
  );
}

/** Words for a flag, in the text and markdown reports. */
export const FLAG_TEXT: Record<RiskFlag, string> = {
  "checksum-changed": "CHECKSUM CHANGED",
  "index-checksum-mismatch": "INDEX CHECKSUM DIFFERS",
  "sources-refused": "SOURCES REFUSED",
  "new-build-script": "NEW BUILD SCRIPT",
  "new-proc-macro": "NEW PROC MACRO",
  "build-script-changed": "build script changed",
  "proc-macro-changed": "proc macro changed",
  "source-changed": "source changed",
  links: "links native library",
  "new-executables": "new executables",
  "audit-violation": "AUDIT VIOLATION",
  "build-only": "build dependency only",
  unverified: "unverified sources",
  "sources-unavailable": "sources unavailable",
};
