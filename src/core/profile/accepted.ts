/**
 * What each key of cratebox.toml accepts, in words, for error messages ("accepted: ..."). Keys
 * with the same name mean the same in every table. Pure text; the rules are in schema.ts.
 */
import { LIMIT_FIELDS, LIMIT_TABLE } from "../limits.ts";
import { BUILTIN_PROFILE_NAMES } from "./builtin-names.ts";
import { CHECKSUM_ACCEPTED, ENV_ACCEPTED, FETCH_URL_ACCEPTED, HOST_PORT_ACCEPTED, IMAGE_ACCEPTED, PATH_ACCEPTED, SHA256_ACCEPTED } from "./values.ts";
import { VERSION_REQ_ACCEPTED } from "./version-req.ts";
import { AGE_ACCEPTED } from "../review/age.ts";

const NETWORK_ACCEPTED = `false (no network, the default), a list of hosts reached through cratebox's egress proxy (${HOST_PORT_ACCEPTED}), or true (unrestricted network)`;

export const ACCEPTED: Readonly<Record<string, string>> = {
  ...Object.fromEntries(LIMIT_FIELDS.map((f) => [LIMIT_TABLE[f].key, LIMIT_TABLE[f].accepted])),
  image: IMAGE_ACCEPTED,
  runtime: '"runc" (the default) or "runsc" (gVisor, where the engine has it)',
  use: `a list of built-in profile names: ${BUILTIN_PROFILE_NAMES.map((n) => `"${n}"`).join(", ")}`,
  env: `a list of variable names or patterns: ${ENV_ACCEPTED}`,
  read: `a list of paths: ${PATH_ACCEPTED}`,
  write: `a list of paths: ${PATH_ACCEPTED}`,
  network: NETWORK_ACCEPTED,
  fetch: `a list of tables { url = "...", sha256 = "..." }: url is ${FETCH_URL_ACCEPTED}; sha256 is ${SHA256_ACCEPTED}`,
  url: FETCH_URL_ACCEPTED,
  sha256: SHA256_ACCEPTED,
  version: VERSION_REQ_ACCEPTED,
  source: '"registry", "path" or "git"',
  checksum: CHECKSUM_ACCEPTED,
  reviewed: "true or false",
  cargo: "true (a nested cargo in the test binary, e.g. trybuild, gets a cleaned copy of your cargo configuration) or false",
  strict: "true or false",
  directives: 'a list of directives such as "rustc-link-arg=-fuse-ld=lld", * matching anything',
  policy: 'a list of policy files, e.g. ["policies/org-ci.js"] (.js, relative to the workspace root or absolute)',
  description: "a sentence saying what the profile is for",
};

export const ROOT_ACCEPTED: Readonly<Record<string, string>> = {
  version: "1 (the only version of cratebox.toml this cratebox reads)",
  defaults: "a table [defaults] of limits, image and runtime",
  build: "tables [build.<crate>], one per crate whose build script gets a grant",
  test: "tables [test.<package>], one per package whose test, bench and run binaries get a grant",
  rustc: "tables [rustc.<crate>], one per crate whose compilation (its proc macros, compile-time reads) gets a grant",
  review: "a table [review] of min-age, require-pubtime, index and [[review.exempt]]",
};

const EXEMPT_ACCEPTED =
  "a table { name, version, checksum, reason }: the exact version and Cargo.lock's checksum of the release it exempts (a name-only exemption would outlive the release it was made for)";

/** What the keys of [review] and of each [[review.exempt]] accept (`cratebox review`). */
export const REVIEW_ACCEPTED: Readonly<Record<string, string>> = {
  "min-age": AGE_ACCEPTED,
  "require-pubtime": "true or false",
  index: 'a directory (a local registry or sparse-index mirror) or an http(s) URL of a sparse index, e.g. "https://index.crates.io/"',
  exempt: `a list of tables [[review.exempt]], each ${EXEMPT_ACCEPTED}`,
  name: "the package's name",
  version: 'the exact version of the release, e.g. "1.2.3" (an exemption is pinned to name, version and checksum)',
  checksum: `${CHECKSUM_ACCEPTED} (an exemption is pinned to name, version and checksum)`,
  reason: "a sentence saying why this release may skip the cool-off",
};
