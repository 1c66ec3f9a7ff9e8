#!/usr/bin/env node
/**
 * The command line: a thin adapter over runtime/run-cargo.ts and runtime/doctor.ts.
 *   cratebox [options] cargo <cargo arguments...>   everything after `cargo` goes to cargo as is
 *   cratebox doctor
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import yargs from "yargs";
import { CrateboxError, EXIT } from "../core/errors.ts";
import { LIMIT_FIELDS, LIMIT_TABLE, type Limits } from "../core/limits.ts";
import { PACKAGE_ROOT } from "../runtime/image.ts";
import type { CommandContext } from "../runtime/profile-commands.ts";
import { BACKEND_CHOICES, type BackendChoice } from "../runtime/sandbox/backend.ts";
import { OPTIONS, takesValue } from "./options.ts";
import { ProgressLine } from "./progress.ts";
import { renderError } from "./render-error.ts";

/** cratebox's commands, for `--help`. */
const COMMANDS: [string, string][] = [
  ["cargo", "run cargo with every build script and test binary sandboxed (all further arguments go to cargo)"],
  ["learn", "learn cargo <args>: run with nothing granted, trace every step, propose a cratebox.toml (never applied)"],
  ["doctor", "check the engine, the image, the toolchain, and that limits are really enforced"],
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

function parser(argv: string[]) {
  const y = yargs(argv)
    .scriptName("cratebox")
    .usage(
      "$0 [options] cargo <cargo arguments...>\n$0 doctor\n$0 profiles ls|explain <crate>|check|prune|diff <crate>\n$0 approve|deny <crate> [grants]\n$0 review [--base REF] [--diff CRATE] [--format text|json|github|markdown]\n$0 provenance <crate> --repo PATH",
    );
  // The commands are only registered when help is asked for: yargs renders the whole help text
  // on every run of a registered command (to have it at hand), which cost a no-op build ~30 ms.
  // Unregistered, the command is simply the first positional argument, as main() reads it.
  if (argv.includes("--help") || argv.includes("-h")) for (const [name, describe] of COMMANDS) y.command(name, describe);
  return y
    .options(OPTIONS)
    .strictOptions()
    .help()
    .version(readOwnVersion())
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new CrateboxError("USAGE", msg, "see `cratebox --help`");
    });
}

/** Limits given on the command line (the highest layer; unset ones come from the profiles). */
function toLimitOverrides(args: Record<string, unknown>): Partial<Limits> {
  const out: Partial<Limits> = {};
  for (const field of LIMIT_FIELDS) {
    const raw = args[LIMIT_TABLE[field].flag];
    if (typeof raw === "string") out[field] = LIMIT_TABLE[field].parse(raw);
  }
  return out;
}

/** `--backend` or CRATEBOX_BACKEND: auto (the default), bwrap or docker. */
function toBackendChoice(raw: string | undefined): BackendChoice {
  if (raw === undefined || raw === "") return "auto";
  if ((BACKEND_CHOICES as readonly string[]).includes(raw)) return raw as BackendChoice;
  throw new CrateboxError("USAGE", `unknown backend ${JSON.stringify(raw)} (CRATEBOX_BACKEND or --backend)`, `one of: ${BACKEND_CHOICES.join(", ")}`);
}

/** The version in cratebox's package.json. */
function readOwnVersion(): string {
  return (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }).version;
}

async function main(argv: string[]): Promise<number> {
  // Everything after the first bare `cargo` belongs to cargo, untouched by cratebox's parser.
  const split = argv.indexOf("cargo");
  const own = split >= 0 ? argv.slice(0, split + 1) : argv;
  const cargoArgs = split >= 0 ? argv.slice(split + 1) : [];
  const args = await parser(own).parseAsync();
  const [command] = args._.map(String);
  if (args.help || args.version) return 0;
  const ctx: CommandContext = {
    cwd: args.workspace ? path.resolve(args.workspace) : process.cwd(),
    env: process.env,
    cargo: process.env.CARGO ?? "cargo",
    print: (l) => process.stdout.write(`${l}\n`),
    ...(args.policy ? { policies: args.policy } : {}),
  };
  const positional = args._.map(String).slice(1);
  // Each command's code loads when it runs: a build needs none of the profile commands, the
  // review or doctor (a no-op build's start counts, issue 13).
  const commands = () => import("../runtime/profile-commands.ts");
  if (command === "profiles") {
    const { profilesLs, profilesExplain, profilesCheck, profilesPrune, profilesDiff } = await commands();
    const [sub, name] = positional;
    const needName = (what: string) => {
      if (!name) throw new CrateboxError("USAGE", `\`cratebox profiles ${what}\` needs a crate name`, `for example: cratebox profiles ${what} openssl-sys`);
      return name;
    };
    switch (sub) {
      case "ls":
        return profilesLs(ctx);
      case "explain":
        return profilesExplain(ctx, needName("explain"));
      case "check":
        return profilesCheck(ctx, Boolean(args.strict));
      case "prune":
        return profilesPrune(ctx);
      case "diff":
        return profilesDiff(ctx, needName("diff"));
      default:
        throw new CrateboxError(
          "USAGE",
          sub ? `unknown profiles command "${sub}"` : "which profiles command?",
          "cratebox profiles ls|explain <crate>|check|prune|diff <crate>",
        );
    }
  }
  if (command === "policy") {
    const [sub, file] = positional;
    if (sub !== "test" || !file)
      throw new CrateboxError(
        "USAGE",
        "usage: cratebox policy test <file> [--workspace <dir>]",
        "for example: cratebox policy test profiles/policies/strict-ci-baseline.js",
      );
    return (await commands()).policyTest(ctx, path.resolve(file));
  }
  if (command === "approve" || command === "deny") {
    const [crate] = positional;
    if (!crate) throw new CrateboxError("USAGE", `\`cratebox ${command}\` needs a crate name`, `for example: cratebox ${command} openssl-sys`);
    return (await commands()).approve(ctx, {
      crate,
      phase: args.test ? "test" : "build",
      deny: command === "deny",
      ...(args["crate-version"] ? { version: args["crate-version"] } : {}),
      ...(args.env ? { env: args.env } : {}),
      ...(args.read ? { read: args.read } : {}),
      ...(args.write ? { write: args.write } : {}),
      ...(args.use ? { use: args.use } : {}),
      ...(args.network !== undefined ? { network: args.network } : {}),
      ...(args.connect ? { connect: args.connect } : {}),
      ...(args.carry ? { carry: true } : {}),
    });
  }
  if (command === "provenance") {
    const [crate, extra] = positional;
    if (!crate || extra !== undefined)
      throw new CrateboxError(
        "USAGE",
        "usage: cratebox provenance <crate> --repo PATH [--crate-version V] [--json]",
        "for example: cratebox provenance openssl-sys --repo ../rust-openssl",
      );
    const given = { crate, version: args["crate-version"], repo: args.repo, index: args.index, json: args.json };
    const { runProvenance } = await import("../runtime/provenance/run-provenance.ts");
    return runProvenance(
      { ...ctx, print: (text) => process.stdout.write(text) },
      Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as { crate: string },
    );
  }
  if (command === "review") {
    if (positional.length > 0)
      throw (await import("../core/review/errors.ts")).reviewError(
        "REVIEW_USAGE",
        `\`cratebox review\` takes no arguments (got ${positional.join(" ")})`,
        "cratebox review [--base REF] [--diff CRATE] [--format text|json|github|markdown]",
      );
    // `cratebox review --diff x | head`: a reader that stops early is not an error.
    process.stdout.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") throw err;
    });
    const given = { base: args.base, minAge: args["min-age"], now: args.now, index: args.index, diff: args.diff, format: args.format, json: args.json };
    const { runReview } = await import("../runtime/review/run-review.ts");
    return runReview({ ...ctx, print: (text) => process.stdout.write(text) }, Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)));
  }
  if (command === "doctor") {
    const { runDoctor } = await import("../runtime/doctor.ts");
    const checks = await runDoctor(
      process.env,
      process.cwd(),
      (l) => process.stdout.write(`${l}\n`),
      toBackendChoice(args.backend ?? process.env.CRATEBOX_BACKEND),
    );
    return checks.every((c) => c.ok) ? 0 : 1;
  }
  const learn = command === "learn" && args._.map(String)[1] === "cargo";
  if (command !== "cargo" && !learn) {
    throw new CrateboxError(
      "USAGE",
      command ? `unknown command "${command}"` : "no command given",
      "usage: cratebox [options] cargo <cargo arguments...> | cratebox doctor",
    );
  }
  if (cargoArgs.length === 0) throw new CrateboxError("USAGE", "no cargo arguments given", "for example: cratebox cargo build --release");
  // Quiet in CI; a live progress line only on an interactive terminal.
  const quiet = Boolean(args.quiet);
  const tty = process.stderr.isTTY && !process.env.CI && !quiet && process.stderr.rows >= 5;
  const progress = tty
    ? new ProgressLine(
        (s) => process.stderr.write(s),
        () => process.stderr.rows,
      )
    : undefined;
  const onResize = () => progress?.resized();
  process.stderr.on("resize", onResize);
  const log = (line: string) => process.stderr.write(`cratebox: ${line}\n`);
  try {
    const { runCargo } = await import("../runtime/run-cargo.ts");
    return await runCargo({
      cargoArgs,
      cwd: process.cwd(),
      env: process.env,
      limitOverrides: toLimitOverrides(args),
      strict: Boolean(args.strict),
      learn,
      ...(args.policy ? { policies: args.policy } : {}),
      ...(args.report ? { reportFile: args.report } : {}),
      backend: toBackendChoice(args.backend ?? process.env.CRATEBOX_BACKEND),
      quiet,
      log,
      ...(progress ? { onStepStart: () => progress.started(), onStepEnd: (o) => progress.finished(o) } : {}),
    });
  } finally {
    process.stderr.off("resize", onResize);
    progress?.stop();
  }
}

/** `cargo cratebox build ...`: cargo runs `cargo-cratebox cratebox build ...`. */
export function fromCargoSubcommand(argv: string[]): string[] {
  const rest = argv[0] === "cratebox" ? argv.slice(1) : argv;
  // cratebox's own options may come first: `cargo cratebox --memory 1g build`.
  const firstCargo = rest.findIndex((a, i) => !a.startsWith("-") && !(i > 0 && takesValue(rest[i - 1]!)));
  if (firstCargo < 0) return rest;
  return [...rest.slice(0, firstCargo), "cargo", ...rest.slice(firstCargo)];
}

export async function runMain(argv: string[]): Promise<void> {
  let code: number;
  try {
    code = await main(argv);
  } catch (err) {
    code = renderError(err, (s) => process.stderr.write(s));
  }
  process.exitCode = code ?? EXIT.USAGE;
}
