/**
 * Running one container to completion through the Engine API: create, attach, start, wait,
 * inspect, remove. The container is removed whatever happened; the caller sees only data.
 */
import { readFileSync } from "node:fs";
import { Writable } from "node:stream";
import type Docker from "dockerode";
import type { ContainerCreateOptions } from "dockerode";
import type { ContainerExit } from "../core/step-outcome.ts";

export interface RunIo {
  stdout: (chunk: Buffer) => void;
  stderr: (chunk: Buffer) => void;
}

export interface ContainerRun {
  id: string;
  exit: ContainerExit;
  /** Milliseconds the container's process ran, from the engine's own timestamps. */
  runMs: number | undefined;
  /** Warnings the engine returned at create (e.g. limits the kernel cannot enforce). */
  warnings: string[];
}

/** Labels every cratebox container carries (see sweep.ts). */
export const LABEL_RUN = "cratebox.run";
export const LABEL_OWNER = "cratebox.owner";

/**
 * Where the engine's pids cgroup of a container lives (cgroup v1 with the cgroupfs driver, v2,
 * and the systemd driver). Read while the container runs: the cgroup goes away with it.
 */
function pidsEventsPaths(id: string): string[] {
  return [
    `/sys/fs/cgroup/pids/docker/${id}/pids.events`,
    `/sys/fs/cgroup/pids/system.slice/docker-${id}.scope/pids.events`,
    `/sys/fs/cgroup/docker/${id}/pids.events`,
    `/sys/fs/cgroup/system.slice/docker-${id}.scope/pids.events`,
  ];
}

function readPidsMax(paths: string[]): number | undefined {
  for (const p of paths) {
    try {
      const m = /^max (\d+)$/m.exec(readFileSync(p, "utf8"));
      return m ? Number(m[1]) : 0;
    } catch {
      /* try the next layout */
    }
  }
  return undefined;
}

function sink(fn: (chunk: Buffer) => void): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      fn(chunk);
      cb();
    },
  });
}

/**
 * Runs a container created from `options` until it exits, `timeoutMs` passes after its start,
 * or `signal` aborts (then it is killed and `stoppedBy` records "timeout" or signal.reason).
 * `onCreated` learns the id first, so that a caller can account for the container while it lives.
 */
export async function runContainer(
  docker: Docker,
  options: ContainerCreateOptions,
  io: RunIo,
  signal: AbortSignal,
  onCreated: (id: string) => void = () => {},
  timeoutMs?: number,
): Promise<ContainerRun> {
  const created = await docker.createContainer(options);
  const container = docker.getContainer(created.id);
  const warnings = ((created as unknown as { Warnings?: string[] | null }).Warnings ?? []).filter(Boolean);
  onCreated(created.id);
  let stoppedBy: ContainerExit["stoppedBy"];
  let pidsMax: number | undefined;
  let poll: NodeJS.Timeout | undefined;
  let timer: NodeJS.Timeout | undefined;
  const stop = (why: ContainerExit["stoppedBy"]) => {
    stoppedBy ??= why;
    container.kill({ signal: "SIGKILL" }).catch(() => {});
  };
  const onAbort = () => stop((signal.reason as ContainerExit["stoppedBy"]) ?? "interrupt");
  try {
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const drained = new Promise<void>((resolve) => {
      stream.on("end", resolve);
      stream.on("close", resolve);
      stream.on("error", () => resolve());
    });
    container.modem.demuxStream(stream, sink(io.stdout), sink(io.stderr));
    // "next-exit": waits for the coming exit, not for the "created" state we are in now.
    const waited = container.wait({ condition: "next-exit" });
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    await container.start();
    // An abort that came while the container was being created or started found nothing to kill.
    if (signal.aborted) onAbort();
    // The time limit counts from the start of the container, not from its creation.
    if (timeoutMs !== undefined) timer = setTimeout(() => stop("timeout"), timeoutMs);
    const paths = pidsEventsPaths(created.id);
    const sample = () => {
      const v = readPidsMax(paths);
      if (v !== undefined) pidsMax = Math.max(pidsMax ?? 0, v);
    };
    sample();
    poll = setInterval(sample, 100);
    const result = (await waited) as { StatusCode: number };
    clearInterval(poll);
    await Promise.race([drained, new Promise((r) => setTimeout(r, 2000))]);
    const info = await container.inspect();
    const started = Date.parse(info.State.StartedAt);
    const finished = Date.parse(info.State.FinishedAt);
    return {
      id: created.id,
      exit: {
        exitCode: result.StatusCode,
        oomKilled: Boolean(info.State.OOMKilled),
        pidsLimitHit: pidsMax === undefined ? undefined : pidsMax > 0,
        ...(stoppedBy ? { stoppedBy } : {}),
      },
      // Docker 20.10 can report FinishedAt a fraction of a millisecond before StartedAt for a
      // process that exits at once: that is a run of ~0 ms, not an unknown one. Unset times
      // read as year 1 (negative epoch), which stays unknown.
      runMs: started > 0 && finished > 0 ? Math.max(0, finished - started) : undefined,
      warnings,
    };
  } finally {
    clearInterval(poll);
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
}

export async function removeContainer(docker: Docker, id: string): Promise<void> {
  try {
    await docker.getContainer(id).remove({ force: true, v: true });
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== 404 && status !== 409) throw err;
  }
}
