/**
 * Which table of cratebox.toml, if any, speaks for a crate as cargo resolved it. Pure.
 *
 * Identity is what cargo resolved (`cargo metadata`, Cargo.lock): name, version, source kind and
 * checksum; never what a crate's own manifest claims. A table selects a crate when
 *   1. it is under the phase's scope ([build.*] for build scripts, [test.*] for test binaries)
 *      with the crate's exact name,
 *   2. its `source` is the crate's source kind (a registry grant never reaches a git or path
 *      crate of the same name, e.g. one swapped in with [patch]),
 *   3. its pins hold: `version` is satisfied by the resolved version, `checksum` equals
 *      Cargo.lock's, and a content pin (`build-script`, `proc-macro`: core/pins) equals the digest
 *      of the code cargo compiles, when the runtime could observe it (dep-info, or the pin's record;
 *      what it could not observe yet is checked again when the code is compiled).
 * A table that passes 1 and 2 but not 3 was written for code nobody has reviewed since: it does
 * not apply, and the result says so (the run stops) instead of silently falling back.
 */
import { CONTENT_KINDS, type ContentKind } from "../pins/content.ts";
import type { GrantPhase } from "../phase.ts";
import type { ParsedProfile } from "./parse.ts";
import type { CrateSource, GrantEntry } from "./schema.ts";
import { toKeyPath, type KeySegment } from "./key-path.ts";
import { lineOf } from "./toml-lines.ts";
import { parseChecksum } from "./values.ts";
import { matchesCargoVersionReq } from "./version-req.ts";

/** Where a table's crate comes from when it does not say: a build grant is for a registry crate, a test grant for a workspace package. */
export function defaultSourceOf(scope: GrantPhase): CrateSource {
  return scope === "test" ? "path" : "registry";
}

/** A crate as cargo resolved it. */
export interface CrateIdentity {
  name: string;
  version: string;
  source: CrateSource;
  /** Cargo.lock's checksum (bare hex or `sha256:` hex); registry crates only. */
  checksum?: string | undefined;
  /**
   * Digests of the code of its build script / proc macro as the runtime observed it (core/pins);
   * a kind that is absent was not observed, and its pin is not checked by selection.
   */
  content?: Partial<Record<ContentKind, string>> | undefined;
}

/** Where a table is: for messages and provenance. */
export interface EntryRef {
  file: string;
  /** Key path of the table: `build.openssl-sys`, or `build.openssl-sys[1]` in an array of tables. */
  table: string;
  line: number | undefined;
  /** Key path segments of the table, to find the lines of its keys. */
  at: readonly KeySegment[];
}

export interface SkippedEntry {
  entry: EntryRef;
  reason: string;
}

export interface StalePin {
  entry: EntryRef;
  /** What the entry was reviewed for. */
  version: string | undefined;
  checksum: string | undefined;
  /** The content pins the entry holds (`build-script`, `proc-macro`). */
  content: Partial<Record<ContentKind, string>>;
  failed: ("version" | "checksum" | ContentKind)[];
}

export type Selection =
  | { kind: "selected"; entry: EntryRef; data: GrantEntry; skipped: SkippedEntry[] }
  | { kind: "none"; skipped: SkippedEntry[] }
  | { kind: "pin-mismatch"; stale: StalePin[]; skipped: SkippedEntry[] }
  | { kind: "ambiguous"; entries: EntryRef[]; skipped: SkippedEntry[] };

export function selectEntry(parsed: ParsedProfile, crate: CrateIdentity, phase: GrantPhase): Selection {
  const raw = Object.hasOwn(parsed.profile[phase] ?? {}, crate.name) ? parsed.profile[phase]![crate.name] : undefined;
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw.map((d, i) => [d, i] as const) : [[raw, undefined] as const];
  const skipped: SkippedEntry[] = [];
  const stale: StalePin[] = [];
  const matching: { entry: EntryRef; data: GrantEntry }[] = [];
  const resolvedChecksum = crate.checksum === undefined ? undefined : parseChecksum(crate.checksum);

  for (const [data, index] of list) {
    const at: KeySegment[] = [phase, crate.name, ...(index === undefined ? [] : [index])];
    const entry: EntryRef = { file: parsed.file, table: toKeyPath(at), line: lineOf(parsed.lines, at), at };
    if (data.source !== crate.source) {
      skipped.push({
        entry,
        reason: `it selects ${data.source} crates; this ${crate.name} comes from ${crate.source === "path" ? "a path" : crate.source === "git" ? "git" : "a registry"}`,
      });
      continue;
    }
    const failed: StalePin["failed"] = [];
    if (data.version !== undefined && !matchesCargoVersionReq(data.version, crate.version)) failed.push("version");
    if (data.checksum !== undefined && !(resolvedChecksum?.ok && resolvedChecksum.value === data.checksum)) failed.push("checksum");
    const content: StalePin["content"] = {};
    for (const kind of CONTENT_KINDS) {
      const pin = data[kind];
      if (pin === undefined) continue;
      content[kind] = pin;
      const seen = crate.content?.[kind];
      if (seen !== undefined && seen !== pin) failed.push(kind);
    }
    if (failed.length > 0) stale.push({ entry, version: data.version, checksum: data.checksum, content, failed });
    else matching.push({ entry, data });
  }

  if (matching.length === 1) return { kind: "selected", ...matching[0]!, skipped: [...skipped, ...stale.map(asSkipped)] };
  if (matching.length > 1) return { kind: "ambiguous", entries: matching.map((m) => m.entry), skipped };
  if (stale.length > 0) return { kind: "pin-mismatch", stale, skipped };
  return { kind: "none", skipped };
}

/** When one table of several pinned ones applies, the others were for other versions: not an error. */
function asSkipped(s: StalePin): SkippedEntry {
  return { entry: s.entry, reason: `it is pinned to ${describePins(s)}` };
}

export function describePins(s: Pick<StalePin, "version" | "checksum"> & { content?: StalePin["content"] }): string {
  return [
    s.version === undefined ? undefined : `version ${s.version}`,
    s.checksum === undefined ? undefined : `checksum ${s.checksum}`,
    ...CONTENT_KINDS.map((k) => (s.content?.[k] === undefined ? undefined : `${k} ${s.content[k]}`)),
  ]
    .filter((x) => x !== undefined)
    .join(" and ");
}
