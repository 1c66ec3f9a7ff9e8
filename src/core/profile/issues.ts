/**
 * Problems found in a profile file, as users read them: file, line, key path, what is wrong,
 * what would be accepted. Converts zod's issues into these, one per problem. Pure.
 */
import type * as z from "zod";
import { toKeyPath, type KeySegment } from "./key-path.ts";
import { ACCEPTED, REVIEW_ACCEPTED, ROOT_ACCEPTED } from "./accepted.ts";
import { TABLE_KEYS } from "./schema.ts";
import { lineOf, type KeyLines } from "./toml-lines.ts";

export interface ProfileIssue {
  file: string;
  /** 1-based line in the file, when it could be found. */
  line: number | undefined;
  /** Key path such as `build.openssl-sys.memory` or `build.openssl-sys[1].env[0]`; "" for the whole file. */
  path: string;
  message: string;
  /** What would have been accepted there. */
  accepted: string | undefined;
}

/** `cratebox.toml:12: build.openssl-sys.memory: "lots" is not a size (accepted: a size such as ...)` */
export function formatProfileIssue(issue: ProfileIssue): string {
  const where = issue.line === undefined ? issue.file : `${issue.file}:${issue.line}`;
  const path = issue.path === "" ? "" : ` ${issue.path}:`;
  const accepted = issue.accepted === undefined ? "" : ` (accepted: ${issue.accepted})`;
  return `${where}:${path} ${issue.message}${accepted}`;
}

export interface IssueContext {
  file: string;
  lines: KeyLines;
  root: SchemaRoot;
}

export function toProfileIssues(issues: readonly z.core.$ZodIssue[], ctx: IssueContext): ProfileIssue[] {
  const out: ProfileIssue[] = [];
  for (const issue of issues) collect(issue, [], ctx, out);
  // One problem, one line: unions and nested checks can report the same thing twice.
  const seen = new Set<string>();
  const unique = out.filter((i) => {
    const key = `${i.path}\0${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  // In file order, so a reader can fix them top to bottom (stable: same line keeps zod's order).
  return unique.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
}

function collect(issue: z.core.$ZodIssue, base: readonly KeySegment[], ctx: IssueContext, out: ProfileIssue[]): void {
  const path = [...base, ...(issue.path as KeySegment[])];
  const push = (message: string, accepted?: string, at: readonly KeySegment[] = path) =>
    out.push({
      file: ctx.file,
      line: lineOf(ctx.lines, at),
      path: toKeyPath(at),
      message,
      accepted: accepted ?? describeLocation(ctx.root, at).accepted,
    });

  switch (issue.code) {
    case "unrecognized_keys": {
      const known = describeLocation(ctx.root, path).keys ?? [];
      for (const key of issue.keys) {
        const guess = suggest(key, known);
        push(
          `unknown key ${JSON.stringify(key)}${guess ? ` (did you mean ${JSON.stringify(guess)}?)` : ""}`,
          known.length > 0 ? `one of ${known.join(", ")}` : undefined,
          [...path, key],
        );
      }
      return;
    }
    case "invalid_union": {
      // Pick the branch whose type matched the value (a table vs an array of tables, a size as
      // text vs a number) and report its problems; if none matched, the type was wrong.
      const matched = issue.errors.filter((branch) => !branch.some(isRootTypeMismatch));
      if (matched.length === 0) {
        push(`has the wrong type: ${describeValue(issue.input)}`);
        return;
      }
      for (const nested of matched[0]!) collect(nested, path, ctx, out);
      return;
    }
    case "invalid_key": {
      for (const nested of issue.issues) {
        push(nested.message, (nested as { params?: { accepted?: string } }).params?.accepted);
      }
      return;
    }
    case "invalid_element": {
      for (const nested of issue.issues) collect(nested, path, ctx, out);
      return;
    }
    case "invalid_type":
      push(issue.input === undefined ? "is missing" : `has the wrong type: ${describeValue(issue.input)}`);
      return;
    case "invalid_value": {
      if (issue.input === undefined) {
        push("is missing");
        return;
      }
      const known = issue.values.filter((v): v is string => typeof v === "string");
      const guess = typeof issue.input === "string" ? suggest(issue.input, known) : undefined;
      push(`${describeValue(issue.input)} is not accepted here${guess ? ` (did you mean ${JSON.stringify(guess)}?)` : ""}`);
      return;
    }
    case "too_small":
      push(issue.origin === "array" ? "is an empty list" : issue.origin === "string" ? "is empty" : issue.message);
      return;
    case "custom":
      push(issue.message, (issue.params as { accepted?: string } | undefined)?.accepted);
      return;
    default:
      push(issue.message);
  }
}

function isRootTypeMismatch(issue: z.core.$ZodIssue): boolean {
  if (issue.path.length > 0) return false;
  if (issue.code === "invalid_type") return true;
  return issue.code === "invalid_union" && issue.errors.every((b) => b.some(isRootTypeMismatch));
}

/** "the string "x"", "the number 5", "a table", ... for messages. */
function describeValue(v: unknown): string {
  if (v === undefined) return "nothing";
  if (typeof v === "string") return `the string ${JSON.stringify(v)}`;
  if (typeof v === "number" || typeof v === "bigint") return `the number ${String(v)}`;
  if (typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return "a list";
  if (v instanceof Date) return "a date";
  if (typeof v === "object" && v !== null) return "a table";
  return typeof v;
}

/** The closest known word within a small edit distance, for "did you mean". */
function suggest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(word.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return Infinity;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

// ---- locations --------------------------------------------------------------------------------

export type SchemaRoot = "profile" | "builtin";

/**
 * For a problem at `path`: the keys valid in the table there (for unknown-key messages) and
 * what the value there accepts.
 */
function describeLocation(root: SchemaRoot, path: readonly KeySegment[]): { keys?: readonly string[]; accepted?: string | undefined } {
  if (root === "builtin") {
    return path.length === 0 ? { keys: TABLE_KEYS.builtin, accepted: "a table of capabilities" } : { accepted: ACCEPTED[String(path[0])] };
  }
  const [top, name, ...rest] = path;
  if (top === undefined) return { keys: TABLE_KEYS.root, accepted: "a TOML table" };
  if (top === "build" || top === "test" || top === "rustc") {
    if (name === undefined) return { accepted: ROOT_ACCEPTED[top] };
    const inner = typeof rest[0] === "number" ? rest.slice(1) : rest;
    if (inner.length > 0) return { accepted: ACCEPTED[String(inner[0])] };
    return {
      keys: TABLE_KEYS.entry,
      accepted: typeof rest[0] === "number" ? "a table" : `a table [${top}.${String(name)}], or several [[${top}.${String(name)}]]`,
    };
  }
  if (top === "review") {
    // review.min-age, review.exempt, review.exempt[2].checksum
    const [, , index, key] = path;
    if (name === undefined) return { keys: TABLE_KEYS.review, accepted: ROOT_ACCEPTED.review };
    if (name === "exempt" && typeof index === "number")
      return key === undefined ? { keys: TABLE_KEYS.exempt, accepted: "a table" } : { accepted: REVIEW_ACCEPTED[String(key)] };
    return { accepted: REVIEW_ACCEPTED[String(name)] };
  }
  if (top === "defaults") {
    return name === undefined ? { keys: TABLE_KEYS.defaults, accepted: ROOT_ACCEPTED.defaults } : { accepted: ACCEPTED[String(name)] };
  }
  return { accepted: ROOT_ACCEPTED[String(top)] ?? ACCEPTED[String(top)] };
}
