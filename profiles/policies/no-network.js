/**
 * no-network: no sandboxed step ever gets network, build script or test binary, whatever
 * cratebox.toml grants (cratebox issue #6).
 *
 *   cratebox --policy profiles/policies/no-network.js cargo build
 *
 * One ceiling for every crate and both phases; each step whose grant asked for network is
 * listed by `cratebox profiles explain` as shaped by rule no-network.
 */
function policy() {
  return [
    {
      crate: "*", phase: "*", action: "cap", caps: { network: false }, rule: "no-network",
      message: "no build script or test binary gets network here",
    },
  ];
}
