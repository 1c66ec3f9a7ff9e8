/**
 * pins-required: every registry crate that cratebox.toml grants something must be pinned to
 * the package's checksum from Cargo.lock (`checksum = "sha256:..."`), so a grant reviewed for
 * one published package never applies to different code under the same name and version, e.g.
 * from another registry or a mirror (cratebox issue #6).
 *
 *   cratebox --policy profiles/policies/pins-required.js cargo build
 *
 * Path and git crates carry no checksum in Cargo.lock and are left alone; crates without a
 * table get the deny-by-default sandbox and need no pin. `cratebox approve <crate>` writes the
 * pin.
 */
function policy(input) {
  const decisions = [];
  for (const crate of input.crates) {
    if (crate.source !== "registry") continue;
    for (const phase of ["build", "test"]) {
      const grant = crate.requested[phase];
      if (grant === null || grant.table === null) continue;
      decisions.push({
        crate: crate.name, version: crate.version, phase, action: "require", require: ["checksum-pin"], rule: "checksum-pin",
        message: `[${grant.table}] grants ${crate.name} ${crate.version} something without pinning its checksum; add checksum = "${crate.checksum ?? "sha256:..."}" (or run cratebox approve ${crate.name})`,
      });
    }
  }
  return decisions;
}
