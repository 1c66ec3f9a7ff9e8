/**
 * `cratebox.pins.json`: what each content pin in cratebox.toml covers, written by `cratebox
 * approve` next to cratebox.toml. Pure: text in, text out.
 *
 * cratebox.toml holds only the digest; it decides. The record says which files and packages the
 * digest was made of, so that a mismatch can show what changed (files added, removed or edited,
 * dependencies moved), and so that a pin can be checked, or carried to a new version, before a
 * build has left dep-info. A record counts only when it hashes to its own key: a record edited by
 * hand (or by anything else) is ignored, never believed.
 */
import * as z from "zod";
import { CONTENT_KINDS, type ContentRecord, contentDigest, toContentRecord } from "./content.ts";

export const PINS_FILE = "cratebox.pins.json";

const recordSchema = z.strictObject({
  crate: z.string(),
  version: z.string(),
  kind: z.enum(CONTENT_KINDS),
  /** Path from the package root -> SHA-256 of its content. */
  files: z.record(z.string(), z.string()),
  deps: z.array(z.strictObject({ name: z.string(), version: z.string(), source: z.string().nullable(), checksum: z.string().nullable() })),
});

const fileSchema = z.object({
  version: z.literal(1),
  pins: z.record(z.string(), recordSchema),
});

/** A record with the crate and version it was written for (not part of the digest). */
export interface StoredRecord extends ContentRecord {
  crate: string;
  version: string;
}

export interface PinRecords {
  /** Verified records by digest (`sha256:<hex>`). */
  records: Map<string, StoredRecord>;
  /** Why records or the file were ignored. */
  problems: string[];
}

export const NO_RECORDS: PinRecords = { records: new Map(), problems: [] };

/** The file's text -> the records that hash to their own key. A broken file is ignored whole (said in `problems`). */
export function parsePinRecords(text: string, file: string): PinRecords {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { records: new Map(), problems: [`${file} is not JSON (${(err as Error).message}); its records are ignored`] };
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) return { records: new Map(), problems: [`${file} is not a pin record file (${parsed.error.issues[0]?.message}); ignored`] };
  const records = new Map<string, StoredRecord>();
  const problems: string[] = [];
  for (const [digest, r] of Object.entries(parsed.data.pins)) {
    const record = toContentRecord(
      r.kind,
      Object.entries(r.files).map(([path, sha256]) => ({ path, sha256 })),
      r.deps,
    );
    if (contentDigest(record) !== digest) {
      problems.push(`${file}: the record under ${digest} (${r.crate} ${r.version}) does not hash to it; ignored`);
      continue;
    }
    records.set(digest, { ...record, crate: r.crate, version: r.version });
  }
  return { records, problems };
}

/**
 * The file with `add` recorded, keeping only the records whose digests `keep` still holds (the
 * pins of cratebox.toml after the edit): old pins' records do not pile up.
 */
export function toPinRecordsText(current: PinRecords, add: readonly StoredRecord[], keep: ReadonlySet<string>): string {
  const all = new Map(current.records);
  for (const r of add) all.set(contentDigest(r), r);
  const pins = Object.fromEntries(
    [...all.entries()]
      .filter(([digest]) => keep.has(digest))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([digest, r]) => [
        digest,
        { crate: r.crate, version: r.version, kind: r.kind, files: Object.fromEntries(r.files.map((f) => [f.path, f.sha256])), deps: r.deps },
      ]),
  );
  return `${JSON.stringify({ version: 1, pins }, null, 2)}\n`;
}
