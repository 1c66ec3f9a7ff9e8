/**
 * The sandboxes `cratebox doctor` runs to prove that the backend really enforces the limits
 * cratebox relies on: a shell script in the same deny-by-default sandbox as a step, labelled
 * like one (so the sweep removes a probe whose doctor was killed). Pure.
 */
import { type RunIdentity, toLabels } from "./labels.ts";
import { DEFAULT_LIMITS, type Limits } from "./limits.ts";
import type { SandboxSpec } from "./sandbox-spec.ts";
import { SANDBOX_HOME, SANDBOX_TMP } from "./sandbox-env.ts";

export interface ProbeHost {
  image: string;
  uid: number;
  gid: number;
  /** The host's system directories present on this machine (mounted read-only, as for a step). */
  systemPaths: readonly string[];
}

export function toProbeSpec(host: ProbeHost, identity: RunIdentity, probe: string, script: string, limits: Partial<Limits>): SandboxSpec {
  const all = { ...DEFAULT_LIMITS, ...limits };
  return {
    image: host.image,
    cmd: ["/bin/sh", "-c", script],
    workdir: "/",
    env: { PATH: "/usr/bin:/bin", HOME: SANDBOX_HOME, TMPDIR: SANDBOX_TMP },
    user: `${host.uid}:${host.gid}`,
    mounts: host.systemPaths.map((p) => ({ source: p, target: p, readOnly: true })),
    tmpfs: [{ target: SANDBOX_TMP, options: `rw,nosuid,nodev,size=${Math.min(all.tmpBytes, 64 * 1024 ** 2)},mode=1777` }],
    limits: all,
    network: "none",
    runtime: "runc",
    labels: toLabels(identity, { probe }),
    withheldEnv: [],
    withheldPaths: [],
  };
}
