#!/usr/bin/env node
/**
 * The command line: a thin adapter over runtime/run-cargo.ts and runtime/doctor.ts.
 *   cratebox [options] cargo <cargo arguments...>   everything after `cargo` goes to cargo as is
 *   cratebox doctor
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { BACKEND_CHOICES, type BackendChoice } from "../core/backends.ts";
import { CrateboxError, EXIT } from "../core/errors.ts";
import { LIMIT_FIELDS, LIMIT_TABLE, type Limits } from "../core/limits.ts";
import { PACKAGE_ROOT } from "../runtime/image.ts";
import type { CommandContext } from "../runtime/profile-commands.ts";
import type { CargoRunResult } from "../runtime/run-cargo.ts";
import { helpText, type OwnOptions, parseOwnArgs, splitAtCargo } from "./options.ts";
import { ProgressLine } from "./progress.ts";
import { renderError } from "./render-error.ts";

/** Limits given on the command line (the highest layer; unset ones come from the profiles). */
function toLimitOverrides(args: OwnOptions): Partial<Limits> {
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

/** A command's exit code; a cargo run also says whether work goes on in the background (run-cargo.ts). */
async function main(argv: string[]): Promise<number | CargoRunResult> {
  const { own, cargoArgs } = splitAtCargo(argv);
  const { options: args, positionals } = parseOwnArgs(own);
  const [command] = positionals;
  if (args.help) {
    process.stdout.write(helpText());
    return 0;
  }
  if (args.version) {
    process.stdout.write(`${readOwnVersion()}\n`);
    return 0;
  }
  const ctx: CommandContext = {
    cwd: args.workspace ? path.resolve(args.workspace) : process.cwd(),
    env: process.env,
    cargo: process.env.CARGO ?? "cargo",
    print: (l) => process.stdout.write(`${l}\n`),
    ...(args.policy ? { policies: args.policy } : {}),
  };
  const positional = positionals.slice(1);
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
      ...(args.cargo !== undefined ? { cargo: args.cargo } : {}),
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
  const learn = command === "learn" && positionals[1] === "cargo";
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
      // The run's question as bin/cratebox hands it to the front: the entry file and its arguments.
      ticketArgv: [path.basename(process.argv[1] ?? ""), ...process.argv.slice(2)],
      log,
      ...(progress ? { onStepStart: () => progress.started(), onStepEnd: (o) => progress.finished(o) } : {}),
    });
  } finally {
    process.stderr.off("resize", onResize);
    progress?.stop();
  }
}

export async function runMain(argv: string[]): Promise<void> {
  let result: number | CargoRunResult;
  try {
    result = await main(argv);
  } catch (err) {
    result = renderError(err, (s) => process.stderr.write(s));
  }
  const { exitCode, background } = typeof result === "number" ? { exitCode: result, background: true } : result;
  process.exitCode = exitCode ?? EXIT.USAGE;
  // A cargo run that left nothing in the background ends without Node's teardown: stderr and
  // stdout are written synchronously (files, pipes and terminals on Linux), and the compile
  // cache is written on exit too.
  if (!background) process.exit();
}
