/**
 * What `cratebox approve` (and `deny`) write as content pins (issue 15), and `approve --carry`:
 * moving a table's version pin to a new version only when the pinned code did not change.
 */
import { statSync } from "node:fs";
import path from "node:path";
import type { GraphCrate } from "../../core/crate-graph.ts";
import { CrateboxError } from "../../core/errors.ts";
import { type ContentObservation, describeContentMismatch, observeFromDepInfo } from "../../core/pins/check.ts";
import { CONTENT_KIND_TEXT, CONTENT_KINDS, type ContentKind } from "../../core/pins/content.ts";
import { parseDepInfo, toAbsolute } from "../../core/pins/dep-info.ts";
import { type StoredRecord, toPinRecordsText } from "../../core/pins/records.ts";
import { entriesOf, parseProfile } from "../../core/profile/parse.ts";
import type { GrantEntry } from "../../core/profile/schema.ts";
import type { ContentPins } from "./book.ts";
import { contentDiff } from "./explain.ts";
import { findDepInfo, observeCode, readIfPresent } from "./observe.ts";

export interface PinPlan {
  /** Digests to write; null removes a pin that cannot stay. */
  contentPins: Partial<Record<ContentKind, string | null>>;
  /** Records to add to cratebox.pins.json. */
  records: StoredRecord[];
  /** What to tell the user. */
  lines: string[];
}

/** The kinds of build-time code a crate has. */
export function contentKindsOf(crate: Pick<GraphCrate, "hasBuildScript" | "isProcMacro">): ContentKind[] {
  return CONTENT_KINDS.filter((k) => (k === "build-script" ? crate.hasBuildScript : crate.isProcMacro));
}

/**
 * The content pins an approval writes: the code each build-time part of the crate was compiled
 * from, by the newest dep-info an earlier build left. Without dep-info nothing can be pinned; a
 * pin the table had is removed then (it pins other code), and the user is told to build first.
 */
export function planContentPins(pins: ContentPins, crate: GraphCrate, current: GrantEntry | undefined): PinPlan {
  const plan: PinPlan = { contentPins: {}, records: [], lines: [] };
  const ctx = pins.context();
  for (const kind of contentKindsOf(crate)) {
    const what = `${crate.name} ${crate.version}'s ${CONTENT_KIND_TEXT[kind]}`;
    const depInfo = findDepInfo(pins.src.buildDirs, crate, kind, ctx.workspaceRoot);
    if (!depInfo) {
      if (current?.[kind] !== undefined) plan.contentPins[kind] = null;
      plan.lines.push(
        `${what} is not pinned to its code: no dep-info from a build yet. Build first (cratebox cargo build), then \`cratebox approve ${crate.name}\` again${current?.[kind] !== undefined ? `; its old ${kind} pin was removed (it pins other code)` : ""}`,
      );
      continue;
    }
    const seen = observeFromDepInfo(crate, kind, depInfo, ctx, readIfPresent);
    plan.contentPins[kind] = seen.digest;
    plan.records.push({ ...seen.record, crate: crate.name, version: crate.version });
    const deps = seen.record.deps.length;
    plan.lines.push(
      `${kind} = "${seen.digest}": ${what}, ${seen.record.files.length} file${seen.record.files.length === 1 ? "" : "s"} (${seen.record.files
        .slice(0, 6)
        .map((f) => f.path)
        .join(", ")}${seen.record.files.length > 6 ? ", ..." : ""})${deps ? ` and ${deps} linked package${deps === 1 ? "" : "s"}` : ""}`,
    );
    const newer = newerThan(depInfo.file, depInfo.text, { packageRoot: crate.manifestDir, workspaceRoot: ctx.workspaceRoot });
    if (newer.length)
      plan.lines.push(
        `  note: ${newer.join(", ")} changed after that build: if the change makes rustc read other files, the next build stops and names them; approve again then`,
      );
  }
  return plan;
}

/** Listed files modified after the dep-info was written: the dep-info may not list everything any more. */
function newerThan(depInfoFile: string, text: string, roots: { packageRoot: string; workspaceRoot: string }): string[] {
  const written = statSync(depInfoFile).mtimeMs;
  return parseDepInfo(text).flatMap((f) => {
    const abs = toAbsolute(f, roots);
    try {
      return statSync(abs).mtimeMs > written ? [path.relative(roots.packageRoot, abs) || abs] : [];
    } catch {
      return [];
    }
  });
}

export type CarryResult = { carried: true; lines: string[] } | { carried: false; message: string };

/**
 * `approve --carry`: every content pin of the crate's table must still hold for the version cargo
 * resolved now, observed from that version's dep-info or, before a build, from the files the
 * pin's record lists. Unchanged: the caller moves the version pin. Changed: what changed, with
 * the diff. Neither observable: CARRY_UNKNOWN (exit 2).
 */
export async function checkCarry(pins: ContentPins, crate: GraphCrate, current: GrantEntry | undefined): Promise<CarryResult> {
  const table = `[build.${crate.name}]`;
  if (!current)
    throw new CrateboxError("CARRY_UNKNOWN", `--carry moves a pin, but there is no single ${table} table`, `approve it: cratebox approve ${crate.name}`);
  const pinned = CONTENT_KINDS.filter((k) => current[k] !== undefined);
  if (pinned.length === 0)
    throw new CrateboxError(
      "CARRY_UNKNOWN",
      `${table} has no build-script or proc-macro pin, so nothing tells whether the code changed`,
      `review the new version, then: cratebox approve ${crate.name}`,
    );
  const ctx = pins.context();
  const seen: [ContentKind, string, ContentObservation][] = [];
  for (const kind of pinned) {
    const pin = current[kind]!;
    const obs = observeCode(crate, kind, pin, ctx, pins.src.buildDirs);
    if (!obs)
      throw new CrateboxError(
        "CARRY_UNKNOWN",
        `${table} ${kind} = "${pin}": cratebox.pins.json has no record of what it covers and ${crate.name} ${crate.version} has no dep-info, so nothing tells whether its code changed`,
        `review the new version, then: cratebox approve ${crate.name}`,
      );
    seen.push([kind, pin, obs]);
  }
  const changed = seen.filter(([, pin, obs]) => obs.digest !== pin);
  if (changed.length === 0) {
    return {
      carried: true,
      lines: seen.map(([kind, pin, obs]) => `${kind} unchanged in ${crate.name} ${crate.version} (${pin}, from ${obs.from})`),
    };
  }
  const parts: string[] = [];
  for (const [kind, pin, obs] of changed) {
    const record = ctx.records.get(pin);
    parts.push(
      `${crate.name} ${crate.version}: the ${CONTENT_KIND_TEXT[kind]} changed since ${table} was reviewed; the pin was not carried` +
        describeContentMismatch(pin, obs, ctx.records) +
        (record ? await contentDiff(crate, record, obs, { workspaceRoot: pins.src.workspaceRoot, env: pins.src.env, maxLines: 200 }) : ""),
    );
  }
  return { carried: false, message: `${parts.join("\n")}\nreview the change, then: cratebox approve ${crate.name}` };
}

/**
 * cratebox.pins.json after an edit of cratebox.toml: the new records added, and only the records
 * whose digests the new file still pins kept. Undefined: nothing to write (no pins, no file).
 */
export function toRecordsFile(pins: ContentPins, newToml: string, file: string, add: readonly StoredRecord[], exists: boolean): string | undefined {
  const parsed = parseProfile(newToml, file);
  const keep = new Set<string>();
  if (parsed.ok) for (const e of entriesOf(parsed.value.profile)) for (const k of CONTENT_KINDS) if (e.entry[k] !== undefined) keep.add(e.entry[k]);
  if (keep.size === 0 && !exists) return undefined;
  return toPinRecordsText(pins.records, add, keep);
}
