/**
 * Whether the audits say a resolved version was reviewed to be safe to run, and who says so.
 * Pure. Evidence only: nothing here grants anything; policies and readers decide what it is worth.
 *
 * cargo-vet's rule (https://mozilla.github.io/cargo-vet/how-it-works.html): a version meets a
 * criterion when a chain of audits reaches it, a full audit of some version followed by delta
 * audits `a -> b`, each certifying that criterion. An audit certifies its criteria and whatever
 * they imply (`[criteria.<name>] implies`, transitively; built in: `safe-to-deploy` implies
 * `safe-to-run`). cratebox asks for `safe-to-run`: build scripts and proc macros run on the
 * building machine. A `violation` whose requirement the version satisfies marks it red, whatever
 * its criteria (an organisation said these versions must not be trusted).
 */
import { isCargoVersion, matchesCargoVersionReq } from "../profile/version-req.ts";
import type { Audit, AuditBook } from "./parse.ts";

/** What cratebox asks of build-time code. */
const TARGET_CRITERION = "safe-to-run";
const BUILT_IN_IMPLIES: Record<string, string[]> = { "safe-to-deploy": ["safe-to-run"], "safe-to-run": [] };

interface AuditViolation {
  who: string[];
  criteria: string[];
  /** The version requirement of the violation entry. */
  violation: string;
  source: string;
  notes: string | null;
}

export interface AuditVerdict {
  /** A chain of audits certifying safe-to-run reaches the version. */
  audited: boolean;
  /** Criteria implying safe-to-run that a chain establishes for the version (sorted). */
  criteria: string[];
  /** Who signed the audits on such chains (distinct, sorted). */
  by: string[];
  /** The files (and imports) those audits came from (distinct, sorted). */
  sources: string[];
  /** One line per audit on a chain, from the full audit on: `full audit of 1.0.0 (safe-to-deploy) by Alice, supply-chain/audits.toml`. */
  chain: string[];
  violations: AuditViolation[];
}

export const NOT_AUDITED: AuditVerdict = { audited: false, criteria: [], by: [], sources: [], chain: [], violations: [] };

/** Each criterion with everything it implies, itself included. */
function criteriaClosure(book: AuditBook): (criterion: string) => Set<string> {
  const implies = new Map<string, string[]>(Object.entries(BUILT_IN_IMPLIES));
  for (const c of book.criteria) implies.set(c.name, [...(implies.get(c.name) ?? []), ...c.implies]);
  const cache = new Map<string, Set<string>>();
  return (criterion) => {
    const hit = cache.get(criterion);
    if (hit) return hit;
    const seen = new Set<string>();
    for (let queue = [criterion], c = queue.shift(); c !== undefined; c = queue.shift()) {
      if (seen.has(c)) continue;
      seen.add(c);
      queue.push(...(implies.get(c) ?? []));
    }
    cache.set(criterion, seen);
    return seen;
  };
}

export function evaluateAudits(book: AuditBook, crate: string, version: string): AuditVerdict {
  const mine = book.audits.filter((a) => a.crate === crate);
  if (mine.length === 0) return NOT_AUDITED;
  const closure = criteriaClosure(book);
  const certifies = (a: Audit, criterion: string) => a.criteria.some((c) => closure(c).has(criterion));
  // A version cratebox cannot read counts as violating: an audit's veto fails closed.
  const unreadable = !isCargoVersion(version);
  const violations = mine
    .filter((a) => a.violation !== undefined && (unreadable || matchesCargoVersionReq(a.violation, version)))
    .map((a) => ({ who: a.who, criteria: a.criteria, violation: a.violation!, source: a.source, notes: a.notes ?? null }));

  // Every criterion that implies safe-to-run and that some audit of this crate names.
  const candidates = new Set(mine.flatMap((a) => a.criteria.flatMap((c) => [...closure(c)])).filter((c) => closure(c).has(TARGET_CRITERION)));
  const established = [...candidates]
    .filter(
      (c) =>
        onChains(
          mine.filter((a) => certifies(a, c)),
          version,
        ).length > 0,
    )
    .sort();
  const used = onChains(
    mine.filter((a) => certifies(a, TARGET_CRITERION)),
    version,
  );
  const sorted = (xs: string[]) => [...new Set(xs)].sort();
  return {
    audited: used.length > 0,
    criteria: established,
    by: sorted(used.flatMap((a) => a.who)),
    sources: sorted(used.map((a) => a.source)),
    chain: used.map(describeAudit),
    violations,
  };
}

/**
 * The audits that lie on some chain from a full audit to `version`: full audits of a version
 * from which the deltas reach it, and deltas whose start a full audit reaches and whose end
 * reaches it. Full audits first, then deltas in the order they apply.
 */
function onChains(audits: readonly Audit[], version: string): Audit[] {
  const full = audits.filter((a) => a.version !== undefined);
  const deltas = audits.filter((a) => a.delta !== undefined);
  const forward = reach(
    full.map((a) => a.version!),
    deltas.map((d) => [d.delta!.from, d.delta!.to] as const),
  );
  const backward = reach(
    [version],
    deltas.map((d) => [d.delta!.to, d.delta!.from] as const),
  );
  if (!forward.has(version)) return [];
  const onFull = full.filter((a) => backward.has(a.version!));
  const onDelta = deltas.filter((d) => forward.has(d.delta!.from) && backward.has(d.delta!.to));
  const depth = reachDepth(
    full.map((a) => a.version!),
    deltas.map((d) => [d.delta!.from, d.delta!.to] as const),
  );
  return [...onFull, ...onDelta.sort((a, b) => (depth.get(a.delta!.from) ?? 0) - (depth.get(b.delta!.from) ?? 0))];
}

function reach(start: readonly string[], edges: readonly (readonly [string, string])[]): Set<string> {
  return new Set(reachDepth(start, edges).keys());
}

/** Breadth-first distance of every version reachable from `start` along `edges`. */
function reachDepth(start: readonly string[], edges: readonly (readonly [string, string])[]): Map<string, number> {
  const depth = new Map(start.map((v) => [v, 0]));
  for (let queue = [...start], v = queue.shift(); v !== undefined; v = queue.shift()) {
    for (const [from, to] of edges) {
      if (from !== v || depth.has(to)) continue;
      depth.set(to, depth.get(v)! + 1);
      queue.push(to);
    }
  }
  return depth;
}

function describeAudit(a: Audit): string {
  const what = a.version !== undefined ? `full audit of ${a.version}` : `delta audit ${a.delta!.from} -> ${a.delta!.to}`;
  return `${what} (${a.criteria.join(", ")}) by ${a.who.length ? a.who.join(", ") : "(no one named)"}, ${a.source}`;
}
