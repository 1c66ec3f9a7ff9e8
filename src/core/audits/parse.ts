/**
 * cargo-vet's audit files as evidence (issue 15): `supply-chain/audits.toml` and
 * `supply-chain/imports.lock`, parsed TOML in, audits and criteria out. Pure.
 *
 * Format (https://mozilla.github.io/cargo-vet/audit-entries.html):
 *   [criteria.<name>]  description = "...", implies = "<criteria>" | [...]
 *   [[audits.<crate>]] who = "..." | [...], criteria = "..." | [...],
 *                      one of: version = "1.2.3" | delta = "1.2.3 -> 1.3.0" | violation = "<req>",
 *                      notes = "..."
 * imports.lock holds the same per imported source: `[[audits.<import>.audits.<crate>]]`,
 * `[audits.<import>.criteria.<name>]`. Keys cargo-vet added later (`importable`,
 * `aggregated-from`) are read past. `wildcard-audits` and `trusted` entries are not read: they
 * vouch for a publisher, not for reviewed code; what was skipped is said in `notes`.
 */
import * as z from "zod";
import { parseCargoVersionReq } from "../profile/version-req.ts";

export interface Audit {
  crate: string;
  who: string[];
  criteria: string[];
  /** Exactly one of the three. */
  version: string | undefined;
  delta: { from: string; to: string } | undefined;
  violation: string | undefined;
  notes: string | undefined;
  /** The file, and the import it came from in imports.lock: `supply-chain/imports.lock (import mozilla)`. */
  source: string;
}

interface CriteriaDef {
  name: string;
  implies: string[];
  source: string;
}

export interface AuditBook {
  audits: Audit[];
  criteria: CriteriaDef[];
  /** What was read but not used (wildcard audits, trusted publishers). */
  notes: string[];
}

export const EMPTY_AUDITS: AuditBook = { audits: [], criteria: [], notes: [] };

const oneOrMore = z.union([z.string().min(1), z.array(z.string().min(1))]).transform((v) => (Array.isArray(v) ? v : [v]));

const entrySchema = z
  .looseObject({
    who: oneOrMore.optional(),
    criteria: oneOrMore,
    version: z.string().min(1).optional(),
    delta: z
      .string()
      .regex(/^\s*\S+\s*->\s*\S+\s*$/, 'a delta "1.2.3 -> 1.3.0"')
      .optional(),
    violation: z
      .string()
      .min(1)
      .refine((r) => parseCargoVersionReq(r).ok, 'a version requirement such as "<1.2.4" or ">=2.0.0, <2.1.0"')
      .optional(),
    notes: z.string().optional(),
  })
  .refine((e) => [e.version, e.delta, e.violation].filter((x) => x !== undefined).length === 1, "an audit has exactly one of version, delta, violation");

const criteriaSchema = z.looseObject({ description: z.string().optional(), "description-url": z.string().optional(), implies: oneOrMore.optional() });

const auditsFileSchema = z.looseObject({
  criteria: z.record(z.string(), criteriaSchema).optional(),
  audits: z.record(z.string(), z.unknown()).optional(),
  "wildcard-audits": z.record(z.string(), z.unknown()).optional(),
  trusted: z.record(z.string(), z.unknown()).optional(),
});

export type ParsedAudits = { ok: true; book: AuditBook } | { ok: false; problems: string[] };

/** One audit file's parsed TOML -> its audits and criteria, or every problem with its key path. */
export function parseAuditFile(raw: unknown, file: string): ParsedAudits {
  const top = auditsFileSchema.safeParse(raw);
  if (!top.success) return { ok: false, problems: top.error.issues.map((i) => `${file}: ${i.path.join(".") || "the file"}: ${i.message}`) };
  const book: AuditBook = { audits: [], criteria: [], notes: [] };
  const problems: string[] = [];
  const skipped = Object.keys({ ...top.data["wildcard-audits"], ...top.data.trusted });
  if (skipped.length)
    book.notes.push(`${file}: wildcard-audits and trusted entries (${skipped.join(", ")}) are not read: they trust a publisher, not reviewed code`);
  readSection(top.data, file, "", book, problems);
  return problems.length ? { ok: false, problems } : { ok: true, book };
}

/** `[criteria]` and `[audits]` of audits.toml, or of one import of imports.lock (`prefix` `audits.<import>.`). */
function readSection(data: z.infer<typeof auditsFileSchema>, file: string, prefix: string, book: AuditBook, problems: string[]): void {
  const source = prefix === "" ? file : `${file} (import ${prefix.split(".")[1]})`;
  for (const [name, c] of Object.entries(data.criteria ?? {})) book.criteria.push({ name, implies: c.implies ?? [], source });
  for (const [key, value] of Object.entries(data.audits ?? {})) {
    // imports.lock: audits.<import> is a table with its own criteria and audits.
    if (prefix === "" && isTable(value)) {
      const inner = auditsFileSchema.safeParse(value);
      if (inner.success && ("audits" in value || "criteria" in value)) readSection(inner.data, file, `audits.${key}.`, book, problems);
      else problems.push(`${file}: audits.${key}: not an array of audits ([[audits.${key}]]) nor an imported source`);
      continue;
    }
    if (!Array.isArray(value)) {
      problems.push(`${file}: ${prefix}audits.${key}: expected an array of audits ([[audits.${key}]])`);
      continue;
    }
    value.forEach((entry, i) => {
      const e = entrySchema.safeParse(entry);
      if (!e.success) {
        for (const issue of e.error.issues)
          problems.push(`${file}: ${prefix}audits.${key}[${i}]${issue.path.length ? `.${issue.path.join(".")}` : ""}: ${issue.message}`);
        return;
      }
      const delta = e.data.delta === undefined ? undefined : /^\s*(\S+)\s*->\s*(\S+)\s*$/.exec(e.data.delta)!;
      book.audits.push({
        crate: key,
        who: e.data.who ?? [],
        criteria: e.data.criteria,
        version: e.data.version?.trim(),
        delta: delta ? { from: delta[1]!, to: delta[2]! } : undefined,
        violation: e.data.violation,
        notes: e.data.notes,
        source,
      });
    });
  }
}

/** Several files read into one book, in the order given. */
export function mergeAuditBooks(books: readonly AuditBook[]): AuditBook {
  return { audits: books.flatMap((b) => b.audits), criteria: books.flatMap((b) => b.criteria), notes: books.flatMap((b) => b.notes) };
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
