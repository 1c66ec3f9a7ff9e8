/**
 * `cratebox cargo ...`: the programmatic API behind the CLI. Sets up the run (engine, image,
 * sweep, swap of existing build scripts, the orchestrator's socket), runs cargo with the
 * wrapper in place, and returns cargo's own exit code (130 when interrupted).
 */
import { randomUUID } from "node:crypto";
import { existsSync, fstatSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { dir as tmpDir } from "tmp-promise";
import { parseCargoInvocation, type CargoInvocation } from "../core/cargo-args.ts";
import { CrateboxError, EXIT } from "../core/errors.ts";
import type { Limits } from "../core/limits.ts";
import { toRunnerPhase } from "../core/phase.ts";
import { toGithubAnnotation } from "../core/annotations.ts";
import { describeFailure, type StepOutcome } from "../core/step-outcome.ts";
import { networkWarnings, toSummaryLine } from "../core/summary.ts";
import { findUserRustcWrapper, readConfigEnvNames } from "./cargo-config.ts";
import { readCrateGraph } from "./crate-graph.ts";
import { GrantBook, loadGrantSources, policySources } from "./grants.ts";
import { readBuildDirs } from "./cargo-metadata.ts";
import { enforcementWarnings } from "./enforcement.ts";
import { connectEngine } from "./engine.ts";
import { DEFAULT_IMAGE, ensureImage, imageTag, PACKAGE_ROOT } from "./image.ts";
import { readHostAddresses, readRunHostFacts, SysrootCache } from "./host-facts.ts";
import { Orchestrator } from "./orchestrator.ts";
import { type BackendChoice, SandboxRouter } from "./sandbox/backend.ts";
import { DockerRuntime } from "./sandbox/docker-runtime.ts";
import { factsGatherer, readDenials } from "./step-facts.ts";
import { StepRunner } from "./step-runner.ts";
import { checkCompiledCode, finishCompilation } from "./compile-outputs.ts";
import { swapExisting, writeShimTemplate } from "./swap.ts";
import { isOwnerAlive, ownerLabel, sweepOrphans } from "./sweep.ts";

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
  /** Live progress (a terminal's progress line); the CLI decides whether there is one. */
  onStepStart?: () => void;
  onStepEnd?: (outcome: StepOutcome) => void;
}

/** The relay a proxied step's sandbox runs (compiled from src/shims/egress-relay.ts). */
const EGRESS_RELAY = path.join(PACKAGE_ROOT, "dist/shims/egress-relay.js");

const SHIMS = {
  wrapper: path.join(PACKAGE_ROOT, "src/shims/rustc-wrapper.sh"),
  rustdoc: path.join(PACKAGE_ROOT, "src/shims/rustdoc-wrapper.sh"),
  runner: path.join(PACKAGE_ROOT, "src/shims/runner.sh"),
  client: path.join(PACKAGE_ROOT, "dist/shims/client.js"),
  /** The native client (scripts/build-client.ts), when it was built: no Node start per step. */
  clientBin: path.join(PACKAGE_ROOT, "dist/native/cratebox-client"),
};

/**
 * The grants of this run. Without cratebox.toml (and without --strict) every step gets the
 * default, and the crate graph is not even read: nothing to match, nothing to pay for.
 */
async function loadGrants(cargo: string, inv: CargoInvocation, opts: CargoRunOptions, workspaceRoot: string, buildRoots: string[]): Promise<GrantBook> {
  const { profile, builtins } = await loadGrantSources(workspaceRoot);
  if (profile.exists && opts.env.CI) await ensureCommitted(profile.parsed.file);
  const policyFiles = policySources(opts.policies ?? [], opts.env, profile.parsed.profile.policy ?? [], workspaceRoot, opts.cwd);
  const needGraph = profile.exists || opts.strict || policyFiles.length > 0;
  const graph = needGraph ? await readCrateGraph(cargo, inv, opts.cargoArgs, opts.cwd, opts.env) : undefined;
  const book = new GrantBook(profile, builtins, graph, opts.limitOverrides, buildRoots, opts.env);
  if (!graph) book.loadGraphLazily(() => readCrateGraph(cargo, inv, opts.cargoArgs, opts.cwd, opts.env));
  if (policyFiles.length > 0) {
    await book.readAudits();
    const { evaluatePolicies, loadPolicy } = await import("./policy.ts");
    book.setPolicies(await evaluatePolicies(policyFiles.map(loadPolicy), book.toPolicyInput(opts.cargoArgs, Boolean(opts.env.CI))));
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
  const inside = await execa("git", ["rev-parse", "--show-toplevel"], { cwd: dir, reject: false });
  if (inside.exitCode !== 0) return; // not a git checkout: nothing to compare with
  // Compare contents with HEAD's blob (skip-worktree or assume-unchanged cannot hide a change),
  // and fail closed when git cannot answer in a checkout.
  const rel = path.relative(inside.stdout.trim(), file);
  const committed = await execa("git", ["show", `HEAD:${rel}`], { cwd: dir, reject: false, stripFinalNewline: false });
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

/** The host triple of the rustc cargo will use (`rustc -vV`). */
async function hostTriple(toolchain: string | undefined, cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  const rustc = env.RUSTC ?? "rustc";
  const res = await execa(rustc, [...(toolchain && !env.RUSTC ? [`+${toolchain}`] : []), "-vV"], { cwd, env, extendEnv: false, reject: false });
  const host = /^host: (\S+)$/m.exec(res.stdout)?.[1];
  if (!host)
    throw new CrateboxError(
      "TOOLCHAIN",
      `could not learn the host triple from \`${rustc} -vV\`: ${res.stderr.trim() || res.stdout.trim()}`,
      "is the Rust toolchain installed (`rustup show`)?",
    );
  return host;
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

export async function runCargo(opts: CargoRunOptions): Promise<number> {
  const startedAt = new Date();
  const cargo = opts.cargo ?? opts.env.CARGO ?? "cargo";
  const inv = parseCargoInvocation(opts.cargoArgs);
  if (!inv.builds) {
    // Nothing of a crate's code runs (version, metadata, tree, new, ...): plain cargo.
    const res = await execa(cargo, opts.cargoArgs, { cwd: opts.cwd, env: opts.env, extendEnv: false, stdio: "inherit", reject: false });
    return res.exitCode ?? 101;
  }
  // The sandboxed binaries get no standard input: say so when something is piped in, instead of
  // letting `echo x | cratebox cargo run` pass as if it was read.
  if (inv.runsBinaries && stdinCarriesData()) {
    opts.log("WARNING: standard input is not passed into the sandbox: the program sees end-of-file instead of what is piped in");
  }
  // Both ask a program (cargo metadata, rustc -vV) and neither needs the other: at once.
  const [dirs, host] = await Promise.all([
    readBuildDirs(cargo, inv, opts.cwd, opts.env),
    inv.runsBinaries ? hostTriple(inv.toolchain, opts.cwd, opts.env) : undefined,
  ]);
  const owner = ownerLabel();
  const image = imageTag(opts.image ?? DEFAULT_IMAGE).tag;
  /** Warnings about limits the backends do not enforce, for the summary and the report. */
  const warnings: string[] = [];
  const warn = (w: string) => {
    warnings.push(w);
    opts.log(`WARNING: ${w}`);
  };
  // The engine is the backend asked for: it must answer before anything builds (exit 2 if not).
  const eager = opts.backend === "docker" ? await connectEngine(opts.env) : undefined;
  const runtime = new SandboxRouter({
    choice: opts.backend ?? "auto",
    ownImage: image,
    owner,
    // The engine only when a step first needs it: its image, the sweep of dead runs' containers,
    // and what it cannot enforce.
    connectDocker: async () => {
      const docker = eager ?? (await connectEngine(opts.env));
      const [, engineWarnings] = await Promise.all([ensureImage(docker, opts.image ?? DEFAULT_IMAGE, opts.log), enforcementWarnings(docker, opts.env)]);
      const engine = new DockerRuntime(docker, image);
      const swept = await sweepOrphans(engine);
      if (swept > 0) opts.log(`removed ${swept} container(s) left behind by an earlier run that did not end cleanly`);
      for (const w of engineWarnings) warn(w);
      return engine;
    },
    onChosen: (backend) => {
      backend.cgroups?.sweep((o) => !isOwnerAlive(o));
      if (backend.primary === "bwrap" && backend.cgroupsMissing) warn(`memory and process limits are not enforced under bwrap: ${backend.cgroupsMissing}`);
    },
  });
  const grants = await loadGrants(cargo, inv, opts, dirs.workspaceRoot, dirs.buildRoots);
  for (const w of grants.profile.warnings) opts.log(`WARNING: ${w}`);
  for (const w of await grants.preflight(Boolean(opts.strict) || grants.profile.parsed.profile.strict === true)) opts.log(`WARNING: ${w}`);
  const swapped = swapExisting(dirs.buildRoots);
  if (swapped.swapped > 0 && !opts.quiet) opts.log(`put ${swapped.swapped} build script(s) compiled outside cratebox behind the sandbox`);
  for (const file of swapped.replaced) {
    opts.log(
      `WARNING: ${file} was neither cratebox's shim nor a compiled build script (something rewrote it); it is the shim again and runs nothing until rebuilt: \`cargo clean -p <crate>\``,
    );
  }

  const runId = randomUUID();
  const tmp = await tmpDir({ prefix: "cratebox-", mode: 0o700, unsafeCleanup: true });
  const steps = new StepRunner({
    runtime,
    settings: { identity: { runId, owner }, grants: grants.context },
    // A build script whose code is not what its content pin says never runs (issue 15).
    checkPlan: (plan) => (plan.request.phase === "build-script" ? grants.checkBuildScriptStep(plan.request.program, plan.manifestDir) : Promise.resolve()),
    gatherFacts: factsGatherer({
      grants,
      userEnv: opts.env,
      configEnv: readConfigEnvNames(opts.cwd, opts.env),
      host: readRunHostFacts(image, dirs.buildRoots),
      sysroots: new SysrootCache(),
      rustc: opts.env.RUSTC ?? "rustc",
      relay: { node: process.execPath, script: EGRESS_RELAY },
      egressDir: tmp.path,
      traceRoot: opts.learn ? tmp.path : undefined,
    }),
    startProxy: async (plan) =>
      (await import("./egress-proxy.ts")).EgressProxy.start({
        socket: plan.socket,
        hosts: plan.hosts,
        fetch: plan.fetch,
        hostAddresses: readHostAddresses(),
        table: plan.table,
        onEvent: (e) => {
          if (e.decision === "refused")
            opts.log(`${plan.who}: ${e.method} ${e.url ?? e.target} refused: ${e.reason}${e.grant ? `; to allow it: ${e.grant} in ${plan.table}` : ""}`);
        },
      }),
    readDenials,
    finishCompile: async (plan, succeeded) =>
      finishCompilation(plan, succeeded) ??
      (succeeded ? checkCompiledCode(plan, (kind, depInfo, dir) => grants.checkCompiledCode(kind, depInfo, dir)) : undefined),
    log: opts.log,
    onStepStart: () => opts.onStepStart?.(),
    onStepEnd: (outcome) => {
      opts.onStepEnd?.(outcome);
      if (outcome.cause === "interrupted") return;
      const line = describeFailure(outcome);
      if (line) opts.log(line);
      if (opts.env.GITHUB_ACTIONS === "true") {
        const annotation = toGithubAnnotation(outcome, opts.env.GITHUB_WORKSPACE ?? dirs.workspaceRoot);
        if (annotation) (opts.stdout ?? ((l: string) => process.stdout.write(`${l}\n`)))(annotation);
      }
    },
  });
  const orchestrator = new Orchestrator(steps, toRunnerPhase(inv.subcommand), opts.log);
  let interrupted = false;
  try {
    const socket = path.join(tmp.path, "run.sock");
    await orchestrator.listen(socket);
    const shim = path.join(tmp.path, "build-script-shim");
    writeShimTemplate(shim);
    const userWrapper = findUserRustcWrapper(opts.cwd, opts.env);
    const env: NodeJS.ProcessEnv = {
      ...opts.env,
      RUSTC_WRAPPER: SHIMS.wrapper,
      RUSTDOC: SHIMS.rustdoc,
      CRATEBOX_SOCKET: socket,
      CRATEBOX_NODE: process.execPath,
      CRATEBOX_CLIENT: SHIMS.client,
      ...(existsSync(SHIMS.clientBin) ? { CRATEBOX_CLIENT_BIN: SHIMS.clientBin } : {}),
      CRATEBOX_SHIM: shim,
      CRATEBOX_RUN_ID: runId,
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

    const child = execa(cargo, opts.cargoArgs, { cwd: opts.cwd, env, extendEnv: false, stdio: "inherit", reject: false });
    const onSignal = (sig: NodeJS.Signals) => {
      interrupted = true;
      orchestrator.interrupt();
      child.kill(sig);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    process.on("SIGHUP", onSignal);
    let code: number;
    try {
      const res = await child;
      code = res.exitCode ?? (res.signal ? 128 + (res.signal === "SIGINT" ? 2 : 15) : 101);
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      process.off("SIGHUP", onSignal);
    }
    await orchestrator.close();
    if (interrupted) code = EXIT.INTERRUPTED;
    for (const w of steps.runtimeWarnings) opts.log(`WARNING: the engine said: ${w}`);
    if (opts.learn) (await import("./learn.ts")).learnFromRun(dirs.workspaceRoot, steps.outcomes, grants.graph, opts.log);
    for (const w of networkWarnings(steps.outcomes)) opts.log(w);
    const summary = toSummaryLine(steps.outcomes);
    if (!opts.quiet || steps.outcomes.some((o) => !o.ok)) opts.log(summary);
    if (opts.reportFile) {
      const { toReport } = await import("../core/report.ts");
      const report = toReport({
        runId,
        command: ["cargo", ...opts.cargoArgs],
        exitCode: code,
        startedAt,
        finishedAt: new Date(),
        summary,
        engineWarnings: [...warnings, ...steps.runtimeWarnings],
        backend: runtime.chosen()?.primary ?? null,
        // resourceUsage's maxRSS is in KiB.
        peakRssBytes: process.resourceUsage().maxRSS * 1024,
        outcomes: steps.outcomes,
      });
      writeFileSync(opts.reportFile, `${JSON.stringify(report, null, 2)}\n`);
    }
    return code;
  } finally {
    await orchestrator.close().catch(() => {});
    await tmp.cleanup().catch(() => {});
  }
}
