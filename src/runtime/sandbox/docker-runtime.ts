/**
 * The Docker Engine API behind the sandbox seam (dockerode): a sandbox is a container created
 * from core/container-options.ts's body, attached, started, waited for and inspected.
 */
import { readFileSync } from "node:fs";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type Docker from "dockerode";
import { toCreateOptions } from "../../core/container-options.ts";
import { type EngineQuirks, engineQuirks, isEngineAttachNoise } from "../../core/engine-kind.ts";
import { CrateboxError } from "../../core/errors.ts";
import { engineInfo, readEngineKind } from "../engine.ts";
import { type RuntimeRegistration, runscRefusal, runscRegisterHint } from "../../core/runsc.ts";
import type { SandboxSpec } from "../../core/sandbox-spec.ts";
import { imageExists } from "../image.ts";
import type { ListedSandbox, RunIo, Sandbox, SandboxExitStatus, SandboxRuntime } from "./runtime.ts";

/** How long to wait for the rest of a container's output after it exited. */
const DRAIN_MS = 2000;
/** How many times (100 ms apart) a SIGKILLed step's container is inspected again for a late OOM. */
const OOM_LATE_CHECKS = 5;

export class DockerRuntime implements SandboxRuntime {
  readonly kind = "docker";
  readonly docker: Docker;
  /** Images a grant named, checked once each (cratebox's own image is built before the run). */
  private readonly images = new Map<string, Promise<void>>();
  private runtimes: Promise<Record<string, RuntimeRegistration>> | undefined;
  /** What this engine needs said differently (Podman), asked once. */
  private quirks: Promise<EngineQuirks> | undefined;
  private readonly ownImage: string | undefined;

  /** `ownImage`: cratebox's sandbox image, known to exist (ensureImage built it). */
  constructor(docker: Docker, ownImage?: string) {
    this.docker = docker;
    this.ownImage = ownImage;
  }

  async create(spec: SandboxSpec): Promise<Sandbox> {
    if (spec.image !== this.ownImage) await this.ensureImage(spec.image);
    if (spec.runtime !== "runc") await this.ensureRuntime(spec.runtime, spec.network);
    this.quirks ??= readEngineKind(this.docker).then(engineQuirks);
    const created = await this.docker.createContainer(toCreateOptions(spec, undefined, await this.quirks));
    const warnings = ((created as unknown as { Warnings?: string[] | null }).Warnings ?? []).filter(Boolean);
    return new DockerSandbox(this.docker.getContainer(created.id), warnings);
  }

  /** A custom image named by a grant must exist locally: nothing can be pulled. */
  private ensureImage(ref: string): Promise<void> {
    let p = this.images.get(ref);
    if (!p) {
      p = imageExists(this.docker, ref).then((exists) => {
        if (!exists)
          throw new CrateboxError(
            "IMAGE_MISSING",
            `the image ${ref} named in a grant is not in the engine, and cratebox does not pull images`,
            "build or load it first (docker build / docker load / docker import)",
          );
      });
      this.images.set(ref, p);
    }
    return p;
  }

  /**
   * A runtime named by a grant (runsc) must be registered with the engine, in a way that can
   * give the step what it asks (core/runsc.ts): refused before anything is created otherwise.
   */
  private async ensureRuntime(name: string, network: SandboxSpec["network"]): Promise<void> {
    this.runtimes ??= engineInfo(this.docker).then((i) => (i as { Runtimes?: Record<string, RuntimeRegistration> }).Runtimes ?? {});
    const known = await this.runtimes;
    const reg = known[name];
    if (!reg) {
      throw new CrateboxError(
        "RUNTIME_MISSING",
        `the runtime ${name} named in a grant is not registered with the Docker engine (it has: ${Object.keys(known).join(", ")})`,
        name === "runsc" ? runscRegisterHint() : undefined,
      );
    }
    const refused = name === "runsc" ? runscRefusal(network, reg) : undefined;
    if (refused) throw new CrateboxError("RUNTIME_REFUSED", `this step cannot run under runsc: ${refused.reason}`, refused.hint);
  }

  async remove(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status !== 404 && status !== 409) throw err;
    }
  }

  async list(label: string, value?: string): Promise<ListedSandbox[]> {
    const found = await this.docker.listContainers({ all: true, filters: { label: [value === undefined ? label : `${label}=${value}`] } });
    return found.map((c) => ({ id: c.Id, labels: c.Labels }));
  }
}

class DockerSandbox implements Sandbox {
  readonly id: string;
  readonly backend = "docker";
  readonly warnings: readonly string[];
  private readonly container: Docker.Container;

  constructor(container: Docker.Container, warnings: string[]) {
    this.container = container;
    this.id = container.id;
    this.warnings = warnings;
  }

  async kill(): Promise<void> {
    await this.container.kill({ signal: "SIGKILL" }).catch(() => {});
  }

  async run(io: RunIo, started: () => void): Promise<SandboxExitStatus> {
    const { container } = this;
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const drained = new Promise<void>((resolve) => {
      stream.on("end", resolve);
      stream.on("close", resolve);
      stream.on("error", () => resolve());
    });
    const stderr = (frame: Buffer) => {
      if (frame[0] !== 0x45 /* "E" */ || !isEngineAttachNoise(frame.toString())) io.stderr(frame);
    };
    container.modem.demuxStream(stream, sink(io.stdout), sink(stderr));
    // "next-exit": waits for the coming exit, not for the "created" state we are in now.
    const waited = container.wait({ condition: "next-exit" });
    await container.start();
    started();
    const pids = new PidsWatch(this.id);
    let result: { StatusCode: number };
    try {
      result = (await waited) as { StatusCode: number };
    } finally {
      pids.stop();
    }
    await settleWithin(drained, DRAIN_MS);
    let info = await container.inspect();
    // The engine handles a container's OOM event apart from its exit, and an OOM event that comes
    // after the exit still sets OOMKilled (moby's daemon.ProcessEvent; seen once under gVisor: a
    // memory kill reported as a plain SIGKILL). A step ended by SIGKILL asks again, briefly.
    for (let i = 0; i < OOM_LATE_CHECKS && result.StatusCode === 137 && !info.State.OOMKilled; i++) {
      await sleep(100);
      const again = await container.inspect().catch(() => undefined); // removed meanwhile: as it was
      if (!again) break;
      info = again;
    }
    const startedAt = Date.parse(info.State.StartedAt);
    const finishedAt = Date.parse(info.State.FinishedAt);
    return {
      exitCode: result.StatusCode,
      oomKilled: Boolean(info.State.OOMKilled),
      pidsLimitHit: pids.max === undefined ? undefined : pids.max > 0,
      // Docker 20.10 can report FinishedAt a fraction of a millisecond before StartedAt for a
      // process that exits at once: that is a run of ~0 ms, not an unknown one. Unset times
      // read as year 1 (negative epoch), which stays unknown.
      runMs: startedAt > 0 && finishedAt > 0 ? Math.max(0, finishedAt - startedAt) : undefined,
    };
  }
}

/** Waits for `p`, at most `ms`, without keeping the process alive afterwards. */
async function settleWithin(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
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
 * Whether the pids cgroup refused a fork, read while the container runs (the cgroup goes away
 * with it): cgroup v1 with the cgroupfs driver, v2, and the systemd driver.
 */
class PidsWatch {
  max: number | undefined;
  private readonly paths: string[];
  private timer: NodeJS.Timeout;

  constructor(id: string) {
    this.paths = [
      `/sys/fs/cgroup/pids/docker/${id}/pids.events`,
      `/sys/fs/cgroup/pids/system.slice/docker-${id}.scope/pids.events`,
      `/sys/fs/cgroup/docker/${id}/pids.events`,
      `/sys/fs/cgroup/system.slice/docker-${id}.scope/pids.events`,
    ];
    this.sample();
    // Often at first (a short step's cgroup is gone with it), then every 100 ms.
    let ticks = 0;
    this.timer = setInterval(() => {
      this.sample();
      if (++ticks === 25) {
        clearInterval(this.timer);
        this.timer = setInterval(() => this.sample(), 100);
      }
    }, 20);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    const v = readPidsMax(this.paths);
    if (v !== undefined) this.max = Math.max(this.max ?? 0, v);
  }
}

/** The `max` count of pids.events: how often a fork was refused. */
function readPidsMax(paths: readonly string[]): number | undefined {
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
