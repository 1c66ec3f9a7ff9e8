/**
 * cratebox.toml text -> the validated profile, or every problem in it at once. Pure: the runtime
 * reads the file and hands its text in.
 *
 * TOML syntax first (one error, with smol-toml's line), then the schema (schema.ts: every
 * unknown key, wrong type, bad size, duration, path, version requirement, checksum, network
 * entry... each with its line, key path and what is accepted). Warnings do not fail the file.
 */
import { parse as parseToml, TomlError } from "smol-toml";
import type * as z from "zod";
import { CrateboxError } from "../errors.ts";
import { toKeyPath } from "./key-path.ts";
import { formatProfileIssue, toProfileIssues, type ProfileIssue, type SchemaRoot } from "./issues.ts";
import { GRANT_PHASES, type GrantPhase } from "../phase.ts";
import { profileSchema, type GrantEntry, type Profile } from "./schema.ts";
import { locateKeys, lineOf, type KeyLines } from "./toml-lines.ts";

export { formatProfileIssue, type ProfileIssue };

/** A validated cratebox.toml with where it came from (for messages and provenance). */
export interface ParsedProfile {
  file: string;
  profile: Profile;
  /** Key path -> line, see toml-lines.ts. */
  lines: KeyLines;
}

export type ParseResult<T> = { ok: true; value: T; warnings: ProfileIssue[] } | { ok: false; issues: ProfileIssue[] };

export function parseProfile(text: string, file: string): ParseResult<ParsedProfile> {
  const doc = parseTomlDocument(text, file);
  if (!doc.ok) return doc;
  const checked = validate(profileSchema, doc.value, { file, lines: doc.lines, root: "profile" });
  if (!checked.ok) return checked;
  const parsed: ParsedProfile = { file, profile: checked.value, lines: doc.lines };
  return { ok: true, value: parsed, warnings: warningsOf(parsed) };
}

/** TOML text -> plain data and key lines, or the syntax error as one issue with its line. */
export function parseTomlDocument(text: string, file: string): { ok: true; value: unknown; lines: KeyLines } | { ok: false; issues: ProfileIssue[] } {
  try {
    // Keys such as __proto__ are refused: the data is walked by generic code afterwards.
    const value = parseToml(text, { unsafeKeyBehaviour: "throw" });
    return { ok: true, value, lines: locateKeys(text) };
  } catch (e) {
    // Anything smol-toml throws is about the text (a RangeError on absurd nesting included):
    // reported like a syntax error, never thrown at the caller.
    const message = (e instanceof Error ? e.message : String(e)).split("\n")[0]!.replace(/^Invalid TOML document: /, "");
    const line = e instanceof TomlError ? e.line : undefined;
    return { ok: false, issues: [{ file, line, path: "", message: `TOML syntax error: ${message}`, accepted: undefined }] };
  }
}

/** Runs a schema over parsed TOML; every zod issue becomes a ProfileIssue. Never throws on bad data. */
export function validate<S extends z.ZodType>(
  schema: S,
  data: unknown,
  ctx: { file: string; lines: KeyLines; root: SchemaRoot },
): { ok: true; value: z.output<S>; warnings: ProfileIssue[] } | { ok: false; issues: ProfileIssue[] } {
  const r = schema.safeParse(data, { reportInput: true });
  if (r.success) return { ok: true, value: r.data, warnings: [] };
  return { ok: false, issues: toProfileIssues(r.error.issues, ctx) };
}

/** Grants that are valid but deserve a loud line: writable host paths. */
function warningsOf(parsed: ParsedProfile): ProfileIssue[] {
  const out: ProfileIssue[] = [];
  for (const { scope, name, index, entry } of entriesOf(parsed.profile)) {
    for (const [i, p] of (entry.write ?? []).entries()) {
      const at = [scope, name, ...(index === undefined ? [] : [index]), "write", i];
      out.push({
        file: parsed.file,
        line: lineOf(parsed.lines, at),
        path: toKeyPath(at),
        message: `grants WRITE access to ${p} on the host to ${scope === "build" ? "the build script of" : "the test binaries of"} ${name}: it can change or plant files there`,
        accepted: undefined,
      });
    }
  }
  return out;
}

/** Every crate table of a profile, flattened: `[build.x]` has no index, `[[build.x]]` has one. */
export function entriesOf(profile: Profile): { scope: GrantPhase; name: string; index: number | undefined; entry: GrantEntry }[] {
  const out: { scope: GrantPhase; name: string; index: number | undefined; entry: GrantEntry }[] = [];
  for (const scope of GRANT_PHASES) {
    for (const [name, value] of Object.entries(profile[scope] ?? {})) {
      if (Array.isArray(value)) value.forEach((entry, index) => void out.push({ scope, name, index, entry }));
      else out.push({ scope, name, index: undefined, entry: value });
    }
  }
  return out;
}

/** A failed parse as the known error the CLI renders (exit 2, no stack). */
export class ProfileInvalidError extends CrateboxError {
  readonly issues: readonly ProfileIssue[];
  constructor(issues: readonly ProfileIssue[]) {
    const file = issues[0]?.file ?? "cratebox.toml";
    super(
      "PROFILE_INVALID",
      `${file} is not valid (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n${issues.map((i) => `  ${formatProfileIssue(i)}`).join("\n")}`,
      "fix the file and check it with `cratebox profiles check`",
    );
    this.name = "ProfileInvalidError";
    this.issues = issues;
  }
}
