/**
 * Which engine answers the Engine API, and whether it runs rootless. Pure: the engine's
 * `GET /version` and `GET /info` come in as data. Docker and Podman's Docker-compatible service
 * both answer the same API; Podman names itself in `Components` ("Podman Engine"), and both
 * list `name=rootless` in `SecurityOptions` when they run without root.
 */

export interface EngineVersion {
  Version?: string;
  Components?: { Name?: string; Version?: string }[] | null;
  Platform?: { Name?: string } | null;
}

export interface EngineInfo {
  ServerVersion?: string;
  SecurityOptions?: string[] | null;
  CgroupVersion?: string;
}

export interface EngineKind {
  name: "Docker" | "Podman";
  version: string;
  rootless: boolean;
}

export function engineKind(version: EngineVersion, info: EngineInfo): EngineKind {
  const podman = (version.Components ?? []).find((c) => /podman/i.test(c.Name ?? ""));
  const isPodman = podman !== undefined || /podman/i.test(version.Platform?.Name ?? "");
  const rootless = (info.SecurityOptions ?? []).some((o) => o.split(",").includes("name=rootless"));
  return {
    name: isPodman ? "Podman" : "Docker",
    version: podman?.Version ?? version.Version ?? info.ServerVersion ?? "?",
    rootless,
  };
}

/** One line for doctor and the report: "Podman 4.3.1, rootless". */
export function describeEngineKind(k: EngineKind): string {
  return `${k.name} ${k.version}, ${k.rootless ? "rootless" : "rootful (the engine runs as root)"}`;
}

/** Podman's own `GET /libpod/info` (its compat `/info` does not say whether it is rootless). */
export interface LibpodInfo {
  host?: { security?: { rootless?: boolean } };
}

/** Whether a Podman engine runs rootless, from its libpod info (undefined: not asked or not Podman). */
export function podmanRootless(libpod: LibpodInfo | undefined): boolean | undefined {
  return libpod?.host?.security?.rootless;
}

/**
 * Where cratebox asks for the engine, in order: DOCKER_HOST; Podman's CONTAINER_HOST; Docker's
 * socket; the user's rootless Podman socket ($XDG_RUNTIME_DIR/podman/podman.sock); the system
 * Podman socket. `exists` tells whether a socket is there and this process may connect to it. The first one set or present wins;
 * with none, Docker's default (whose absence the connection then reports).
 */
export function findEngineAddress(env: Record<string, string | undefined>, exists: (p: string) => boolean): { address: string; from: string } {
  if (env.DOCKER_HOST) return { address: env.DOCKER_HOST, from: "DOCKER_HOST" };
  if (env.CONTAINER_HOST) return { address: env.CONTAINER_HOST, from: "CONTAINER_HOST" };
  const candidates: [string, string][] = [["/var/run/docker.sock", "Docker's socket"]];
  if (env.XDG_RUNTIME_DIR) candidates.push([`${env.XDG_RUNTIME_DIR}/podman/podman.sock`, "the user's Podman socket"]);
  candidates.push(["/run/podman/podman.sock", "the system Podman socket"]);
  for (const [p, from] of candidates) if (exists(p)) return { address: `unix://${p}`, from };
  return { address: "unix:///var/run/docker.sock", from: "the default" };
}

/** dockerode's connection options for an address: a Unix socket, or tcp:// as host and port; else undefined (dockerode reads DOCKER_HOST itself, ssh:// included). */
export function clientOptions(address: string): { socketPath: string } | { host: string; port: number; protocol: "http" } | undefined {
  if (address.startsWith("unix://")) return { socketPath: address.slice("unix://".length) };
  if (address.startsWith("/")) return { socketPath: address };
  const tcp = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(address);
  if (tcp) return { host: tcp[1]!.replace(/^\[|\]$/g, ""), port: Number(tcp[2]), protocol: "http" };
  return undefined;
}

/** What a sandbox's create body must say differently on this engine (core/container-options.ts). */
export interface EngineQuirks {
  /**
   * The user namespace. Rootless Podman maps the container's uid 0 to the user and every other
   * uid to a subordinate one, so a sandbox running as the user's own uid would write OUT_DIR as
   * a stranger (and could not write it at all); `keep-id` maps the user's uid to itself, so what
   * a build script writes belongs to the user. Rootful engines: no change.
   */
  usernsMode?: string;
  /**
   * Podman copies what lies below a tmpfs mount point into the tmpfs ("tmpcopyup") unless told
   * not to: the tmpfs cratebox lays over a workspace's target/ to hide it would show its
   * contents (and fail once they outgrow the tmpfs). Docker knows no such option.
   */
  tmpfsNoCopyUp: boolean;
}

export function engineQuirks(kind: EngineKind): EngineQuirks {
  if (kind.name !== "Podman") return { tmpfsNoCopyUp: false };
  return { tmpfsNoCopyUp: true, ...(kind.rootless ? { usernsMode: "keep-id" } : {}) };
}

/**
 * A line Podman's service writes into a sandbox's stderr stream itself when its attach socket to
 * conmon is reset as the container ends (a known race, podman#11446 and #7228; seen here 4 times
 * in 660 short sandboxes run three at a time). The container's output before it is whole; the line
 * is not the container's, and passed on it would land among cargo's diagnostics. It comes as one
 * frame of its own, which this matches whole.
 */
export function isEngineAttachNoise(frame: string): boolean {
  return /^Error: (error attaching to container [0-9a-f]+: )?read unixpacket @->\S+\/attach: read: connection reset by peer\n?$/.test(frame);
}
