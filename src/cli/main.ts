#!/usr/bin/env node
/**
 * The command line: a thin adapter over runtime/run-cargo.ts and runtime/doctor.ts.
 *   cratebox [options] cargo <cargo arguments...>   everything after `cargo` goes to cargo as is
 *   cratebox doctor
 */
import path from "node:path";
import yargs from "yargs";
import { CrateboxError, EXIT_USAGE } from "../core/errors.ts";
import { DEFAULT_LIMITS, parseCount, parseCpus, parseDuration, parseSize, type Limits } from "../core/limits.ts";
import { runCargo } from "../runtime/run-cargo.ts";
import { runDoctor } from "../runtime/doctor.ts";
import { approve, policyTest, profilesCheck, profilesDiff, profilesExplain, profilesLs, profilesPrune, type CommandContext } from "../runtime/profile-commands.ts";
import { reviewError } from "../core/review/errors.ts";
import { runReview } from "../runtime/review/run-review.ts";
import { ProgressLine } from "./progress.ts";
import { renderError } from "./render-error.ts";


function parser(argv: string[]) {
  return yargs(argv)
    .scriptName("cratebox")
    .usage("$0 [options] cargo <cargo arguments...>\n$0 doctor\n$0 profiles ls|explain <crate>|check|prune|diff <crate>\n$0 approve|deny <crate> [grants]\n$0 review [--base REF] [--diff CRATE] [--format text|json|github|markdown]")
    .command("cargo", "run cargo with every build script and test binary sandboxed (all further arguments go to cargo)")
    .command("learn", "learn cargo <args>: run with nothing granted, trace every step, propose a cratebox.toml (never applied)")
    .command("doctor", "check the engine, the image, the toolchain, and that limits are really enforced")
    .command("profiles", "ls: every crate and its grant; explain <crate>: each capability and where it came from; check: validate (for CI); prune: drop tables matching nothing; diff <crate>: build.rs changes since a stale pin")
    .command("policy", "test <file>: print a policy's decisions for the workspace, without building")
    .command("approve", "write a grant for <crate> into cratebox.toml, pinned to the resolved version and checksum")
    .command("deny", "record <crate> as reviewed with no grant (default deny), pinned")
    .command("review", "what a Cargo.lock change brings in, riskiest first: new build scripts and proc macros, checksums, sources, cool-off (exit 1 when it fails)")
    .option("env", { type: "string", array: true, nargs: 1, describe: "approve: variables (or NAME_* patterns) to pass" })
    .option("read", { type: "string", array: true, nargs: 1, describe: "approve: host paths to mount read-only" })
    .option("write", { type: "string", array: true, nargs: 1, describe: "approve: host paths to mount writable" })
    .option("use", { type: "string", array: true, nargs: 1, describe: "approve: built-in profiles (c-toolchain, pkg-config, openssl, sys-conventions)" })
    .option("network", { type: "boolean", describe: "approve: full network access (prefer --connect)" })
    .option("connect", { type: "string", array: true, nargs: 1, describe: "approve: a host:port the crate may reach through cratebox's egress proxy (repeatable; *.domain:port for any name below domain)" })
    .option("test", { type: "boolean", describe: "approve/deny: the crate's test binaries instead of its build script" })
    .option("crate-version", { type: "string", describe: "approve/deny: which version, when the graph has several" })
    .option("memory", { type: "string", describe: `memory limit per sandboxed step (default ${DEFAULT_LIMITS.memoryBytes / 1024 ** 3}GiB)` })
    .option("pids", { type: "string", describe: `process limit per step (default ${DEFAULT_LIMITS.pids})` })
    .option("timeout", { type: "string", describe: `wall-time limit per step (default ${DEFAULT_LIMITS.timeoutMs / 60000}m)` })
    .option("cpus", { type: "string", describe: "CPUs per step (default: all)" })
    .option("tmp-size", { type: "string", describe: "size of the private /tmp (default 1GiB)" })
    .option("report", { type: "string", describe: "write a JSON report of every sandboxed step to this file" })
    .option("policy", { type: "string", array: true, nargs: 1, describe: "an organisation policy file (JavaScript, run in an isolated V8); repeatable; also CRATEBOX_POLICY and cratebox.toml's policy" })
    .option("workspace", { type: "string", describe: "policy test: the workspace to evaluate (default: the current directory)" })
    .option("strict", { type: "boolean", describe: "every crate with a build script must be listed in cratebox.toml (granted, or reviewed = true)" })
    // ---- cratebox review (issue 14) ----
    .option("base", { type: "string", describe: "review: the git ref to compare Cargo.lock with (default: the merge base with the upstream branch, else HEAD)" })
    .option("min-age", { type: "string", describe: "review: cool-off, e.g. 7d: a newer release fails the review (also [review] min-age)" })
    .option("now", { type: "string", describe: "review: the time to judge ages at (RFC 3339), for reproducible runs" })
    .option("index", { type: "string", describe: "review: a local registry, sparse-index mirror directory or sparse index URL for pubtime and .crate files" })
    .option("diff", { type: "string", describe: "review: print the full diff of this crate, build script first" })
    .option("format", { type: "string", describe: "review: text (default), json, github (annotations) or markdown (a PR comment)" })
    .option("json", { type: "boolean", describe: "review: the report as JSON (docs/review.schema.json)" })
    .option("quiet", { alias: "q", type: "boolean", describe: "print nothing of cratebox's own unless something failed" })
    .strictOptions()
    .help()
    .version(false)
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new CrateboxError("USAGE", msg, "see `cratebox --help`");
    });
}

/** Limits given on the command line (the highest layer; unset ones come from the profiles). */
function toLimitOverrides(a: { memory?: string; pids?: string; timeout?: string; cpus?: string; "tmp-size"?: string }): Partial<Limits> {
  return {
    ...(a.memory !== undefined ? { memoryBytes: parseSize(a.memory) } : {}),
    ...(a.pids !== undefined ? { pids: parseCount(a.pids) } : {}),
    ...(a.timeout !== undefined ? { timeoutMs: parseDuration(a.timeout) } : {}),
    ...(a.cpus !== undefined ? { cpus: parseCpus(a.cpus) } : {}),
    ...(a["tmp-size"] !== undefined ? { tmpBytes: parseSize(a["tmp-size"]) } : {}),
  };
}

export async function main(argv: string[]): Promise<number> {
  // Everything after the first bare `cargo` belongs to cargo, untouched by cratebox's parser.
  const split = argv.indexOf("cargo");
  const own = split >= 0 ? argv.slice(0, split + 1) : argv;
  const cargoArgs = split >= 0 ? argv.slice(split + 1) : [];
  const args = await parser(own).parseAsync();
  const [command] = args._.map(String);
  if (args.help) return 0;
  const ctx: CommandContext = {
    cwd: args.workspace ? path.resolve(args.workspace) : process.cwd(),
    env: process.env,
    cargo: process.env.CARGO ?? "cargo",
    print: (l) => process.stdout.write(l + "\n"),
    ...(args.policy ? { policies: args.policy } : {}),
  };
  const positional = args._.map(String).slice(1);
  if (command === "profiles") {
    const [sub, name] = positional;
    const needName = (what: string) => {
      if (!name) throw new CrateboxError("USAGE", `\`cratebox profiles ${what}\` needs a crate name`, `for example: cratebox profiles ${what} openssl-sys`);
      return name;
    };
    switch (sub) {
      case "ls": return profilesLs(ctx);
      case "explain": return profilesExplain(ctx, needName("explain"));
      case "check": return profilesCheck(ctx, Boolean(args.strict));
      case "prune": return profilesPrune(ctx);
      case "diff": return profilesDiff(ctx, needName("diff"));
      default: throw new CrateboxError("USAGE", sub ? `unknown profiles command "${sub}"` : "which profiles command?", "cratebox profiles ls|explain <crate>|check|prune|diff <crate>");
    }
  }
  if (command === "policy") {
    const [sub, file] = positional;
    if (sub !== "test" || !file) throw new CrateboxError("USAGE", "usage: cratebox policy test <file> [--workspace <dir>]", "for example: cratebox policy test profiles/policies/strict-ci-baseline.js");
    return policyTest(ctx, path.resolve(file));
  }
  if (command === "approve" || command === "deny") {
    const [crate] = positional;
    if (!crate) throw new CrateboxError("USAGE", `\`cratebox ${command}\` needs a crate name`, `for example: cratebox ${command} openssl-sys`);
    return approve(ctx, {
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
    });
  }
  if (command === "review") {
    if (positional.length > 0) throw reviewError("REVIEW_USAGE", `\`cratebox review\` takes no arguments (got ${positional.join(" ")})`, "cratebox review [--base REF] [--diff CRATE] [--format text|json|github|markdown]");
    // `cratebox review --diff x | head`: a reader that stops early is not an error.
    process.stdout.on("error", (err: NodeJS.ErrnoException) => { if (err.code !== "EPIPE") throw err; });
    return runReview({ ...ctx, print: (text) => process.stdout.write(text) }, {
      base: args.base, minAge: args["min-age"], now: args.now, index: args.index, diff: args.diff, format: args.format, json: args.json,
    });
  }
  if (command === "doctor") {
    const checks = await runDoctor(process.env, process.cwd(), (l) => process.stdout.write(l + "\n"));
    return checks.every((c) => c.ok) ? 0 : 1;
  }
  const learn = command === "learn" && args._.map(String)[1] === "cargo";
  if (command !== "cargo" && !learn) {
    throw new CrateboxError("USAGE", command ? `unknown command "${command}"` : "no command given", "usage: cratebox [options] cargo <cargo arguments...> | cratebox doctor");
  }
  if (cargoArgs.length === 0) throw new CrateboxError("USAGE", "no cargo arguments given", "for example: cratebox cargo build --release");
  // Quiet in CI; a live progress line only on an interactive terminal.
  const quiet = Boolean(args.quiet);
  const tty = process.stderr.isTTY && !process.env.CI && !quiet && process.stderr.rows >= 5;
  const progress = tty ? new ProgressLine((s) => process.stderr.write(s), () => process.stderr.rows) : undefined;
  const onResize = () => progress?.resized();
  process.stderr.on("resize", onResize);
  const log = (line: string) => process.stderr.write(`cratebox: ${line}\n`);
  try {
    return await runCargo({
      cargoArgs,
      cwd: process.cwd(),
      env: process.env,
      limitOverrides: toLimitOverrides(args),
      strict: Boolean(args.strict),
      learn,
      ...(args.policy ? { policies: args.policy } : {}),
      ...(args.report ? { reportFile: args.report } : {}),
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
  const firstCargo = rest.findIndex((a, i) => !a.startsWith("-") && !(i > 0 && /^--(memory|pids|timeout|cpus|tmp-size|report)$/.test(rest[i - 1]!)));
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
  process.exitCode = code ?? EXIT_USAGE;
}
