/**
 * bubblewrap (bwrap) behind the sandbox seam: a sandbox is a bwrap process tree in its own
 * namespaces (core/bwrap-args.ts), joined to a cgroup of its own for the memory, process and CPU
 * limits where the host gives one (cgroups.ts). Far cheaper to start than a container (a few
 * milliseconds against a hundred and more), so it is what cratebox uses where it works.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { bwrapRefusal, toBwrapArgs } from "../../core/bwrap-args.ts";
import { CrateboxError } from "../../core/errors.ts";
import type { SandboxSpec } from "../../core/sandbox-spec.ts";
import type { CgroupSupport, SandboxCgroup } from "./cgroups.ts";
import type { ListedSandbox, RunIo, Sandbox, SandboxExitStatus, SandboxRuntime } from "./runtime.ts";

/** Joins the cgroups named before `--`, then becomes the command after it. */
const JOIN_CGROUPS = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

export interface BwrapOptions {
  /** The bwrap binary. */
  bwrap: string;
  /** cgroups for the limits; undefined: only the time limit holds (doctor and the run say so). */
  cgroups: CgroupSupport | undefined;
  /** cratebox's own image tag: a spec naming it needs no engine. */
  ownImage: string;
  /** This process, for the cgroup directories (sweep.ts removes those of dead owners). */
  owner: string;
}

export class BwrapRuntime implements SandboxRuntime {
  readonly kind = "bwrap";
  private readonly opts: BwrapOptions;
  private readonly live = new Map<string, { labels: Record<string, string>; cgroup: SandboxCgroup | undefined; child?: ChildProcess }>();

  constructor(opts: BwrapOptions) {
    this.opts = opts;
  }

  async create(spec: SandboxSpec): Promise<Sandbox> {
    const refusal = bwrapRefusal(spec, this.opts.ownImage);
    if (refusal)
      throw new CrateboxError(
        "BACKEND_UNAVAILABLE",
        `the bwrap backend cannot run this step: ${refusal}`,
        "run it on the Docker engine: cratebox --backend docker",
      );
    const id = `bwrap-${randomUUID().slice(0, 13)}`;
    const cgroup = this.opts.cgroups?.create(this.opts.owner, id, spec.limits);
    const entry: { labels: Record<string, string>; cgroup: SandboxCgroup | undefined; child?: ChildProcess } = { labels: spec.labels, cgroup };
    this.live.set(id, entry);
    const args = toBwrapArgs(spec);
    const command = cgroup ? ["/bin/sh", "-c", JOIN_CGROUPS, "sh", ...cgroup.procs, "--", this.opts.bwrap, ...args] : [this.opts.bwrap, ...args];
    let killed = false;
    return {
      id,
      backend: "bwrap",
      warnings: [],
      run: (io: RunIo, started: () => void) =>
        new Promise<SandboxExitStatus>((resolve, reject) => {
          const t0 = performance.now();
          // Exactly the spec's environment: bwrap hands it down (it is not on the command line).
          const child = spawn(command[0]!, command.slice(1), { env: spec.env, stdio: ["ignore", "pipe", "pipe"] });
          entry.child = child;
          child.stdout.on("data", (c: Buffer) => io.stdout(c));
          child.stderr.on("data", (c: Buffer) => io.stderr(c));
          child.once("spawn", () => {
            if (killed) child.kill("SIGKILL");
            started();
          });
          child.once("error", (err) => reject(new CrateboxError("BACKEND_UNAVAILABLE", `could not start bwrap (${this.opts.bwrap}): ${err.message}`)));
          child.once("close", (code, signal) => {
            const exitCode = code ?? 128 + (SIGNALS[signal ?? ""] ?? 9);
            resolve({
              exitCode,
              oomKilled: cgroup?.oomKilled() ?? false,
              pidsLimitHit: cgroup ? cgroup.pidsLimitHit() : undefined,
              runMs: Math.round(performance.now() - t0),
            });
          });
        }),
      kill: async () => {
        killed = true;
        entry.child?.kill("SIGKILL");
        cgroup?.kill();
      },
    };
  }

  async remove(id: string): Promise<void> {
    const entry = this.live.get(id);
    if (!entry) return;
    this.live.delete(id);
    entry.child?.kill("SIGKILL");
    entry.cgroup?.kill();
    await entry.cgroup?.remove();
  }

  async list(label: string, value?: string): Promise<ListedSandbox[]> {
    return [...this.live.entries()]
      .filter(([, e]) => label in e.labels && (value === undefined || e.labels[label] === value))
      .map(([id, e]) => ({ id, labels: e.labels }));
  }
}
