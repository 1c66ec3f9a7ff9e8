/**
 * Which packages of a lockfile arrive only as build dependencies: compiled for the host and run
 * while building (build scripts and what they use), never linked into what the workspace ships.
 * Pure.
 *
 * Cargo.lock records edges without their kind; the kinds come from each package's manifest (or
 * its index entry), handed in as `kindsOf`. From the workspace members, an edge is followed as
 * "linked" when it is a normal dependency (or, from a member, a dev-dependency); everything
 * reachable only through some build edge is build-only. An edge whose kind is not known counts
 * as normal: a package is never called build-only on a guess.
 */
import type { DepKind } from "./manifest.ts";
import { packageKey, type Lockfile, type LockPackage } from "./lockfile.ts";

export type KindsOf = (from: LockPackage, to: LockPackage) => readonly DepKind[] | undefined;

/** Keys of the build-only packages. */
export function toBuildOnly(lock: Lockfile, roots: readonly LockPackage[], kindsOf: KindsOf): Set<string> {
  const linked = walk(lock, roots, (from, to, isRoot) => {
    const kinds = kindsOf(from, to);
    return kinds === undefined || kinds.length === 0 || kinds.includes("normal") || (isRoot && kinds.includes("dev"));
  });
  const all = walk(lock, roots, () => true);
  return new Set([...all].filter((k) => !linked.has(k)));
}

function walk(lock: Lockfile, roots: readonly LockPackage[], follow: (from: LockPackage, to: LockPackage, fromRoot: boolean) => boolean): Set<string> {
  const rootKeys = new Set(roots.map(packageKey));
  const seen = new Set<string>(rootKeys);
  const queue = [...roots];
  for (let p = queue.shift(); p; p = queue.shift()) {
    for (const key of p.dependencies) {
      const dep = lock.byKey.get(key);
      if (!dep || seen.has(key) || !follow(p, dep, rootKeys.has(packageKey(p)))) continue;
      seen.add(key);
      queue.push(dep);
    }
  }
  return seen;
}
