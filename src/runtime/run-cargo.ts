/**
 * `cratebox cargo ...`: the programmatic API behind the CLI. Sets up the run (engine, image,
 * sweep, swap of existing build scripts, the orchestrator's socket), runs cargo with the
 * wrapper in place, and returns cargo's own exit code (130 when interrupted).
 */
import { existsSync, fstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import path from "node:path";
import { parseCargoInvocation, type CargoInvocation } from "../core/cargo-args.ts";
import { CrateboxError, EXIT } from "../core/errors.ts";
import type { Limits } from "../core/limits.ts";
import { toRunnerPhase } from "../core/phase.ts";
import type { StepOutcome } from "../core/step-outcome.ts";
import { networkWarnings, toSummaryLine } from "../core/summary.ts";
import { findUserRustcWrapper } from "./cargo-config.ts";
import { readCrateGraph } from "./crate-graph.ts";
import { GrantBook, loadGrantSources, policySources } from "./grants.ts";
import { type StartCaches, startCaches } from "./cache-files.ts";
import { randomUuid } from "./random.ts";
import { policyCache } from "./policy-cache.ts";
import { loadPolicy } from "./policy-source.ts";
import { type BuildDirs, readBuildDirs } from "./cargo-metadata.ts";
import { toolchainFacts } from "./toolchain.ts";
import { connectEngine } from "./engine.ts";
import { DEFAULT_IMAGE, ensureImage, imageTag, PACKAGE_ROOT } from "./image.ts";
import { NATIVE_CLIENT } from "./native.ts";
import type { RunSteps } from "./run-steps.ts";
import { Orchestrator } from "./orchestrator.ts";
import type { BackendChoice } from "../core/backends.ts";
import { runProgram, startInherited } from "./run-program.ts";
import { bwrapLauncher } from "./sandbox/launch.ts";
import { swapExisting, writeShimTemplate } from "./swap.ts";
import { ADOPTED_SOCKET_FD, cargoExitFromFront, takeAdoption } from "./adoption.ts";
import { writeTicket } from "./ticket.ts";
import { noteInput } from "./start-inputs.ts";
import { ownerLabel, runDirPrefix, sweepRunDirs } from "./sweep.ts";

export interface CargoRunOptions {
  cargoArgs: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Limits given on the command line: they win over every profile layer. */
  limitOverrides: Partial<Limits>;
  /** Every crate with a build script must be listed in cratebox.toml (also `strict = true` there). */
  strict?: boolean;
  /** Policy files given with --policy (CRATEBOX_POLICY and cratebox.toml's `policy` add to them). */
  policies?: string[];
  /**
   * `cratebox learn`: every step traced, a proposed cratebox.toml at the end. Steps run with what
   * cratebox.toml grants already (nothing, the first time), so each learn run refines the last:
   * a script that stops at its first missing grant reveals the next one on the next run.
   */
  learn?: boolean;
  image?: string;
  reportFile?: string;
  quiet?: boolean;
  /** Which backend runs the sandboxes (`--backend`, CRATEBOX_BACKEND): auto, bwrap or docker. */
  backend?: BackendChoice;
  /** The cargo program; defaults to $CARGO (when run as a cargo subcommand) or `cargo`. */
  cargo?: string;
  /** cratebox's own lines; they go to stderr, prefixed. */
  log: (line: string) => void;
  /** Raw lines for stdout (GitHub Actions workflow commands). */
  stdout?: (line: string) => void;
  /**
   * The CLI's entry file name and arguments, which name this run's ticket for the native front
   * (runtime/ticket.ts); without them (the API) there is none.
   */
  ticketArgv?: string[];
  /** Live progress (a terminal's progress line); the CLI decides whether there is one. */
  onStepStart?: () => void;
  onStepEnd?: (outcome: StepOutcome) => void;
}

const SHIMS = {
  wrapper: path.join(PACKAGE_ROOT, "src/shims/rustc-wrapper.sh"),
  rustdoc: path.join(PACKAGE_ROOT, "src/shims/rustdoc-wrapper.sh"),
  runner: path.join(PACKAGE_ROOT, "src/shims/runner.sh"),
  client: path.join(PACKAGE_ROOT, "dist/shims/client.js"),
  /** The native client, when set-up built it: no Node start per step. */
  clientBin: NATIVE_CLIENT,
};

/**
 * The grants of this run. Without cratebox.toml (and without --strict) every step gets the
 * default, and the crate graph is not even read: nothing to match, nothing to pay for.
 */
async function loadGrants(
  cargo: string,
  inv: CargoInvocation,
  opts: CargoRunOptions,
  { workspaceRoot, buildRoots, members }: BuildDirs,
  caches: StartCaches | undefined,
): Promise<GrantBook> {
  const { profile, builtins } = await loadGrantSources(workspaceRoot, caches);
  if (profile.exists && opts.env.CI) await ensureCommitted(profile.parsed.file);
  const policyFiles = policySources(opts.policies ?? [], opts.env, profile.parsed.profile.policy ?? [], workspaceRoot, opts.cwd);
  const needGraph = profile.exists || opts.strict || policyFiles.length > 0;
  const readGraph = () => readCrateGraph(cargo, inv, opts.cargoArgs, opts.cwd, opts.env, caches && { caches, members });
  const graph = needGraph ? await readGraph() : undefined;
  const book = new GrantBook(profile, builtins, graph, opts.limitOverrides, buildRoots, opts.env);
  if (!graph) book.loadGraphLazily(readGraph, members);
  if (policyFiles.length > 0) {
    await book.readAudits();
    const policies = policyFiles.map(loadPolicy);
    const input = book.toPolicyInput(opts.cargoArgs, Boolean(opts.env.CI));
    // The same policies over the same input decided this before: their decisions (policy-cache.ts).
    const cache = caches && policyCache(caches, policies, input);
    let decisions = cache?.cached;
    if (!decisions) {
      decisions = await (await import("./policy.ts")).evaluatePolicies(policies, input);
      cache?.store(decisions);
    }
    book.setPolicies(decisions);
  }
  return book;
}

/**
 * In CI only the committed cratebox.toml counts: a step of the pipeline (or a build script of an
 * earlier run) could otherwise widen the grants just before the build. Outside a git checkout
 * there is nothing to compare with.
 */
async function ensureCommitted(file: string): Promise<void> {
  const dir = path.dirname(file);
  const inside = await runProgram("git", ["rev-parse", "--show-toplevel"], { cwd: dir, env: process.env });
  if (inside.exitCode !== 0) return; // not a git checkout: nothing to compare with
  // Compare contents with HEAD's blob (skip-worktree or assume-unchanged cannot hide a change),
  // and fail closed when git cannot answer in a checkout.
  const rel = path.relative(inside.stdout.trim(), file);
  const committed = await runProgram("git", ["show", `HEAD:${rel}`], { cwd: dir, env: process.env });
  const reason =
    committed.exitCode !== 0
      ? `git cannot show the committed ${rel} (${committed.stderr.trim() || "not committed"})`
      : committed.stdout !== readFileSync(file, "utf8")
        ? `${rel} differs from the committed one`
        : undefined;
  if (reason) {
    throw new CrateboxError(
      "PROFILE_UNCOMMITTED",
      `${reason}; in CI only the committed cratebox.toml counts`,
      "commit the change (it is a review), or restore the file with `git checkout -- cratebox.toml`",
    );
  }
}

/** cargo's exit code, as a shell reports it (128 + n for signal n); a cargo that could not start is an error. */
function exitCodeOf(cargo: string, r: { exitCode: number | undefined; signal: NodeJS.Signals | undefined; spawnError: string | undefined }): number {
  if (r.spawnError)
    throw new CrateboxError("TOOLCHAIN", `cannot run ${cargo} (${r.spawnError})`, "is the Rust toolchain installed and cargo on PATH (`rustup show`)?");
  if (r.exitCode !== undefined) return r.exitCode;
  return r.signal ? 128 + (constants.signals[r.signal] ?? 0) : 101;
}

/** Whether this process's standard input is a pipe, a socket or a non-empty file (not a terminal, not /dev/null). */
function stdinCarriesData(): boolean {
  try {
    const st = fstatSync(0);
    return st.isFIFO() || st.isSocket() || (st.isFile() && st.size > 0);
  } catch {
    return false;
  }
}

/**
 * cargo's exit code, and whether cratebox may still have work going on in the background (the
 * step machinery loaded: it removes sandboxes after their steps). Without it, the process can
 * end at once: Node's own teardown is a few milliseconds of every no-op (issue 13).
 */
export interface CargoRunResult {
  exitCode: number;
  background: boolean;
}

export async function runCargo(opts: CargoRunOptions): Promise<CargoRunResult> {
  const startedAt = new Date();
  const cargo = opts.cargo ?? opts.env.CARGO ?? "cargo";
  const inv = parseCargoInvocation(opts.cargoArgs);
  if (!inv.builds) {
    // Nothing of a crate's code runs (version, metadata, tree, new, ...): plain cargo.
    return { exitCode: exitCodeOf(cargo, await startInherited(cargo, opts.cargoArgs, { cwd: opts.cwd, env: opts.env }).done), background: false };
  }
  // The sandboxed binaries get no standard input: say so when something is piped in, instead of
  // letting `echo x | cratebox cargo run` pass as if it was read.
  if (inv.runsBinaries && stdinCarriesData()) {
    opts.log("WARNING: standard input is not passed into the sandbox: the program sees end-of-file instead of what is piped in");
  }
  // A run the native front started: cargo runs already (adoption.ts).
  const adoption = takeAdoption(opts.env);
  // Both ask a program (cargo metadata, rustc) and neither needs the other: at once (cli/early.ts
  // started both). The crate graph's `cargo metadata` is not among them: a test binary's step
  // finds its crate among the workspace members, and a compilation, which needs the graph, comes
  // after cargo has resolved (run together, one would wait for the other's lock on the package
  // cache, and cargo would say so: "Blocking waiting for file lock").
  const [dirs, toolchain] = await Promise.all([
    readBuildDirs(cargo, inv, opts.cwd, opts.env),
    inv.runsBinaries ? toolchainFacts(inv.toolchain, opts.cwd, opts.env) : undefined,
  ]);
  const host = toolchain?.host;
  const owner = ownerLabel();
  /** Warnings about limits the backends do not enforce, for the summary and the report. */
  const warnings: string[] = [];
  const warn = (w: string) => {
    warnings.push(w);
    opts.log(`WARNING: ${w}`);
  };
  // The engine is the backend asked for: it must answer before anything builds (exit 2 if not).
  const eager = opts.backend === "docker" ? await connectEngine(opts.env) : undefined;
  // ... and see this machine's files (a remote or VM engine may not): refused before cargo starts.
  if (eager) {
    const { checkHostView } = await import("./host-view.ts");
    await checkHostView(eager, await ensureImage(eager, opts.image ?? DEFAULT_IMAGE, opts.log), opts.env, dirs.buildRoots[0]!);
  }
  // The start's caches: in the target directory, under this user's key, never in CI (cache-files.ts).
  const caches = startCaches(dirs.buildRoots[0], opts.env);
  const grants = await loadGrants(cargo, inv, opts, dirs, caches);
  /** What the start said: the ticket's to say again (runtime/ticket.ts). */
  const said: string[] = [];
  const say = (line: string) => {
    said.push(line);
    // Under the front, it printed them already, from the ticket of a start that read the same files.
    if (!adoption) opts.log(line);
  };
  for (const w of grants.profile.warnings) say(`WARNING: ${w}`);
  for (const w of await grants.preflight(Boolean(opts.strict) || grants.profile.parsed.profile.strict === true)) say(`WARNING: ${w}`);
  // Under the front, it checked them a moment ago, and cargo runs already.
  const swapped = adoption ? { swapped: 0, replaced: [] } : swapExisting(dirs.buildRoots);
  if (swapped.swapped > 0 && !opts.quiet) opts.log(`put ${swapped.swapped} build script(s) compiled outside cratebox behind the sandbox`);
  for (const file of swapped.replaced) {
    opts.log(
      `WARNING: ${file} was neither cratebox's shim nor a compiled build script (something rewrote it); it is the shim again and runs nothing until rebuilt: \`cargo clean -p <crate>\``,
    );
  }

  // The run's id labels its sandboxes and names it in the report: made when first needed.
  let runId: string | undefined;
  const theRunId = () => (runId ??= randomUuid());
  // Its name carries this process's start time and pid: a run killed outright leaves it behind,
  // and the next run removes it (sweep.ts). mkdtemp makes it private (0700).
  const tmpPath = adoption?.runDir ?? mkdtempSync(path.join(tmpdir(), `${runDirPrefix()}-${process.pid}-`));
  // The step machinery (backends, step runner, facts, proxy) loads when cargo's first step
  // arrives: a no-op build never pays for it (issue 13).
  let machinery: Promise<RunSteps> | undefined;
  /** The bwrap sandboxes' launcher (none under --backend docker), started once cargo has (below). */
  const launcher = opts.backend === "docker" ? undefined : bwrapLauncher();
  const loadSteps = () =>
    (machinery ??= import("./run-steps.ts").then(({ startSteps }) =>
      startSteps({
        opts,
        image: imageTag(opts.image ?? DEFAULT_IMAGE).tag,
        owner,
        runId: theRunId(),
        tmpPath,
        dirs,
        grants,
        eager,
        warn,
        sysroot: toolchain?.sysroot,
        launcher,
      }),
    ));
  const orchestrator = new Orchestrator(async () => (await loadSteps()).steps, toRunnerPhase(inv.subcommand), opts.log);
  let interrupted = false;
  try {
    const socket = path.join(tmpPath, "run.sock");
    await orchestrator.listen(adoption ? { fd: ADOPTED_SOCKET_FD } : socket);
    const shim = path.join(tmpPath, "build-script-shim");
    if (!adoption) writeShimTemplate(shim);
    const userWrapper = findUserRustcWrapper(opts.cwd, opts.env);
    noteInput(SHIMS.clientBin);
    const env: NodeJS.ProcessEnv = {
      ...opts.env,
      RUSTC_WRAPPER: SHIMS.wrapper,
      RUSTDOC: SHIMS.rustdoc,
      CRATEBOX_SOCKET: socket,
      CRATEBOX_NODE: process.execPath,
      CRATEBOX_CLIENT: SHIMS.client,
      ...(existsSync(SHIMS.clientBin) ? { CRATEBOX_CLIENT_BIN: SHIMS.clientBin } : {}),
      CRATEBOX_SHIM: shim,
    };
    delete env.CARGO_BUILD_RUSTC_WRAPPER;
    delete env.CARGO_BUILD_RUSTDOC;
    // A rustdoc of the user's own keeps being the one that runs, in the sandbox.
    if (opts.env.RUSTDOC) env.CRATEBOX_USER_RUSTDOC = opts.env.RUSTDOC;
    else delete env.CRATEBOX_USER_RUSTDOC;
    if (host) {
      // Every binary cargo executes for this host (tests, benches, doctests, `cargo run`) goes
      // through cargo's runner hook into a container. A runner of the user's own is replaced.
      const runnerVar = `CARGO_TARGET_${host.toUpperCase().replace(/[-.]/g, "_")}_RUNNER`;
      if (opts.env[runnerVar]) opts.log(`WARNING: ${runnerVar} (${opts.env[runnerVar]}) is replaced by cratebox's sandboxing runner for this run`);
      env[runnerVar] = SHIMS.runner;
    }
    if (userWrapper) env.CRATEBOX_USER_RUSTC_WRAPPER = userWrapper;
    else delete env.CRATEBOX_USER_RUSTC_WRAPPER;

    const started = adoption ? undefined : startInherited(cargo, opts.cargoArgs, { cwd: opts.cwd, env });
    // The native spawner that starts the run's bwrap sandboxes: Node forks itself for it (about
    // 10 ms of this process on this project's VM), now, while cargo checks what is fresh and this
    // process has nothing else to do, rather than when the first step waits for it. A no-op loses
    // nothing measurable (24 alternating pairs): the spawner reads the end of its input when this
    // process exits, and ends.
    launcher?.prestart?.();
    // A test, bench or run always has binaries to sandbox: the step machinery and the backend's
    // probe get ready while cargo checks what is fresh, instead of when its first binary arrives
    // (a failure here is the first step's to report). Not for a build: tried, a no-op and a
    // one-file rebuild both got slower (the work competes with cargo's own start).
    if (inv.runsBinaries)
      void loadSteps()
        .then((m) => m.warm())
        .catch(() => {});
    // What runs killed outright left in TMPDIR, while cargo starts (one directory listing); and
    // the ticket of this start, for the front to replay the next time (runtime/ticket.ts).
    setImmediate(() => {
      sweepRunDirs();
      if (opts.ticketArgv && caches && !adoption && !opts.reportFile && !opts.learn && !eager && !inv.runsBinaries && swapped.replaced.length === 0)
        writeTicket({
          caches,
          argv: opts.ticketArgv,
          cwd: opts.cwd,
          env: opts.env,
          dirs,
          program: cargo,
          args: opts.cargoArgs,
          cargoEnv: env,
          runDir: tmpPath,
          say: said,
          after: opts.quiet ? [] : [toSummaryLine([])],
        });
    });
    const onSignal = (sig: NodeJS.Signals) => {
      interrupted = true;
      orchestrator.interrupt();
      started?.child.kill(sig);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    process.on("SIGHUP", onSignal);
    let code: number;
    try {
      code = started ? exitCodeOf(cargo, await started.done) : await cargoExitFromFront();
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      process.off("SIGHUP", onSignal);
    }
    await orchestrator.close();
    if (interrupted) code = EXIT.INTERRUPTED;
    const ran = machinery ? await machinery : undefined;
    const outcomes = ran?.steps.outcomes ?? [];
    const runtimeWarnings = ran ? [...ran.steps.runtimeWarnings] : [];
    for (const w of runtimeWarnings) opts.log(`WARNING: the engine said: ${w}`);
    if (opts.learn) (await import("./learn.ts")).learnFromRun(dirs.workspaceRoot, outcomes, grants.graph, opts.log);
    for (const w of networkWarnings(outcomes)) opts.log(w);
    const summary = toSummaryLine(outcomes);
    if (!opts.quiet || outcomes.some((o) => !o.ok)) opts.log(summary);
    if (opts.reportFile) {
      const usage = process.resourceUsage();
      const { toReport } = await import("../core/report.ts");
      const report = toReport({
        runId: theRunId(),
        command: ["cargo", ...opts.cargoArgs],
        exitCode: code,
        startedAt,
        finishedAt: new Date(),
        summary,
        engineWarnings: [...warnings, ...runtimeWarnings],
        backend: ran?.runtime.chosen()?.primary ?? null,
        // resourceUsage: maxRSS in KiB, CPU times in microseconds; this process only.
        peakRssBytes: usage.maxRSS * 1024,
        cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
        outcomes,
      });
      writeFileSync(opts.reportFile, `${JSON.stringify(report, null, 2)}\n`);
    }
    return { exitCode: code, background: ran !== undefined };
  } finally {
    await orchestrator.close().catch(() => {});
    try {
      rmSync(tmpPath, { recursive: true, force: true });
    } catch {
      /* what is left, the next run's sweep removes */
    }
  }
}
