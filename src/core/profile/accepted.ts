/**
 * What each key of cratebox.toml accepts, in words, for error messages ("accepted: ..."). Keys
 * with the same name mean the same in every table. Pure text; the rules are in schema.ts.
 */
import { LIMIT_FIELDS, LIMIT_TABLE } from "../limits.ts";
import { BUILTIN_PROFILE_NAMES } from "./builtin-names.ts";
import { CHECKSUM_ACCEPTED, ENV_ACCEPTED, FETCH_URL_ACCEPTED, HOST_PORT_ACCEPTED, IMAGE_ACCEPTED, PATH_ACCEPTED, SHA256_ACCEPTED } from "./values.ts";
import { VERSION_REQ_ACCEPTED } from "./version-req.ts";

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
};
