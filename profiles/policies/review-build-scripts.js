/**
 * review-build-scripts: in `cratebox review`, a package that brings a new build script fails
 * the review until cratebox.toml has a table for it that says `reviewed = true` (cratebox
 * issue 14). Whether the build script is new is the review's own finding: the package is new
 * to Cargo.lock, or its previous version had none.
 *
 *   cratebox review --policy profiles/policies/review-build-scripts.js
 *
 * Changed checksums and the cool-off are checked by cratebox review itself. In a build there
 * is no `input.review`, and this policy says nothing.
 */
function policy(input) {
  if (!input.review) return [];
  const decisions = [];
  for (const crate of input.review.crates) {
    if (!crate.newBuildScript || crate.grant.reviewed === true) continue;
    decisions.push({
      crate: crate.name, version: crate.version, phase: "build", action: "deny", rule: "review-build-scripts",
      message: `${crate.name} ${crate.version} brings a new build script: read it (cratebox review --diff ${crate.name}), then record the review in cratebox.toml: [build.${crate.name}] version = "=${crate.version}" reviewed = true`,
    });
  }
  return decisions;
}
