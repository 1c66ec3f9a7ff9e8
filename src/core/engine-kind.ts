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
