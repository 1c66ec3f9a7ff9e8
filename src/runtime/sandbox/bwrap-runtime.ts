/**
 * bubblewrap (bwrap) behind the sandbox seam: a sandbox is a bwrap process tree in its own
 * namespaces (core/bwrap-args.ts), joined to a cgroup of its own for the memory, process and CPU
 * limits where the host gives one (cgroups.ts). Far cheaper to start than a container (a few
 * milliseconds against a hundred and more), so it is what cratebox uses where it works.
 */
import { bwrapRefusal, toBwrapArgs } from "../../core/bwrap-args.ts";
import { CrateboxError } from "../../core/errors.ts";
import type { SandboxSpec } from "../../core/sandbox-spec.ts";
import type { CgroupSupport, SandboxCgroup } from "./cgroups.ts";
import { randomUuid } from "../random.ts";
import { type Launched, type Launcher, nodeLauncher } from "./launch.ts";
import type { ListedSandbox, RunIo, Sandbox, SandboxExitStatus, SandboxRuntime } from "./runtime.ts";

export interface BwrapOptions {
  /** The bwrap binary. */
  bwrap: string;
  /** cgroups for the limits; undefined: only the time limit holds (doctor and the run say so). */
  cgroups: CgroupSupport | undefined;
  /** cratebox's own image tag: a spec naming it needs no engine. */
  ownImage: string;
  /** This process, for the cgroup directories (sweep.ts removes those of dead owners). */
  owner: string;
  /** What starts bwrap (launch.ts): the native spawner where it was built, else Node's spawn. */
  launcher?: Launcher;
}

interface LiveSandbox {
  labels: Record<string, string>;
  cgroup: SandboxCgroup | undefined;
  child?: Launched;
  /** bwrap was reaped: nothing of the sandbox runs on. */
  ended?: boolean;
}

export class BwrapRuntime implements SandboxRuntime {
  readonly kind = "bwrap";
  private readonly opts: BwrapOptions;
  private readonly live = new Map<string, LiveSandbox>();

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
    const id = `bwrap-${randomUuid().slice(0, 13)}`;
    const cgroup = this.opts.cgroups?.create(this.opts.owner, id, spec.limits);
    const entry: LiveSandbox = { labels: spec.labels, cgroup };
    this.live.set(id, entry);
    const args = toBwrapArgs(spec);
    const launcher = this.opts.launcher ?? nodeLauncher;
    let killed = false;
    return {
      id,
      backend: "bwrap",
      warnings: [],
      run: (io: RunIo, started: () => void) =>
        new Promise<SandboxExitStatus>((resolve, reject) => {
          const t0 = performance.now();
          let joinError: Error | undefined;
          // Exactly the spec's environment: bwrap hands it down (it is not on the command line).
          const child = launcher.launch(this.opts.bwrap, args, spec.env, cgroup?.procs, {
            stdout: (c) => io.stdout(c),
            stderr: (c) => io.stderr(c),
            spawned: () => {
              if (killed) child.kill();
              started();
            },
            error: (err) => reject(new CrateboxError("BACKEND_UNAVAILABLE", `could not start bwrap (${this.opts.bwrap}): ${err.message}`)),
            joinFailed: (err) => {
              joinError = err;
            },
            closed: (exitCode) => {
              entry.ended = true;
              if (joinError) return reject(new CrateboxError("BACKEND_UNAVAILABLE", `could not put the bwrap sandbox in its cgroup: ${joinError.message}`));
              resolve({
                exitCode,
                oomKilled: cgroup?.oomKilled() ?? false,
                pidsLimitHit: cgroup ? cgroup.pidsLimitHit() : undefined,
                runMs: Math.round(performance.now() - t0),
              });
            },
          });
          entry.child = child;
        }),
      kill: async () => {
        killed = true;
        entry.child?.kill();
        cgroup?.kill();
      },
    };
  }

  async remove(id: string): Promise<void> {
    const entry = this.live.get(id);
    if (!entry) return;
    this.live.delete(id);
    // A sandbox that ended took everything it started with it (its PID namespace ended with
    // bwrap's init): what is still leaving the cgroup is dying already, and killing it again
    // cost a read of every cgroup.procs file per round until it had left (issue 13).
    if (!entry.ended) {
      entry.child?.kill();
      entry.cgroup?.kill();
    }
    await entry.cgroup?.remove();
  }

  async list(label: string, value?: string): Promise<ListedSandbox[]> {
    return [...this.live.entries()]
      .filter(([, e]) => label in e.labels && (value === undefined || e.labels[label] === value))
      .map(([id, e]) => ({ id, labels: e.labels }));
  }
}
