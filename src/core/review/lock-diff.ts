/**
 * Two lockfiles -> what changed between them, package by package. Pure.
 *
 * The same name, version and source in both is unchanged, unless the checksum differs: then the
 * registry served other bytes under a published version, which the review refuses outright.
 * Otherwise the packages of one name left on each side are paired, first within the same
 * source identity (lockfile.ts), oldest with oldest; what cannot be paired was added or removed.
 * A pair whose identity differs is an update that changes the source (registry to git, another
 * registry).
 */
import semver from "semver";
import { packageKey, sourceIdentity, type Lockfile, type LockPackage } from "./lockfile.ts";

export type ChangeKind = "added" | "removed" | "updated" | "checksum-changed";

export interface PackageChange {
  name: string;
  kind: ChangeKind;
  old: LockPackage | null;
  new: LockPackage | null;
  /** Another source identity on the new side (registry to git, another registry, a git repository). */
  sourceChanged: boolean;
}

export interface LockDiff {
  changes: PackageChange[];
  /** Packages in both lockfiles with the same name, version, source and checksum. */
  unchanged: LockPackage[];
}

export function diffLockfiles(before: Lockfile, after: Lockfile): LockDiff {
  const changes: PackageChange[] = [];
  const unchanged: LockPackage[] = [];
  const leftBefore = new Map<string, LockPackage[]>();
  const leftAfter = new Map<string, LockPackage[]>();
  const keep = (m: Map<string, LockPackage[]>, p: LockPackage) => m.set(p.name, [...(m.get(p.name) ?? []), p]);

  for (const p of after.packages) {
    const o = before.byKey.get(packageKey(p));
    if (!o) keep(leftAfter, p);
    else if (o.checksum !== null && p.checksum !== null && o.checksum !== p.checksum) {
      changes.push({ name: p.name, kind: "checksum-changed", old: o, new: p, sourceChanged: false });
    } else unchanged.push(p);
  }
  for (const p of before.packages) if (!after.byKey.has(packageKey(p))) keep(leftBefore, p);

  for (const name of new Set([...leftBefore.keys(), ...leftAfter.keys()])) {
    const olds = byVersion(leftBefore.get(name) ?? []);
    const news = byVersion(leftAfter.get(name) ?? []);
    // Same source identity first, in version order; then across identities.
    for (const sameSource of [true, false]) {
      for (const n of [...news]) {
        const o = olds.find((x) => !sameSource || sourceIdentity(x.source) === sourceIdentity(n.source));
        if (!o) continue;
        olds.splice(olds.indexOf(o), 1);
        news.splice(news.indexOf(n), 1);
        changes.push({ name, kind: "updated", old: o, new: n, sourceChanged: sourceIdentity(o.source) !== sourceIdentity(n.source) });
      }
    }
    for (const o of olds) changes.push({ name, kind: "removed", old: o, new: null, sourceChanged: false });
    for (const n of news) changes.push({ name, kind: "added", old: null, new: n, sourceChanged: false });
  }
  return { changes, unchanged };
}

function byVersion(list: LockPackage[]): LockPackage[] {
  return [...list].sort((a, b) => compareVersions(a.version, b.version));
}

/** Semver order, falling back to text for what semver cannot read. */
function compareVersions(a: string, b: string): number {
  const va = semver.valid(a);
  const vb = semver.valid(b);
  return va && vb ? semver.compare(va, vb) : a.localeCompare(b);
}
