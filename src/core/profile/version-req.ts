/**
 * Cargo's version requirements ("0.9", "^1.2.3", "~1", "=0.9.103", ">=1, <2", "1.*") checked
 * against a resolved version. Pure.
 *
 * Cargo's syntax (the `semver` crate, https://doc.rust-lang.org/cargo/reference/specifying-dependencies.html)
 * is parsed here and translated into an npm `semver` range, whose matching rules are the same
 * once the syntax is translated: a bare version means caret, a bare wildcard is an x-range,
 * comparators are separated by commas, and a pre-release only matches a comparator of the same
 * major.minor.patch that has a pre-release itself. npm syntax that cargo does not know
 * ("1 - 2", "||", "v1", "1.2.3+build") is refused rather than silently accepted.
 */
import type { ValueResult } from "./values.ts";

/**
 * The `semver` package, loaded when first used: evaluating it costs about 8 ms, and this module
 * is loaded on every `cratebox cargo` start, a no-op's included, that matches no version
 * (issue 13). The bundle (scripts/build.ts) carries it all the same: rolldown bundles a
 * `require` of a package.
 */
export function semver(): typeof import("semver") {
  loaded ??= require("semver") as typeof import("semver");
  return loaded;
}
let loaded: typeof import("semver") | undefined;

export const VERSION_REQ_ACCEPTED = 'a cargo version requirement such as "0.9", "^1.2.3", "~1.4", "=0.9.103", ">=1.2, <2" or "1.*"';

const NUM = "(?:0|[1-9]\\d*)";
const WILD = "(?:\\*|x|X)";
const PRE = "[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*";
const COMPARATOR = new RegExp(`^(=|>=|>|<=|<|~|\\^)?\\s*(${NUM})(?:\\.(${NUM}|${WILD})(?:\\.(${NUM}|${WILD})(?:-(${PRE}))?)?)?$`);

/** The npm range for a cargo requirement, or why it is not one. */
export function parseCargoVersionReq(raw: string): ValueResult<string> {
  const fail = (why: string): ValueResult<string> => ({
    ok: false,
    message: `${JSON.stringify(raw)} is not a cargo version requirement: ${why}`,
    accepted: VERSION_REQ_ACCEPTED,
  });
  const text = raw.trim();
  if (text === "") return fail("it is empty");
  if (/^[*xX]$/.test(text)) return { ok: true, value: "*" };
  const parts: string[] = [];
  for (const piece of text.split(",")) {
    const c = piece.trim();
    if (c === "") return fail("an empty comparator between commas");
    const m = COMPARATOR.exec(c);
    if (!m) return fail(`${JSON.stringify(c)} is not a comparator such as "1.2.3", "^1.2" or ">=1, <2"`);
    const [, op, major, minor, patch, pre] = m;
    const minorWild = minor !== undefined && /^[*xX]$/.test(minor);
    const patchWild = patch !== undefined && /^[*xX]$/.test(patch);
    if (minorWild && patch !== undefined && !patchWild) return fail(`${JSON.stringify(c)} has a number after a wildcard`);
    if (pre?.split(".").some((id) => /^\d+$/.test(id) && id.length > 1 && id.startsWith("0"))) {
      return fail(`${JSON.stringify(c)} has a numeric pre-release identifier with a leading zero`);
    }
    const version =
      [major, minor === undefined ? undefined : minorWild ? "x" : minor, patch === undefined ? undefined : patchWild ? "x" : patch]
        .filter((v) => v !== undefined)
        .join(".") + (pre === undefined ? "" : `-${pre}`);
    // No operator: caret for a version, an x-range for a wildcard (cargo's `1.*` is not `^1`).
    const npmOp = op ?? (minorWild || patchWild ? "" : "^");
    parts.push(`${npmOp}${version}`);
  }
  const range = parts.join(" ");
  return semver().validRange(range) === null ? fail("it is not a range") : { ok: true, value: range };
}

/** Each requirement's range, parsed once: a preflight checks one against many crates and phases. */
const ranges = new Map<string, import("semver").Range | null>();

/**
 * Does the resolved `version` (as `cargo metadata` reports it) satisfy the requirement?
 * An unparsable requirement or version never matches: a pin that cannot be checked does not hold.
 */
export function matchesCargoVersionReq(req: string, version: string): boolean {
  let range = ranges.get(req);
  if (range === undefined) {
    const parsed = parseCargoVersionReq(req);
    range = parsed.ok ? new (semver().Range)(parsed.value) : null;
    ranges.set(req, range);
  }
  const v = semver().parse(version);
  return range !== null && v !== null && range.test(v);
}
