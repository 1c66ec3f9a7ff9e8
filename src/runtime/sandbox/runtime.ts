/**
 * The seam between cratebox and what runs a sandbox. The deciding code produces a SandboxSpec
 * (core/sandbox-spec.ts); a SandboxRuntime turns it into a running sandbox: a Docker container
 * (docker-runtime.ts), a bubblewrap process tree, or, in unit tests, an in-memory double
 * (test/helpers/memory-runtime.ts). Nothing above this interface knows which.
 */
import type { SandboxSpec } from "../../core/sandbox-spec.ts";

export interface RunIo {
  stdout: (chunk: Buffer) => void;
  stderr: (chunk: Buffer) => void;
}

/** How a sandbox's program ended, as the backend observed it. */
export interface SandboxExitStatus {
  /** The program's exit code (128+n when it died of signal n). */
  exitCode: number;
  /** The memory limit ended it. */
  oomKilled: boolean;
  /** The process limit refused at least one fork (undefined: the backend cannot tell). */
  pidsLimitHit: boolean | undefined;
  /** Milliseconds the program ran, as the backend measured it. */
  runMs: number | undefined;
}

/** One sandbox, created from a spec, not yet started. */
export interface Sandbox {
  readonly id: string;
  /** Which backend runs it ("docker", "bwrap"): the report says so per step. */
  readonly backend: string;
  /** Warnings the backend gave at creation (e.g. limits the kernel cannot enforce). */
  readonly warnings: readonly string[];
  /**
   * Attaches `io`, starts the program, calls `started` once it runs, and resolves when it has
   * exited and its output is drained. Never rejects for the program's own failure.
   */
  run(io: RunIo, started: () => void): Promise<SandboxExitStatus>;
  /** Kills everything in the sandbox. Harmless before the start, after the exit, and twice. */
  kill(): Promise<void>;
}

export interface ListedSandbox {
  id: string;
  labels: Record<string, string>;
}

export interface SandboxRuntime {
  /** Which backend this is, for messages, doctor and the report. */
  readonly kind: string;
  create(spec: SandboxSpec): Promise<Sandbox>;
  /** Removes a sandbox and what it held. Harmless for one already gone. */
  remove(id: string): Promise<void>;
  /** Every sandbox carrying `label` (with `value`, when given): the sweep, a run's cleanup. */
  list(label: string, value?: string): Promise<ListedSandbox[]>;
}

/** The same backend with every sandbox of the default runtime under `runtime` (doctor's runsc probes). */
export function withRuntime(inner: SandboxRuntime, runtime: SandboxSpec["runtime"]): SandboxRuntime {
  return {
    kind: `${inner.kind}-${runtime}`,
    create: (spec) => inner.create(spec.runtime === "runc" ? { ...spec, runtime } : spec),
    remove: (id) => inner.remove(id),
    list: (label, value) => inner.list(label, value),
  };
}
