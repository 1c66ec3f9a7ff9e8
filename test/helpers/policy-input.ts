/** Small builders of policy inputs for the policy tests and the benchmark. */
import type { GrantView, PolicyCrate, PolicyInput } from "../../src/core/policy/schema.ts";

export function grantView(overrides: Partial<GrantView> = {}): GrantView {
  return {
    table: null,
    reviewed: null,
    pinned: { version: null, checksum: null },
    profiles: [],
    env: [],
    read: [],
    write: [],
    network: false,
    hosts: [],
    fetch: [],
    limits: { memoryBytes: 4 * 1024 ** 3, pids: 512, timeoutMs: 15 * 60_000, cpus: null, tmpBytes: 1024 ** 3 },
    image: null,
    runtime: "runc",
    ...overrides,
  };
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
    ...overrides,
  };
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
                pinned: { version: i % 30 === 0 ? `=${version}` : null, checksum: i % 60 === 0 ? `sha256:${"cd".repeat(32)}` : null },
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
    });
  }
  return policyInput(crates, { command: ["test", "--workspace"] });
}
