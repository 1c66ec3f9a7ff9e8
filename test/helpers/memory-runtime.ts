/**
 * An in-memory sandbox runtime for the unit tests of what sits above the seam (the step runner,
 * runSandbox): each sandbox plays a scripted behaviour instead of running anything. Real
 * sandboxes are tested against the real engine (test/docker, test/e2e).
 */
import type { SandboxSpec } from "../../src/core/sandbox-spec.ts";
import type { ListedSandbox, RunIo, Sandbox, SandboxExitStatus, SandboxRuntime } from "../../src/runtime/sandbox/runtime.ts";

export interface Behaviour {
  stdout?: string[];
  stderr?: string[];
  exitCode?: number;
  oomKilled?: boolean;
  pidsLimitHit?: boolean;
  /** Runs until killed (then exits 137). */
  hang?: boolean;
  /** create() fails with this. */
  createError?: Error;
}

export class MemoryRuntime implements SandboxRuntime {
  readonly kind = "memory";
  readonly created: { id: string; spec: SandboxSpec }[] = [];
  readonly killed: string[] = [];
  readonly removed: string[] = [];
  private readonly behave: (spec: SandboxSpec) => Behaviour;

  constructor(behave: (spec: SandboxSpec) => Behaviour = () => ({})) {
    this.behave = behave;
  }

  async create(spec: SandboxSpec): Promise<Sandbox> {
    const b = this.behave(spec);
    if (b.createError) throw b.createError;
    const id = `mem-${this.created.length + 1}`;
    this.created.push({ id, spec });
    let killed: () => void = () => {};
    const killedNow = new Promise<void>((resolve) => (killed = resolve));
    const runtime = this;
    return {
      id,
      backend: "memory",
      warnings: [],
      async run(io: RunIo, started: () => void): Promise<SandboxExitStatus> {
        started();
        for (const c of b.stdout ?? []) io.stdout(Buffer.from(c));
        for (const c of b.stderr ?? []) io.stderr(Buffer.from(c));
        if (b.hang) {
          await killedNow;
          return { exitCode: 137, oomKilled: false, pidsLimitHit: false, runMs: undefined };
        }
        return { exitCode: b.exitCode ?? 0, oomKilled: b.oomKilled ?? false, pidsLimitHit: b.pidsLimitHit ?? false, runMs: 1 };
      },
      async kill(): Promise<void> {
        runtime.killed.push(id);
        killed();
      },
    };
  }

  async remove(id: string): Promise<void> {
    if (!this.removed.includes(id)) this.removed.push(id);
  }

  async list(label: string, value?: string): Promise<ListedSandbox[]> {
    return this.created
      .filter((c) => !this.removed.includes(c.id) && label in c.spec.labels && (value === undefined || c.spec.labels[label] === value))
      .map((c) => ({ id: c.id, labels: c.spec.labels }));
  }
}
