/**
 * cratebox's own command line: the one table of options, read by node:util's parseArgs (built
 * into Node, so nothing loads at start: issue 13 measured yargs at ~80 ms of a no-op build's
 * start), by `--help`, and by `cargo cratebox` to tell cratebox's options (and their values) from
 * cargo's arguments.
 */
import { parseArgs } from "node:util";
import { BACKEND_CHOICES } from "../core/backends.ts";
import { CrateboxError } from "../core/errors.ts";
import { LIMIT_FIELDS, LIMIT_TABLE } from "../core/limits.ts";

interface OptionSpec {
  type: "string" | "boolean";
  /** Repeatable: every occurrence is kept, in order. */
  multiple?: boolean;
  short?: string;
  /** The values accepted, checked after parsing. */
  choices?: readonly string[];
  describe: string;
}

const limitOptions: Record<string, OptionSpec> = Object.fromEntries(
  LIMIT_FIELDS.map((f) => [LIMIT_TABLE[f].flag, { type: "string", describe: `${LIMIT_TABLE[f].describe} Every step of this run; wins over cratebox.toml.` }]),
);

export const OPTIONS = {
  env: { type: "string", multiple: true, describe: "approve: variables (or NAME_* patterns) to pass" },
  read: { type: "string", multiple: true, describe: "approve: host paths to mount read-only" },
  write: { type: "string", multiple: true, describe: "approve: host paths to mount writable" },
  use: { type: "string", multiple: true, describe: "approve: built-in profiles (c-toolchain, pkg-config, openssl, sys-conventions)" },
  network: { type: "boolean", describe: "approve: full network access (prefer --connect); --no-network records that it has none" },
  connect: {
    type: "string",
    multiple: true,
    describe: "approve: a host:port the crate may reach through cratebox's egress proxy (repeatable; *.domain:port for any name below domain)",
  },
  cargo: { type: "boolean", describe: "approve --test: a nested cargo in its test binaries (trybuild) gets a cleaned copy of the cargo configuration" },
  test: { type: "boolean", describe: "approve/deny: the crate's test binaries instead of its build script" },
  "crate-version": { type: "string", describe: "approve/deny/provenance: which version, when there are several" },
  carry: { type: "boolean", describe: "approve: move the table's pins to the resolved version only if its build-script/proc-macro code is unchanged" },
  repo: { type: "string", describe: "provenance: a clone of the crate's git repository to compare the published package with" },
  report: { type: "string", describe: "write a JSON report of every sandboxed step to this file" },
  backend: {
    type: "string",
    choices: BACKEND_CHOICES,
    describe: "what runs the sandboxes: auto (bwrap where it works, else the Docker engine), bwrap, docker; also CRATEBOX_BACKEND",
  },
  policy: {
    type: "string",
    multiple: true,
    describe: "an organisation policy file (JavaScript, run in an isolated V8); repeatable; also CRATEBOX_POLICY and cratebox.toml's policy",
  },
  workspace: { type: "string", describe: "policy test: the workspace to evaluate (default: the current directory)" },
  strict: { type: "boolean", describe: "every crate with a build script must be listed in cratebox.toml (granted, or reviewed = true)" },
  quiet: { short: "q", type: "boolean", describe: "print nothing of cratebox's own unless something failed" },
  // cratebox review
  base: { type: "string", describe: "review: the git ref to compare Cargo.lock with (default: the merge base with the upstream branch, else HEAD)" },
  "min-age": { type: "string", describe: "review: cool-off, e.g. 7d: a newer release fails the review (also [review] min-age)" },
  now: { type: "string", describe: "review: the time to judge ages at (RFC 3339), for reproducible runs" },
  index: { type: "string", describe: "review/provenance: a local registry, sparse-index mirror directory or sparse index URL for pubtime and .crate files" },
  diff: { type: "string", describe: "review: print the full diff of this crate, build script first" },
  format: { type: "string", describe: "review: text (default), json, github (annotations) or markdown (a PR comment)" },
  json: { type: "boolean", describe: "review: the report as JSON (docs/review.schema.json); provenance: its result as JSON" },
  help: { short: "h", type: "boolean", describe: "this help" },
  version: { type: "boolean", describe: "cratebox's version" },
} as const satisfies Record<string, OptionSpec>;

type Spec = typeof OPTIONS;
/** The options given, by name; a limit's flag (`memory`, `tmp-size`, ...) is a string too. */
export type OwnOptions = {
  [K in keyof Spec]?: Spec[K] extends { type: "boolean" } ? boolean : Spec[K] extends { multiple: true } ? string[] : string;
} & { [limitFlag: string]: string | boolean | string[] | undefined };

const ALL: Record<string, OptionSpec> = { ...OPTIONS, ...limitOptions };

/** cratebox's commands, for `--help`. */
const COMMANDS: [string, string][] = [
  ["cargo", "run cargo with every rustc call, build script and test binary sandboxed (all further arguments go to cargo)"],
  ["learn", "learn cargo <args>: run with nothing granted, trace every step, propose a cratebox.toml (never applied)"],
  ["doctor", "check the backends, the toolchain, and that limits are really enforced"],
  [
    "profiles",
    "ls: every crate and its grant; explain <crate>: each capability and where it came from; check: validate (for CI); prune: drop tables matching nothing; diff <crate>: build.rs changes since a stale pin",
  ],
  ["policy", "test <file>: print a policy's decisions for the workspace, without building"],
  ["approve", "write a grant for <crate> into cratebox.toml, pinned to the resolved version and checksum"],
  ["deny", "record <crate> as reviewed with no grant (default deny), pinned"],
  ["review", "what a Cargo.lock change brings in, riskiest first: new build scripts and proc macros, checksums, sources, cool-off (exit 1 when it fails)"],
  ["provenance", "<crate> --repo PATH: is the published package what its repository holds at the commit it names? (exit 1 when not, or unverifiable)"],
];

const USAGE = [
  "cratebox [options] cargo <cargo arguments...>",
  "cratebox doctor",
  "cratebox profiles ls|explain <crate>|check|prune|diff <crate>",
  "cratebox approve|deny <crate> [grants]",
  "cratebox review [--base REF] [--diff CRATE] [--format text|json|github|markdown]",
  "cratebox provenance <crate> --repo PATH",
];

/** cratebox's own arguments (those before `cargo`) -> its options and positional words; a bad one is a USAGE error. */
export function parseOwnArgs(argv: string[]): { options: OwnOptions; positionals: string[] } {
  const config = Object.fromEntries(
    Object.entries(ALL).map(([name, o]) => [name, { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) }]),
  );
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: config, strict: true, allowPositionals: true, allowNegative: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const unknown = /^Unknown option '-*([^']+)'/.exec(e.message)?.[1];
    throw new CrateboxError("USAGE", unknown ? `Unknown argument: ${unknown}` : e.message.split(". ")[0]!, "see `cratebox --help`");
  }
  for (const [name, o] of Object.entries(ALL)) {
    const value = parsed.values[name];
    if (o.choices && typeof value === "string" && !o.choices.includes(value)) {
      throw new CrateboxError("USAGE", `--${name} ${JSON.stringify(value)}: not one of ${o.choices.join(", ")}`, "see `cratebox --help`");
    }
  }
  return { options: parsed.values as OwnOptions, positionals: parsed.positionals };
}

/** `cratebox --help`. */
export function helpText(): string {
  const flag = ([name, o]: [string, OptionSpec]) => `${o.short ? `-${o.short}, ` : ""}--${name}${o.type === "string" ? " VALUE" : ""}`;
  const rows = (items: [string, string][]) => {
    const width = Math.max(...items.map(([l]) => l.length));
    return items.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`);
  };
  return [
    "usage:",
    ...USAGE.map((u) => `  ${u}`),
    "",
    "commands:",
    ...rows(COMMANDS),
    "",
    "options:",
    ...rows(Object.entries(ALL).map((e) => [flag(e), e[1].describe + (e[1].multiple ? " (repeatable)" : "")])),
    "",
  ].join("\n");
}

/** `--policy`, `-q`: is this argument one of cratebox's options that takes the next argument as its value? */
export function takesValue(arg: string): boolean {
  if (arg.includes("=")) return false;
  const name = arg.replace(/^-+/, "");
  for (const [long, o] of Object.entries(ALL)) {
    if (name === long || name === o.short) return o.type !== "boolean";
  }
  return false;
}

/** Everything after the first bare `cargo` belongs to cargo, untouched by cratebox's parser. */
export function splitAtCargo(argv: readonly string[]): { own: string[]; cargoArgs: string[] } {
  const split = argv.indexOf("cargo");
  return split >= 0 ? { own: argv.slice(0, split + 1), cargoArgs: argv.slice(split + 1) } : { own: [...argv], cargoArgs: [] };
}

/** `cargo cratebox build ...`: cargo runs `cargo-cratebox cratebox build ...`. */
export function fromCargoSubcommand(argv: string[]): string[] {
  const rest = argv[0] === "cratebox" ? argv.slice(1) : argv;
  // cratebox's own options may come first: `cargo cratebox --memory 1g build`.
  const firstCargo = rest.findIndex((a, i) => !a.startsWith("-") && !(i > 0 && takesValue(rest[i - 1]!)));
  if (firstCargo < 0) return rest;
  return [...rest.slice(0, firstCargo), "cargo", ...rest.slice(firstCargo)];
}
