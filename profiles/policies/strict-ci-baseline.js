/**
 * strict-ci-baseline: a starting point for an organisation's CI (cratebox issue #6).
 *
 *   cratebox --policy profiles/policies/strict-ci-baseline.js cargo test
 *
 * Rules, each cited by name when it shapes or refuses a grant:
 * - no-build-network: no build script gets network (ceiling: network off). Test binaries may
 *   keep what cratebox.toml grants them; add no-network.js to take that away too.
 * - timeout-30m: no step runs longer than 30 minutes (ceiling), whatever cratebox.toml says.
 * - pinned-grants: every grant (a table of cratebox.toml that selects the crate) must be pinned
 *   to an exact version (`version = "=1.2.3"`), so a new release gets no grant before review.
 * - no-write-grants: a grant with writable host paths is refused; build scripts write to their
 *   OUT_DIR, which needs no grant.
 *
 * A policy is a script defining policy(input); it returns decisions (docs/policies.md).
 */
const THIRTY_MINUTES_MS = 30 * 60 * 1000;

function policy(input) {
  const decisions = [
    {
      crate: "*", phase: "build", action: "cap", caps: { network: false }, rule: "no-build-network",
      message: "build scripts get no network in CI: vendor what they download",
    },
    {
      crate: "*", phase: "*", action: "cap", caps: { timeoutMs: THIRTY_MINUTES_MS }, rule: "timeout-30m",
      message: "no step may run longer than 30 minutes in CI",
    },
  ];
  for (const crate of input.crates) {
    for (const phase of ["build", "test"]) {
      const grant = crate.requested[phase];
      if (grant === null || grant.table === null) continue;
      decisions.push({
        crate: crate.name, version: crate.version, phase, action: "require", require: ["version-pin"], rule: "pinned-grants",
        message: `[${grant.table}] grants ${crate.name} something, so it must be pinned to the reviewed version: version = "=${crate.version}"`,
      });
      if (grant.write.length > 0) {
        decisions.push({
          crate: crate.name, version: crate.version, phase, action: "deny", rule: "no-write-grants",
          message: `[${grant.table}] makes ${grant.write.join(", ")} writable; write grants are not allowed in CI`,
        });
      }
    }
  }
  return decisions;
}
