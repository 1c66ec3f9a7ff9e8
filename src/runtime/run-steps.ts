/**
 * The step machinery of one run: the sandbox backends (a router that picks bwrap or the Docker
 * engine), the step runner and what it is given (facts, the egress proxy, what follows a
 * compile). runtime/run-cargo.ts loads this when cargo's first step arrives, not before: a
 * no-op build never pays for it (issue 13).
 */
import type Docker from "dockerode";
import { toGithubAnnotation } from "../core/annotations.ts";
import { describeFailure } from "../core/step-outcome.ts";
import type { KnownSysroot } from "../core/sysroot.ts";
import type { BuildDirs } from "./cargo-metadata.ts";
import { readConfigEnvNames } from "./cargo-config.ts";
import { checkCompiledCode, finishCompilation } from "./compile-outputs.ts";
import { enforcementWarnings } from "./enforcement.ts";
import { connectEngine } from "./engine.ts";
import { checkHostView } from "./host-view.ts";
import type { GrantBook } from "./grants.ts";
import { readHostAddresses, readRunHostFacts, SysrootCache } from "./host-facts.ts";
import { DEFAULT_IMAGE, ensureImage, PACKAGE_ROOT } from "./image.ts";
import type { CargoRunOptions } from "./run-cargo.ts";
import { SandboxRouter } from "./sandbox/backend.ts";
import type { Launcher } from "./sandbox/launch.ts";
import { DockerRuntime } from "./sandbox/docker-runtime.ts";
import { nestedCargoPreparer, wantsNestedCargo } from "./nested-cargo.ts";
import { factsGatherer, readDenials } from "./step-facts.ts";
import { StepRunner } from "./step-runner.ts";
import { isOwnerAlive, sweepOrphans } from "./sweep.ts";
import path from "node:path";

/** The relay a proxied step's sandbox runs (built from src/shims/egress-relay.ts). */
const EGRESS_RELAY = path.join(PACKAGE_ROOT, "dist/shims/egress-relay.js");

export interface StepsContext {
  opts: CargoRunOptions;
  /** The sandbox image's tag (Docker backend). */
  image: string;
  owner: string;
  runId: string;
  /** The run's private directory (egress sockets, traces). */
  tmpPath: string;
  dirs: BuildDirs;
  grants: GrantBook;
  /** The engine, when `--backend docker` connected it before cargo started. */
  eager: Docker | undefined;
  /** A warning for the summary and the report. */
  warn: (w: string) => void;
  /** The sysroot the run learned at start, when it asked (core/sysroot.ts). */
  sysroot: KnownSysroot | undefined;
  /** The bwrap sandboxes' launcher, started beside cargo (run-cargo.ts); none under --backend docker. */
  launcher: Launcher | undefined;
}

export interface RunSteps {
  steps: StepRunner;
  runtime: SandboxRouter;
  /**
   * Does now what the first step would: choose the backend (bwrap's probe). Not the crate graph:
   * its `cargo metadata` would compete with cargo's own for the package cache's lock.
   */
  warm: () => Promise<void>;
}

export function startSteps({ opts, image, owner, runId, tmpPath, dirs, grants, eager, warn, sysroot, launcher }: StepsContext): RunSteps {
  const runtime = new SandboxRouter({
    choice: opts.backend ?? "auto",
    launcher,
    ownImage: image,
    owner,
    // The engine only when a step first needs it: its image, the sweep of dead runs' containers,
    // and what it cannot enforce.
    connectDocker: async () => {
      const docker = eager ?? (await connectEngine(opts.env));
      const [, engineWarnings] = await Promise.all([ensureImage(docker, opts.image ?? DEFAULT_IMAGE, opts.log), enforcementWarnings(docker, opts.env)]);
      // An engine that cannot see this machine's files is refused (checked before cargo with --backend docker).
      if (!eager) await checkHostView(docker, image, opts.env, dirs.buildRoots[0]!);
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
      sysroots: new SysrootCache(sysroot),
      rustc: opts.env.RUSTC ?? "rustc",
      relay: { node: process.execPath, script: EGRESS_RELAY },
      egressDir: tmpPath,
      traceRoot: opts.learn ? tmpPath : undefined,
      ...(wantsNestedCargo(grants.context.parsed.profile) ? { nestedCargo: nestedCargoPreparer(opts.cwd, opts.env, tmpPath) } : {}),
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
  const warm = async () => {
    await runtime.backend().catch(() => {}); // the first step reports it
  };
  return { steps, runtime, warm };
}
