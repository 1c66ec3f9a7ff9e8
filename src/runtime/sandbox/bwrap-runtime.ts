/**
 * bubblewrap (bwrap) behind the sandbox seam: a sandbox is a bwrap process tree in its own
 * namespaces (core/bwrap-args.ts), joined to a cgroup of its own for the memory, process and CPU
 * limits where the host gives one (cgroups.ts). Far cheaper to start than a container (a few
 * milliseconds against a hundred and more), so it is what cratebox uses where it works.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { bwrapRefusal, toBwrapArgs } from "../../core/bwrap-args.ts";
import { CrateboxError } from "../../core/errors.ts";
import type { SandboxSpec } from "../../core/sandbox-spec.ts";
import type { CgroupSupport, SandboxCgroup } from "./cgroups.ts";
import type { ListedSandbox, RunIo, Sandbox, SandboxExitStatus, SandboxRuntime } from "./runtime.ts";

/**
 * bwrap's descriptors for joining a cgroup before anything runs: it blocks its sandbox (the one
 * process in the new namespaces, before it starts the program) until a byte arrives on BLOCK_FD,
 * and tells the sandbox's pid on INFO_FD. cratebox moves bwrap and that process into the cgroup,
 * then lets it go: the program and everything it starts are born inside. (A shell that joined
 * and then exec'd bwrap cost one more exec per step.)
 */
const BLOCK_FD = 3;
const INFO_FD = 4;

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
    const args = [...(cgroup ? ["--block-fd", String(BLOCK_FD), "--info-fd", String(INFO_FD)] : []), ...toBwrapArgs(spec)];
    let killed = false;
    return {
      id,
      backend: "bwrap",
      warnings: [],
      run: (io: RunIo, started: () => void) =>
        new Promise<SandboxExitStatus>((resolve, reject) => {
          const t0 = performance.now();
          // Exactly the spec's environment: bwrap hands it down (it is not on the command line).
          const child = spawn(this.opts.bwrap, args, {
            env: spec.env,
            stdio: cgroup ? ["ignore", "pipe", "pipe", "pipe", "pipe"] : ["ignore", "pipe", "pipe"],
          });
          entry.child = child;
          let joinError: Error | undefined;
          if (cgroup)
            joinWhenBlocked(child, cgroup.procs, (err) => {
              joinError = err;
            });
          child.stdout!.on("data", (c: Buffer) => io.stdout(c));
          child.stderr!.on("data", (c: Buffer) => io.stderr(c));
          child.once("spawn", () => {
            if (killed) child.kill("SIGKILL");
            started();
          });
          child.once("error", (err) => reject(new CrateboxError("BACKEND_UNAVAILABLE", `could not start bwrap (${this.opts.bwrap}): ${err.message}`)));
          child.once("close", (code, signal) => {
            if (joinError) return reject(new CrateboxError("BACKEND_UNAVAILABLE", `could not put the bwrap sandbox in its cgroup: ${joinError.message}`));
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

/**
 * Once bwrap has told its sandbox's pid (INFO_FD), moves bwrap and the sandbox into the cgroup
 * (every `cgroup.procs` file) and unblocks it (BLOCK_FD). A bwrap that fails before it tells
 * anything ends by itself, its error on stderr.
 */
function joinWhenBlocked(child: ChildProcess, procs: readonly string[], failed: (err: Error) => void): void {
  const info = child.stdio[INFO_FD] as Readable;
  const block = child.stdio[BLOCK_FD] as Writable;
  block.on("error", () => {}); // bwrap gone before it read: its exit says why.
  let text = "";
  info.setEncoding("utf8");
  info.on("data", (c: string) => (text += c));
  info.on("error", () => {});
  info.once("end", () => {
    // Nothing told: bwrap failed or was killed before it told (its exit says why). Let go of the
    // descriptor only once bwrap is gone, so that a sandbox it made has had its --die-with-parent
    // signal before it could read the end of file.
    if (!text.trim()) {
      if (child.exitCode !== null || child.signalCode !== null) block.destroy();
      else child.once("exit", () => block.destroy());
      return;
    }
    let sandboxPid: number | undefined;
    try {
      sandboxPid = (JSON.parse(text) as { "child-pid"?: number })["child-pid"];
      if (!Number.isInteger(sandboxPid) || child.pid === undefined) throw new Error(`bwrap told no sandbox pid (${text.trim().slice(0, 80)})`);
      for (const file of procs) {
        writeFileSync(file, String(child.pid));
        writeFileSync(file, String(sandboxPid));
      }
      block.end("x");
    } catch (err) {
      // Never let go: the sandbox and bwrap are killed first, as an end of file on BLOCK_FD
      // would let the sandbox go on.
      if (Number.isInteger(sandboxPid)) killQuietly(sandboxPid!);
      child.kill("SIGKILL");
      block.destroy();
      failed(err as Error);
    }
  });
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    /* gone already */
  }
}
