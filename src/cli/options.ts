/**
 * cratebox's own command-line options: the one table yargs is given and `cargo cratebox` reads
 * to tell cratebox's options (and their values) from cargo's arguments.
 */
import type { Options } from "yargs";
import { LIMIT_FIELDS, LIMIT_TABLE } from "../core/limits.ts";
import { BACKEND_CHOICES } from "../runtime/sandbox/backend.ts";

const limitOptions = Object.fromEntries(
  LIMIT_FIELDS.map((f) => [LIMIT_TABLE[f].flag, { type: "string", describe: `${LIMIT_TABLE[f].describe} Every step of this run; wins over cratebox.toml.` }]),
) as Record<string, Options>;

export const OPTIONS = {
  env: { type: "string", array: true, nargs: 1, describe: "approve: variables (or NAME_* patterns) to pass" },
  read: { type: "string", array: true, nargs: 1, describe: "approve: host paths to mount read-only" },
  write: { type: "string", array: true, nargs: 1, describe: "approve: host paths to mount writable" },
  use: { type: "string", array: true, nargs: 1, describe: "approve: built-in profiles (c-toolchain, pkg-config, openssl, sys-conventions)" },
  network: { type: "boolean", describe: "approve: full network access (prefer --connect)" },
  connect: {
    type: "string",
    array: true,
    nargs: 1,
    describe: "approve: a host:port the crate may reach through cratebox's egress proxy (repeatable; *.domain:port for any name below domain)",
  },
  test: { type: "boolean", describe: "approve/deny: the crate's test binaries instead of its build script" },
  "crate-version": { type: "string", describe: "approve/deny/provenance: which version, when there are several" },
  carry: { type: "boolean", describe: "approve: move the table's pins to the resolved version only if its build-script/proc-macro code is unchanged" },
  repo: { type: "string", describe: "provenance: a clone of the crate's git repository to compare the published package with" },
  ...limitOptions,
  report: { type: "string", describe: "write a JSON report of every sandboxed step to this file" },
  backend: {
    type: "string",
    choices: BACKEND_CHOICES,
    describe: "what runs the sandboxes: auto (bwrap where it works, else the Docker engine), bwrap, docker; also CRATEBOX_BACKEND",
  },
  policy: {
    type: "string",
    array: true,
    nargs: 1,
    describe: "an organisation policy file (JavaScript, run in an isolated V8); repeatable; also CRATEBOX_POLICY and cratebox.toml's policy",
  },
  workspace: { type: "string", describe: "policy test: the workspace to evaluate (default: the current directory)" },
  strict: { type: "boolean", describe: "every crate with a build script must be listed in cratebox.toml (granted, or reviewed = true)" },
  quiet: { alias: "q", type: "boolean", describe: "print nothing of cratebox's own unless something failed" },
  // cratebox review
  base: { type: "string", describe: "review: the git ref to compare Cargo.lock with (default: the merge base with the upstream branch, else HEAD)" },
  "min-age": { type: "string", describe: "review: cool-off, e.g. 7d: a newer release fails the review (also [review] min-age)" },
  now: { type: "string", describe: "review: the time to judge ages at (RFC 3339), for reproducible runs" },
  index: { type: "string", describe: "review/provenance: a local registry, sparse-index mirror directory or sparse index URL for pubtime and .crate files" },
  diff: { type: "string", describe: "review: print the full diff of this crate, build script first" },
  format: { type: "string", describe: "review: text (default), json, github (annotations) or markdown (a PR comment)" },
  json: { type: "boolean", describe: "review: the report as JSON (docs/review.schema.json); provenance: its result as JSON" },
} satisfies Record<string, Options>;

/** `--policy`, `-q`: is this argument one of cratebox's options that takes the next argument as its value? */
export function takesValue(arg: string): boolean {
  const name = arg.replace(/^-+/, "");
  if (arg.includes("=")) return false;
  for (const [long, o] of Object.entries(OPTIONS) as [string, Options][]) {
    if (name === long || (typeof o.alias === "string" && name === o.alias)) return o.type !== "boolean";
  }
  return false;
}
