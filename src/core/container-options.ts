/**
 * SandboxSpec -> Docker Engine API "create container" body. Pure.
 * Field reference: Docker Engine API, POST /containers/create (HostConfig).
 */
import type { ContainerCreateOptions } from "dockerode";
import type { EngineQuirks } from "./engine-kind.ts";
import { backstopCommand, type SandboxSpec } from "./sandbox-spec.ts";

/**
 * What the engine's pids cgroup counts for a sandbox under gVisor: runsc (ptrace platform) runs
 * every sandboxed process on host threads of its own, next to its sentry's. Measured here
 * (runsc 2022-12, cgroup v1): ~48 host pids for an idle sandbox, ~12 more per process. A step's
 * `pids` limit is in its own processes, so the cgroup gets room for gVisor's threads on top;
 * with the runc limit a sandbox under runsc could not even start (8) or run a parallel build.
 */
export const RUNSC_PIDS = { base: 64, perProcess: 12 } as const;

/** The engine's PidsLimit for a step's `pids` limit under `runtime`. */
export function enginePidsLimit(pids: number, runtime: SandboxSpec["runtime"]): number {
  return runtime === "runsc" ? RUNSC_PIDS.base + pids * RUNSC_PIDS.perProcess : pids;
}

/** `quirks`: what this engine needs said differently (Podman: core/engine-kind.ts). */
export function toCreateOptions(spec: SandboxSpec, name?: string, quirks: EngineQuirks = { tmpfsNoCopyUp: false }): ContainerCreateOptions {
  const { usernsMode } = quirks;
  const { limits } = spec;
  return {
    ...(name ? { name } : {}),
    Image: spec.image,
    // A proxied step runs under the egress relay, which starts the command once it listens; the
    // command under the backstop timer, as a container outlives a cratebox that was killed.
    Cmd: [...(spec.relay ?? []), ...backstopCommand(spec), ...spec.cmd],
    Entrypoint: [],
    WorkingDir: spec.workdir,
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    User: spec.user,
    Labels: spec.labels,
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    OpenStdin: false,
    NetworkDisabled: spec.network === "none",
    HostConfig: {
      // Each bind is its own mount; "rprivate" so nothing mounted later on the host leaks in.
      Mounts: spec.mounts.map((m) => ({
        Type: "bind" as const,
        Source: m.source,
        Target: m.target,
        ReadOnly: m.readOnly,
        BindOptions: { Propagation: "rprivate" as const },
      })),
      Tmpfs: Object.fromEntries(spec.tmpfs.map((t) => [t.target, quirks.tmpfsNoCopyUp ? `${t.options},notmpcopyup` : t.options])),
      // A `network = true` grant gets the engine's default bridge: full access, warned about.
      // A host list stays on "none": its only way out is the relay on its own loopback.
      NetworkMode: spec.network === "full" ? "bridge" : "none",
      ...(spec.runtime !== "runc" ? { Runtime: spec.runtime } : {}),
      ...(usernsMode ? { UsernsMode: usernsMode } : {}),
      ReadonlyRootfs: true,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      Privileged: false,
      Init: true,
      IpcMode: "private",
      PidsLimit: enginePidsLimit(limits.pids, spec.runtime),
      Memory: limits.memoryBytes,
      // Equal to Memory: no swap on top of the limit, so a memory bomb ends instead of thrashing.
      MemorySwap: limits.memoryBytes,
      ...(limits.cpus !== undefined ? { NanoCpus: Math.round(limits.cpus * 1e9) } : {}),
      // No core files from a crashing script (they would land in the read-only cwd anyway).
      Ulimits: [{ Name: "core", Soft: 0, Hard: 0 }],
      LogConfig: { Type: "none", Config: {} },
      AutoRemove: false,
    },
  };
}
