/** Small builders of policy inputs for the policy tests and the benchmark. */
import type { AuditView } from "../../src/core/audits/view.ts";
import type { GrantView, PolicyCrate, PolicyInput, ReviewCrate } from "../../src/core/policy/schema.ts";

export function grantView(overrides: Partial<GrantView> = {}): GrantView {
  return {
    table: null,
    reviewed: null,
    pinned: { version: null, checksum: null, buildScript: null, procMacro: null },
    profiles: [],
    env: [],
    read: [],
    write: [],
    network: false,
    hosts: [],
    fetch: [],
    cargo: false,
    limits: { memoryBytes: 4 * 1024 ** 3, pids: 512, timeoutMs: 15 * 60_000, cpus: null, tmpBytes: 1024 ** 3 },
    image: null,
    runtime: "runc",
    ...overrides,
  };
}

/** What a policy sees of a crate nobody audited. */
export function noAudits(overrides: Partial<AuditView> = {}): AuditView {
  return { audited: false, criteria: [], by: [], sources: [], violations: [], ...overrides };
}

export function policyCrate(overrides: Partial<PolicyCrate> = {}): PolicyCrate {
  return {
    name: "foo",
    version: "1.0.0",
    source: "registry",
    checksum: `sha256:${"ab".repeat(32)}`,
    hasBuildScript: true,
    isProcMacro: false,
    features: ["default"],
    dependents: ["app"],
    workspaceMember: false,
    requested: { build: grantView(), test: null, rustc: null },
    audits: noAudits(),
    ...overrides,
  };
}

/** A package `cratebox review` found added, with a new build script, verified, nobody's grant or audit. */
export function reviewCrate(overrides: Partial<ReviewCrate> = {}): ReviewCrate {
  return {
    name: "x",
    version: "1.0.0",
    previousVersion: null,
    change: "added",
    source: "registry",
    sourceChanged: false,
    checksum: `sha256:${"ab".repeat(32)}`,
    previousChecksum: null,
    checksumChanged: false,
    hasBuildScript: true,
    isProcMacro: false,
    links: null,
    newBuildScript: true,
    newProcMacro: false,
    buildOnly: false,
    publishedAt: null,
    ageMs: null,
    sources: "verified",
    grant: grantView(),
    audits: noAudits(),
    ...overrides,
  };
}

/** What `cratebox review` shows policies: these packages, no build graph. */
export function reviewInput(crates: ReviewCrate[]): PolicyInput {
  return { run: { command: [], ci: true }, crates: [], review: { base: "origin/main", now: "2026-03-10T00:00:00.000Z", minAgeMs: null, crates } };
}

export function policyInput(crates: PolicyCrate[], run: Partial<PolicyInput["run"]> = {}): PolicyInput {
  return { run: { command: ["build"], ci: true, ...run }, crates };
}

/**
 * A build graph of `n` crates shaped like a large real one: most from the registry, a fifth
 * with build scripts, some granted (env, paths, network, pins), a few workspace members.
 */
export function syntheticInput(n: number): PolicyInput {
  const crates: PolicyCrate[] = [];
  for (let i = 0; i < n; i++) {
    const name = `crate-${i}${i % 7 === 0 ? "-sys" : ""}`;
    const version = `${i % 5}.${i % 13}.${i % 3}`;
    const member = i % 50 === 0;
    const source = member ? "path" : i % 40 === 1 ? "git" : "registry";
    const hasBuildScript = i % 5 === 0;
    const granted = hasBuildScript && i % 10 === 0;
    const build = hasBuildScript
      ? grantView(
          granted
            ? {
                table: `build.${name}`,
                reviewed: i % 20 === 0 ? true : null,
                pinned: {
                  version: i % 30 === 0 ? `=${version}` : null,
                  checksum: i % 60 === 0 ? `sha256:${"cd".repeat(32)}` : null,
                  buildScript: null,
                  procMacro: null,
                },
                profiles: i % 7 === 0 ? ["pkg-config"] : [],
                env: ["CC", "CFLAGS", `${name.toUpperCase().replace(/-/g, "_")}_*`],
                read: i % 3 === 0 ? ["/opt/vendor-sdk/include"] : [],
                write: i % 90 === 0 ? ["generated"] : [],
                network: i % 4 === 0,
              }
            : {},
        )
      : null;
    crates.push({
      name,
      version,
      source,
      checksum: source === "registry" ? `sha256:${(i % 256).toString(16).padStart(2, "0").repeat(32)}` : null,
      hasBuildScript,
      isProcMacro: i % 17 === 0,
      features: i % 2 === 0 ? ["default", "std"] : [],
      dependents: [`crate-${(i + 1) % n}`, `crate-${(i + 7) % n}`],
      workspaceMember: member,
      requested: { build, test: member ? grantView({ table: i % 100 === 0 ? `test.${name}` : null, network: i % 100 === 0 }) : null, rustc: null },
      audits: noAudits(),
    });
  }
  return policyInput(crates, { command: ["test", "--workspace"] });
}
