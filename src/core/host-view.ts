/**
 * Does the engine see this machine's files? cratebox bind-mounts host paths (the sources, the
 * build directory, the toolchain, /usr); an engine elsewhere (a remote DOCKER_HOST over tcp://
 * or ssh://) or in a VM that does not share the path mounts what it has at that path on its
 * side, often an empty directory, and a build would fail in confusing ways or, worse, run
 * against someone else's files. The probe (runtime/host-view.ts) mounts a directory holding a
 * random nonce file and reads it back; this module decides on what came back. Pure.
 */

export interface HostViewProbe {
  /** The nonce written into the host file. */
  nonce: string;
  /** What the sandbox printed (it cats the file). */
  output: string;
  /** The sandbox's exit code; undefined when it never ran. */
  exitCode: number | undefined;
  /** Why the probe sandbox could not be created or started. */
  error?: string;
}

/** How the engine is reached, from DOCKER_HOST (what dockerode and the docker CLI read). */
export type EngineReach = "local socket" | "tcp" | "ssh" | "other";

export function engineReach(dockerHost: string | undefined): EngineReach {
  if (!dockerHost || dockerHost.startsWith("unix://") || dockerHost.startsWith("/")) return "local socket";
  if (/^(tcp|http|https):\/\//.test(dockerHost)) return "tcp";
  if (dockerHost.startsWith("ssh://")) return "ssh";
  return "other";
}

export type HostViewVerdict = { ok: true } | { ok: false; message: string; hint: string };

export function hostViewVerdict(probe: HostViewProbe, where: string, reach: EngineReach, dir: string): HostViewVerdict {
  // The nonce is random and exists only in the host file: a sandbox that printed it saw the file,
  // whatever else came with it (a runtime's warning on stderr; rootless Podman was once seen in CI
  // to hand over more than the nonce from a successful probe).
  const read = probe.output.includes(probe.nonce);
  if (probe.exitCode === 0 && read) return { ok: true };
  const saw =
    probe.error !== undefined
      ? `the probe sandbox could not run (${probe.error.trim().split("\n")[0]})`
      : read
        ? `the probe sandbox exited with ${probe.exitCode}`
        : `a file cratebox wrote in ${dir} was not there inside a sandbox (${probe.output.trim() ? `it read: ${probe.output.trim().slice(0, 120)}` : `exit ${probe.exitCode}, nothing read`})`;
  const remote = reach === "tcp" || reach === "ssh";
  return {
    ok: false,
    message: `the Docker engine at ${where} does not see this machine's files: ${saw}; cratebox bind-mounts your sources, build directory and toolchain, so it cannot build with this engine`,
    hint: remote
      ? "run cratebox on the machine the engine runs on (in CI: one runner per job, each with its own local engine), or point DOCKER_HOST at an engine on this machine (unset it for /var/run/docker.sock); a tcp:// address that reaches this machine's own engine works"
      : `an engine in a VM (Docker Desktop, Colima, podman machine) must share ${dir} and your home with the VM; or run cratebox where the engine runs, or use --backend bwrap`,
  };
}
