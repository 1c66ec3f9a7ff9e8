/**
 * One sandbox from creation to exit, whatever the backend: the time limit counts from the
 * start, an abort (Ctrl-C, the shim gone) kills it, and the result says who stopped it.
 * Removal is the caller's (the orchestrator schedules it at once and waits for it at the end).
 */
import type { SandboxSpec } from "../../core/sandbox-spec.ts";
import type { ContainerExit } from "../../core/step-outcome.ts";
import type { RunIo, SandboxRuntime } from "./runtime.ts";

export interface SandboxRun {
  id: string;
  backend: string;
  exit: ContainerExit;
  /** Milliseconds the program ran, as the backend measured it. */
  runMs: number | undefined;
  warnings: readonly string[];
}

export interface RunHooks {
  /** Told the id before the start, so that a caller can account for the sandbox while it lives. */
  onCreated?: (id: string) => void;
  onStarted?: () => void;
}

/**
 * Runs `spec` until its program exits, `timeoutMs` passes after its start, or `signal` aborts
 * (then it is killed and `stoppedBy` records "timeout" or the abort's reason).
 */
export async function runSandbox(
  runtime: SandboxRuntime,
  spec: SandboxSpec,
  io: RunIo,
  signal: AbortSignal,
  hooks: RunHooks = {},
  timeoutMs?: number,
): Promise<SandboxRun> {
  const sandbox = await runtime.create(spec);
  hooks.onCreated?.(sandbox.id);
  let stoppedBy: ContainerExit["stoppedBy"];
  let timer: NodeJS.Timeout | undefined;
  const stop = (why: NonNullable<ContainerExit["stoppedBy"]>) => {
    stoppedBy ??= why;
    sandbox.kill().catch(() => {});
  };
  const onAbort = () => stop((signal.reason as ContainerExit["stoppedBy"]) ?? "interrupt");
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  try {
    const status = await sandbox.run(io, () => {
      // An abort that came while the sandbox was being created or started found nothing to kill.
      if (signal.aborted) onAbort();
      // The time limit counts from the start, not from the creation.
      if (timeoutMs !== undefined) timer = setTimeout(() => stop("timeout"), timeoutMs);
      hooks.onStarted?.();
    });
    return {
      id: sandbox.id,
      backend: sandbox.backend,
      exit: { exitCode: status.exitCode, oomKilled: status.oomKilled, pidsLimitHit: status.pidsLimitHit, ...(stoppedBy ? { stoppedBy } : {}) },
      runMs: status.runMs,
      warnings: sandbox.warnings,
    };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
}
