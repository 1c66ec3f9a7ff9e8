/**
 * Cargo's version requirements ("0.9", "^1.2.3", "~1", "=0.9.103", ">=1, <2", "1.*") checked
 * against a resolved version. Pure.
 *
 * Parsed and matched by the rules of the `semver` crate that cargo uses
 * (https://doc.rust-lang.org/cargo/reference/specifying-dependencies.html; its parse.rs and
 * eval.rs): a bare version means caret, a bare wildcard matches that major (and minor),
 * comparators are separated by commas and must all hold, spaces (ASCII spaces only) may stand
 * around operators and commas, and a pre-release only matches when a comparator of the same
 * major.minor.patch has a pre-release itself. npm's syntax that cargo does not know ("1 - 2",
 * "||", "v1") is refused rather than silently accepted; so are two things cargo accepts and a
 * grant has no use for: build metadata in a comparator ("1.2.3+build", which cargo ignores) and
 * numbers beyond 2^53. test/unit holds this against answers of cargo's own semver crate, and
 * against the npm `semver` package for released versions (with a pre-release the two part).
 * npm's package is not used here: its start (its regular expressions) cost about 7 ms of every
 * run that checks a pinned version (issue 13).
 */
import type { ValueResult } from "./values.ts";

/** One comparator of a requirement: an operator and a version that may stop after major or minor. */
interface VersionComparator {
  op: "=" | ">" | ">=" | "<" | "<=" | "~" | "^" | "*";
  major: number;
  minor?: number;
  patch?: number;
  /** The pre-release's identifiers, empty for none. */
  pre: string[];
}

/** A requirement: every comparator must hold (none: `*`, any version that is not a pre-release). */
export type VersionReq = VersionComparator[];

export const VERSION_REQ_ACCEPTED = 'a cargo version requirement such as "0.9", "^1.2.3", "~1.4", "=0.9.103", ">=1.2, <2" or "1.*"';

const NUM = "(?:0|[1-9]\\d*)";
const WILD = "(?:\\*|x|X)";
const PRE = "[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*";
const COMPARATOR = new RegExp(`^(=|>=|>|<=|<|~|\\^)? *(${NUM})(?:\\.(${NUM}|${WILD})(?:\\.(${NUM}|${WILD})(?:-(${PRE}))?)?)?$`);

/** As many comparators as cargo's semver crate takes in one requirement. */
const MAX_COMPARATORS = 32;

/** Cargo skips ASCII spaces, and nothing else (a tab, a newline), around comparators. */
const trimSpaces = (text: string) => text.replace(/^ +| +$/g, "");

/** The comparators of a cargo requirement, or why it is not one. */
export function parseCargoVersionReq(raw: string): ValueResult<VersionReq> {
  const fail = (why: string): ValueResult<VersionReq> => ({
    ok: false,
    message: `${JSON.stringify(raw)} is not a cargo version requirement: ${why}`,
    accepted: VERSION_REQ_ACCEPTED,
  });
  const text = trimSpaces(raw);
  if (text === "") return fail("it is empty");
  if (/^[*xX]$/.test(text)) return { ok: true, value: [] };
  const req: VersionReq = [];
  const pieces = text.split(",");
  if (pieces.length > MAX_COMPARATORS) return fail(`more than ${MAX_COMPARATORS} comparators (cargo's limit)`);
  for (const piece of pieces) {
    const c = trimSpaces(piece);
    if (c === "") return fail("an empty comparator between commas");
    const m = COMPARATOR.exec(c);
    if (!m) return fail(`${JSON.stringify(c)} is not a comparator such as "1.2.3", "^1.2" or ">=1, <2"`);
    const [, op, major, minor, patch, pre] = m;
    const minorWild = minor !== undefined && /^[*xX]$/.test(minor);
    const patchWild = patch !== undefined && /^[*xX]$/.test(patch);
    if (minorWild && patch !== undefined && !patchWild) return fail(`${JSON.stringify(c)} has a number after a wildcard`);
    if (patchWild && pre !== undefined) return fail(`${JSON.stringify(c)} has a pre-release after a wildcard`);
    if (pre?.split(".").some((id) => /^\d+$/.test(id) && id.length > 1 && id.startsWith("0"))) {
      return fail(`${JSON.stringify(c)} has a numeric pre-release identifier with a leading zero`);
    }
    const number = (n: string | undefined, wild: boolean) => (n === undefined || wild ? undefined : Number(n));
    const numbers = [Number(major), number(minor, minorWild), number(patch, patchWild)];
    if (numbers.some((n) => n !== undefined && !Number.isSafeInteger(n))) return fail(`${JSON.stringify(c)} has a number too large`);
    // No operator: caret for a version, a wildcard's own for a wildcard (cargo's `1.*` is not `^1`).
    req.push({
      op: (op as VersionComparator["op"] | undefined) ?? (minorWild || patchWild ? "*" : "^"),
      major: numbers[0]!,
      ...(numbers[1] === undefined ? {} : { minor: numbers[1] }),
      ...(numbers[2] === undefined ? {} : { patch: numbers[2] }),
      pre: pre === undefined ? [] : pre.split("."),
    });
  }
  return { ok: true, value: req };
}

/** A resolved version as `cargo metadata` reports it ("0.9.103", "1.1.0-beta.1", "0.1.11+1.0.8"). */
interface Version {
  major: number;
  minor: number;
  patch: number;
  pre: string[];
}

const VERSION = new RegExp(`^(${NUM})\\.(${NUM})\\.(${NUM})(?:-(${PRE}))?(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?$`);

function parseVersion(text: string): Version | undefined {
  const m = VERSION.exec(text);
  if (!m) return undefined;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (![major, minor, patch].every(Number.isSafeInteger)) return undefined;
  return { major, minor, patch, pre: m[4] === undefined ? [] : m[4].split(".") };
}

/** Whether cratebox can read this resolved version (numbers up to 2^53): one it cannot matches no requirement. */
export function isCargoVersion(text: string): boolean {
  return parseVersion(text) !== undefined;
}

/** Pre-releases in semver's order; no pre-release is greater than any. */
function comparePre(a: string[], b: string[]): number {
  if (a.length === 0 || b.length === 0) return b.length - a.length;
  for (let i = 0; i < a.length; i++) {
    if (i >= b.length) return 1;
    const [x, y] = [a[i]!, b[i]!];
    const [xNum, yNum] = [/^\d+$/.test(x), /^\d+$/.test(y)];
    if (xNum !== yNum) return xNum ? -1 : 1;
    const order = xNum ? x.length - y.length || (x < y ? -1 : x > y ? 1 : 0) : x < y ? -1 : x > y ? 1 : 0;
    if (order !== 0) return order;
  }
  return a.length === b.length ? 0 : -1;
}

/** A comparison of numbers: -1, 0 or 1. */
const cmp = (a: number, b: number) => Math.sign(a - b);

function matchesExact(c: VersionComparator, v: Version): boolean {
  return (
    v.major === c.major && (c.minor === undefined || v.minor === c.minor) && (c.patch === undefined || v.patch === c.patch) && comparePre(v.pre, c.pre) === 0
  );
}

/** The version's order against the comparator's, for `>` (sign 1) and `<` (sign -1): a missing part never holds. */
function beyond(c: VersionComparator, v: Version, sign: 1 | -1): boolean {
  if (v.major !== c.major) return cmp(v.major, c.major) === sign;
  if (c.minor === undefined) return false;
  if (v.minor !== c.minor) return cmp(v.minor, c.minor) === sign;
  if (c.patch === undefined) return false;
  if (v.patch !== c.patch) return cmp(v.patch, c.patch) === sign;
  return Math.sign(comparePre(v.pre, c.pre)) === sign;
}

function matchesTilde(c: VersionComparator, v: Version): boolean {
  if (v.major !== c.major || (c.minor !== undefined && v.minor !== c.minor)) return false;
  if (c.patch !== undefined && v.patch !== c.patch) return v.patch > c.patch;
  return comparePre(v.pre, c.pre) >= 0;
}

function matchesCaret(c: VersionComparator, v: Version): boolean {
  if (v.major !== c.major) return false;
  if (c.minor === undefined) return true;
  if (c.patch === undefined) return c.major > 0 ? v.minor >= c.minor : v.minor === c.minor;
  if (c.major > 0) {
    if (v.minor !== c.minor) return v.minor > c.minor;
    if (v.patch !== c.patch) return v.patch > c.patch;
  } else if (c.minor > 0) {
    if (v.minor !== c.minor) return false;
    if (v.patch !== c.patch) return v.patch > c.patch;
  } else if (v.minor !== c.minor || v.patch !== c.patch) {
    return false;
  }
  return comparePre(v.pre, c.pre) >= 0;
}

function matchesComparator(c: VersionComparator, v: Version): boolean {
  switch (c.op) {
    case "=":
    case "*":
      return matchesExact(c, v);
    case ">":
      return beyond(c, v, 1);
    case ">=":
      return matchesExact(c, v) || beyond(c, v, 1);
    case "<":
      return beyond(c, v, -1);
    case "<=":
      return matchesExact(c, v) || beyond(c, v, -1);
    case "~":
      return matchesTilde(c, v);
    case "^":
      return matchesCaret(c, v);
  }
}

/** Does the version satisfy every comparator, pre-release rule included (the semver crate's matches_req)? */
function matchesReq(req: VersionReq, v: Version): boolean {
  if (!req.every((c) => matchesComparator(c, v))) return false;
  return v.pre.length === 0 || req.some((c) => c.major === v.major && c.minor === v.minor && c.patch === v.patch && c.pre.length > 0);
}

/** Each requirement, parsed once: a preflight checks one against many crates and phases. */
const parsedReqs = new Map<string, VersionReq | null>();

/**
 * Does the resolved `version` (as `cargo metadata` reports it) satisfy the requirement?
 * An unparsable requirement or version never matches: a pin that cannot be checked does not hold.
 */
export function matchesCargoVersionReq(req: string, version: string): boolean {
  let parsed = parsedReqs.get(req);
  if (parsed === undefined) {
    const r = parseCargoVersionReq(req);
    parsed = r.ok ? r.value : null;
    parsedReqs.set(req, parsed);
  }
  const v = parseVersion(version);
  return parsed !== null && v !== undefined && matchesReq(parsed, v);
}
