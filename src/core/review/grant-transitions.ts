/**
 * Which tables of cratebox.toml go stale, start to match, or match nothing any more when the
 * lockfile changes. Pure.
 *
 * Each side is judged with its own file: the base's cratebox.toml against the base's lockfile,
 * the working tree's against the working tree's. So a pull request that bumps a crate and
 * re-approves it shows the new table starting to match, and one that only bumps it shows the old
 * table going stale (a build would then stop before it starts, see core/profile/select.ts).
 */
import type { ParsedProfile } from "../profile/parse.ts";
import type { GrantPhase } from "../phase.ts";
import { describePins, selectEntry } from "../profile/select.ts";
import { sourceKindOf, type Lockfile, type LockPackage } from "./lockfile.ts";

type TransitionKind = "goes-stale" | "starts-to-match" | "matches-nothing";

export interface GrantTransition {
  kind: TransitionKind;
  /** `build.openssl-sys`, `build.ring[1]`. */
  table: string;
  crate: string;
  /** Versions the table selected before / selects now (or, going stale, the version it no longer fits). */
  before: string[];
  after: string[];
  message: string;
}

interface TableState {
  selected: Map<string, string[]>;
  stale: Map<string, { versions: string[]; pins: string }>;
}

function judge(profile: ParsedProfile, lock: Lockfile, name: string, phase: GrantPhase): TableState {
  const state: TableState = { selected: new Map(), stale: new Map() };
  for (const p of lock.packages.filter((x) => x.name === name)) {
    const s = selectEntry(profile, toIdentity(p), phase);
    if (s.kind === "selected") state.selected.set(s.entry.table, [...(state.selected.get(s.entry.table) ?? []), p.version]);
    if (s.kind === "pin-mismatch") {
      for (const stale of s.stale) {
        const had = state.stale.get(stale.entry.table);
        state.stale.set(stale.entry.table, { versions: [...(had?.versions ?? []), p.version], pins: describePins(stale) });
      }
    }
  }
  return state;
}

export function toIdentity(p: Pick<LockPackage, "name" | "version" | "source" | "checksum">) {
  return { name: p.name, version: p.version, source: sourceKindOf(p.source), ...(p.checksum ? { checksum: p.checksum } : {}) };
}

export function toGrantTransitions(before: { profile: ParsedProfile; lock: Lockfile }, after: { profile: ParsedProfile; lock: Lockfile }): GrantTransition[] {
  const names = new Set<string>();
  for (const side of [before, after]) {
    for (const phase of ["build", "test"] as const) for (const n of Object.keys(side.profile.profile[phase] ?? {})) names.add(`${phase} ${n}`);
  }
  const out: GrantTransition[] = [];
  for (const entry of [...names].sort()) {
    const [phase, name] = entry.split(" ") as [GrantPhase, string];
    const old = judge(before.profile, before.lock, name, phase);
    const now = judge(after.profile, after.lock, name, phase);
    const present = after.lock.packages.some((p) => p.name === name);
    for (const [table, { versions, pins }] of now.stale) {
      if (old.stale.has(table)) continue;
      out.push({
        kind: "goes-stale",
        table,
        crate: name,
        before: old.selected.get(table) ?? [],
        after: versions,
        message: `[${table}] is pinned to ${pins}, but the lockfile now has ${name} ${versions.join(", ")}: a build stops until someone reviews it (cratebox approve ${name})`,
      });
    }
    for (const [table, versions] of now.selected) {
      const was = old.selected.get(table);
      if (was && was.join() === versions.join()) continue;
      out.push({
        kind: "starts-to-match",
        table,
        crate: name,
        before: was ?? [],
        after: versions,
        message: `[${table}] now applies to ${name} ${versions.join(", ")}${was ? ` (before: ${was.join(", ")})` : ""}: what it grants reaches this code`,
      });
    }
    for (const [table, versions] of old.selected) {
      if (now.selected.has(table) || now.stale.has(table) || present) continue;
      out.push({
        kind: "matches-nothing",
        table,
        crate: name,
        before: versions,
        after: [],
        message: `[${table}] selected ${name} ${versions.join(", ")}, which left the lockfile: \`cratebox profiles prune\` removes the table`,
      });
    }
  }
  return out;
}
