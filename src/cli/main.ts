#!/usr/bin/env node
/**
 * The command line: a thin adapter over runtime/run-cargo.ts and runtime/doctor.ts.
 *   cratebox [options] cargo <cargo arguments...>   everything after `cargo` goes to cargo as is
 *   cratebox doctor
 */
import yargs from "yargs";
import { CrateboxError, EXIT_USAGE } from "../core/errors.ts";
import { DEFAULT_LIMITS, parseCount, parseCpus, parseDuration, parseSize, type Limits } from "../core/limits.ts";
import { runCargo } from "../runtime/run-cargo.ts";
import { runDoctor } from "../runtime/doctor.ts";
import { ProgressLine } from "./progress.ts";
import { renderError } from "./render-error.ts";


function parser(argv: string[]) {
  return yargs(argv)
    .scriptName("cratebox")
    .usage("$0 [options] cargo <cargo arguments...>\n$0 doctor")
    .command("cargo", "run cargo with every build script sandboxed (all further arguments go to cargo)")
    .command("doctor", "check the engine, the image, the toolchain, and that limits are really enforced")
    .option("memory", { type: "string", describe: `memory limit per sandboxed step (default ${DEFAULT_LIMITS.memoryBytes / 1024 ** 3}GiB)` })
    .option("pids", { type: "string", describe: `process limit per step (default ${DEFAULT_LIMITS.pids})` })
    .option("timeout", { type: "string", describe: `wall-time limit per step (default ${DEFAULT_LIMITS.timeoutMs / 60000}m)` })
    .option("cpus", { type: "string", describe: "CPUs per step (default: all)" })
    .option("tmp-size", { type: "string", describe: "size of the private /tmp (default 1GiB)" })
    .option("report", { type: "string", describe: "write a JSON report of every sandboxed step to this file" })
    .option("quiet", { alias: "q", type: "boolean", describe: "print nothing of cratebox's own unless something failed" })
    .strictOptions()
    .help()
    .version(false)
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new CrateboxError("USAGE", msg, "see `cratebox --help`");
    });
}

function toLimits(a: { memory?: string; pids?: string; timeout?: string; cpus?: string; "tmp-size"?: string }): Limits {
  return {
    memoryBytes: a.memory !== undefined ? parseSize(a.memory) : DEFAULT_LIMITS.memoryBytes,
    pids: a.pids !== undefined ? parseCount(a.pids) : DEFAULT_LIMITS.pids,
    timeoutMs: a.timeout !== undefined ? parseDuration(a.timeout) : DEFAULT_LIMITS.timeoutMs,
    cpus: a.cpus !== undefined ? parseCpus(a.cpus) : DEFAULT_LIMITS.cpus,
    tmpBytes: a["tmp-size"] !== undefined ? parseSize(a["tmp-size"]) : DEFAULT_LIMITS.tmpBytes,
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
  if (command === "doctor") {
    const checks = await runDoctor(process.env, process.cwd(), (l) => process.stdout.write(l + "\n"));
    return checks.every((c) => c.ok) ? 0 : 1;
  }
  if (command !== "cargo") {
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
      limits: toLimits(args),
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
