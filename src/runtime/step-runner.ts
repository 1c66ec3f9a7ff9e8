/**
 * Runs sandboxed steps: for each request, gather the facts (runtime), plan the step (core,
 * pure), run the plan on the sandbox runtime, and turn what happened into the outcome (core).
 * Keeps every outcome for the summary and the report, every live step for Ctrl-C, and every
 * sandbox's removal until the run closes.
 */
import { existsSync } from "node:fs";
import { isAbsolute } from "node:path";
import { CompileLog } from "../core/compile-output.ts";
import { DirectiveGate } from "../core/directive-gate.ts";
import type { EgressEvent } from "../core/egress.ts";
import { CrateboxError } from "../core/errors.ts";
import { LABEL_RUN } from "../core/labels.ts";
import type { Phase } from "../core/phase.ts";
import type { StepRequest } from "../core/sandbox-spec.ts";
import { NestedCargoWatch } from "../core/nested-cargo.ts";
import { FileErrorWatch, type StepOutcome } from "../core/step-outcome.ts";
import { type ProxyPlan, type RunSettings, type StepFacts, type StepPlan, planStep, toStepOutcome } from "../core/step-plan.ts";
import type { TraceDenials } from "../core/trace.ts";
import { runSandbox } from "./sandbox/run-sandbox.ts";
import type { RunIo, SandboxRuntime } from "./sandbox/runtime.ts";

/** A step's egress proxy while it runs (runtime/egress-proxy.ts, or a double in tests). */
export interface StepProxy {
  readonly events: EgressEvent[];
  readonly omitted: number;
  close(): Promise<void>;
}

export interface StepRunnerOptions {
  runtime: SandboxRuntime;
  settings: RunSettings;
  /** Stage 1: what the runtime knows of the request (crate, host paths, toolchain). */
  gatherFacts: (request: StepRequest) => Promise<StepFacts>;
  /** Before a plan runs: a custom image or runtime it names must be there (nothing is pulled). */
  checkPlan?: (plan: StepPlan) => Promise<void>;
  startProxy: (plan: ProxyPlan) => Promise<StepProxy>;
  /** Learn mode: what the step's trace shows it tried beyond its view. */
  readDenials?: (traceDir: string, plan: StepPlan) => TraceDenials;
  /**
   * After a compiler step, on the host: its dep-info without withheld variables, a compiled build
   * script behind the shim (runtime/compile-outputs.ts). A message fails the step.
   */
  finishCompile?: (plan: StepPlan, succeeded: boolean) => Promise<string | undefined>;
  /** Does this host file exist? (the directive firewall's check for libraries built in OUT_DIR) */
  exists?: (file: string) => boolean;
  /** cratebox's own lines. */
  log: (line: string) => void;
  /** Told when a sandbox starts and when a step ends (progress line, failure lines, annotations). */
  onStepStart?: (phase: Phase, crate: string) => void;
  onStepEnd?: (outcome: StepOutcome) => void;
}

export class StepRunner {
  readonly outcomes: StepOutcome[] = [];
  /** Warnings the runtime gave at creation (unenforceable limits), deduplicated. */
  readonly runtimeWarnings = new Set<string>();
  private readonly live = new Map<symbol, AbortController>();
  private readonly removals = new Set<Promise<void>>();
  private interrupted = false;
  private readonly opts: StepRunnerOptions;

  constructor(opts: StepRunnerOptions) {
    this.opts = opts;
  }

  /** Runs one step. Output goes to `io` as it comes; never throws for the step's own failure. */
  async run(request: StepRequest, io: RunIo, clientStartedAt = Date.now(), clientGone?: AbortSignal): Promise<StepOutcome> {
    const { opts } = this;
    if (this.interrupted) throw new CrateboxError("INTERRUPTED", "the run is being interrupted");
    const facts = await opts.gatherFacts(request);
    const plan = planStep(request, facts, opts.settings);
    await opts.checkPlan?.(plan);
    const abort = new AbortController();
    const key = Symbol(plan.crate.name);
    this.live.set(key, abort);
    const onGone = () => abort.abort("client-gone");
    clientGone?.addEventListener("abort", onGone, { once: true });
    let containerId = "";
    let proxy: StepProxy | undefined;
    try {
      if (plan.proxy) proxy = await opts.startProxy(plan.proxy);
      // The directive firewall: a build script's stdout goes to cargo line by line, and a line
      // the host would act on dangerously is kept back (core/directive-gate.ts).
      const gate = plan.gate ? new DirectiveGate(plan.gate.outDir, plan.gate.allowed, io.stdout) : undefined;
      // A compiler's diagnostics: what it wanted and the sandbox withheld (core/compile-output.ts).
      const log = plan.compile ? new CompileLog(io.stderr) : undefined;
      // A binary cargo runs: a file error in its output may mean a path the sandbox hides.
      const files = !gate && !log ? new FileErrorWatch() : undefined;
      // ... and a nested cargo failing (trybuild) may mean the configuration the sandbox withholds.
      const nested = files ? new NestedCargoWatch() : undefined;
      const watched = (out: (c: Buffer) => void) =>
        files
          ? (c: Buffer) => {
              files.push(c);
              nested?.push(c);
              out(c);
            }
          : out;
      const relay: RunIo = {
        stdout: gate ? (c) => gate.push(c) : watched(io.stdout),
        stderr: log ? (c) => log.push(c) : watched(io.stderr),
      };
      const run = await runSandbox(
        opts.runtime,
        plan.spec,
        relay,
        abort.signal,
        {
          onCreated: (id) => {
            containerId = id;
          },
          onStarted: () => opts.onStepStart?.(request.phase, plan.crate.name),
        },
        plan.decision.limits.timeoutMs,
      );
      for (const w of run.warnings) this.runtimeWarnings.add(w);
      gate?.end(opts.exists ?? existsSync);
      log?.end();
      let exit = run.exit;
      const refusal = plan.compile
        ? await opts.finishCompile?.(plan, run.exit.exitCode === 0 && run.exit.stoppedBy === undefined && !run.exit.oomKilled)
        : undefined;
      if (refusal) {
        io.stderr(Buffer.from(`cratebox: ${refusal}\n`));
        exit = { ...exit, exitCode: 101 };
      }
      const outcome = toStepOutcome(plan, {
        containerId: run.id,
        backend: run.backend,
        exit,
        runMs: run.runMs,
        // Only paths that exist on the host: a missing file is the code's own mistake.
        compile: log
          ? { envMissing: [...log.envMissing], unreadable: [...log.unreadable].filter((p) => isAbsolute(p) && (opts.exists ?? existsSync)(p)) }
          : undefined,
        blocked: gate?.blocked ?? [],
        askedEnv: gate?.askedEnv ?? new Set(),
        egress: { events: proxy?.events ?? [], omitted: proxy?.omitted ?? 0 },
        denials: plan.traceDir && opts.readDenials ? opts.readDenials(plan.traceDir, plan) : undefined,
        fileErrorSeen: files?.seen ?? false,
        nestedCargoSeen: nested?.seen ?? false,
        clientStartedAt,
        endedAt: Date.now(),
      });
      this.outcomes.push(outcome);
      opts.onStepEnd?.(outcome);
      return outcome;
    } finally {
      clientGone?.removeEventListener("abort", onGone);
      this.live.delete(key);
      if (containerId) this.scheduleRemoval(containerId);
      await proxy?.close();
    }
  }

  private scheduleRemoval(id: string): void {
    const p = this.opts.runtime
      .remove(id)
      .catch((err: Error) => this.opts.log(`could not remove sandbox ${id.slice(0, 12)}: ${err.message}`))
      .finally(() => this.removals.delete(p));
    this.removals.add(p);
  }

  /** Ctrl-C: stop every running step now; later requests are refused. */
  interrupt(): void {
    this.interrupted = true;
    for (const abort of this.live.values()) abort.abort("interrupt");
  }

  /** Stops what still runs, waits for the removals, and removes anything of this run that is left. */
  async close(): Promise<void> {
    for (const abort of this.live.values()) abort.abort("interrupt");
    await Promise.allSettled([...this.removals]);
    const left = await this.opts.runtime.list(LABEL_RUN, this.opts.settings.identity.runId);
    await Promise.allSettled(left.map((c) => this.opts.runtime.remove(c.id)));
  }
}
