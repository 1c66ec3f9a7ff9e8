/**
 * The settings of one review: cratebox.toml's [review] table with the command line on top. Pure.
 * A wrong value is a usage error (exit 2).
 */
import path from "node:path";
import type { ReviewTable } from "../profile/schema.ts";
import { AGE_ACCEPTED, parseAge, parseTime, TIME_ACCEPTED } from "./age.ts";
import type { CoolOffPolicy } from "./cool-off.ts";
import { reviewError } from "./errors.ts";

const REVIEW_FORMATS = ["text", "json", "github", "markdown"] as const;
export type ReviewFormat = (typeof REVIEW_FORMATS)[number];

/** What the command line says (raw, unvalidated). */
export interface ReviewOptions {
  base?: string;
  minAge?: string;
  now?: string;
  index?: string;
  diff?: string;
  format?: string;
  json?: boolean;
}

export interface ReviewSettings {
  base: string | undefined;
  coolOff: CoolOffPolicy;
  now: Date;
  nowFrom: "--now" | "clock";
  /** An absolute directory or an http(s) URL; undefined: only what cargo's config names. */
  index: string | undefined;
  format: ReviewFormat;
  diff: string | undefined;
}

export function toReviewSettings(table: ReviewTable | undefined, o: ReviewOptions, clock: Date, where: { cwd: string; workspaceRoot: string }): ReviewSettings {
  if (o.json && o.format !== undefined && o.format !== "json")
    throw reviewError("REVIEW_USAGE", `--json and --format ${o.format} contradict each other`, "give one of them");
  const format = o.json ? "json" : (o.format ?? "text");
  if (!(REVIEW_FORMATS as readonly string[]).includes(format)) {
    throw reviewError("REVIEW_USAGE", `--format ${format} is not a review format`, `one of ${REVIEW_FORMATS.join(", ")}`);
  }
  let minAgeMs = table?.["min-age"] ?? null;
  if (o.minAge !== undefined) {
    const age = parseAge(o.minAge);
    if (!age.ok) throw reviewError("REVIEW_USAGE", `--min-age: ${age.message}`, `expected ${AGE_ACCEPTED}`);
    minAgeMs = age.value;
  }
  let now = clock;
  if (o.now !== undefined) {
    const t = parseTime(o.now);
    if (!t.ok) throw reviewError("REVIEW_USAGE", `--now: ${t.message}`, `expected ${TIME_ACCEPTED}`);
    now = t.value;
  }
  if (o.diff !== undefined && o.diff.trim() === "") throw reviewError("REVIEW_USAGE", "--diff needs a crate name", "for example: cratebox review --diff serde");
  // --index is relative to where the command runs; cratebox.toml's to the workspace root.
  const index =
    o.index !== undefined ? toIndexLocation(o.index, where.cwd) : table?.index !== undefined ? toIndexLocation(table.index, where.workspaceRoot) : undefined;
  return {
    base: o.base,
    coolOff: { minAgeMs, requirePubtime: table?.["require-pubtime"] ?? false, exemptions: table?.exempt ?? [] },
    now,
    nowFrom: o.now !== undefined ? "--now" : "clock",
    index,
    format: format as ReviewFormat,
    diff: o.diff?.trim(),
  };
}

function toIndexLocation(written: string, from: string): string {
  const raw = written.replace(/^sparse\+/, "");
  if (/^https?:\/\//i.test(raw)) return raw.endsWith("/") ? raw : `${raw}/`;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw))
    throw reviewError(
      "REVIEW_USAGE",
      `index ${raw}: only a directory or an http(s) URL`,
      "for example: --index https://index.crates.io/ or --index vendor/registry",
    );
  return path.resolve(from, raw);
}
