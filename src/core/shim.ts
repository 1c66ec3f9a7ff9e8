/**
 * The executable that stands in place of a compiled build script. Pure (text only).
 *
 * Cargo runs `target/<profile>/build/<pkg>-<hash>/build-script-build`; after cratebox swapped it,
 * that file is this shim and the real binary sits beside it as `<name>.cratebox-real`. Under a
 * cratebox run (CRATEBOX_SOCKET set in cargo's environment) the shim hands the real binary to
 * the orchestrator, which runs it in a container. Outside one (plain cargo reusing the same
 * target/), it fails closed with a message, unless the user opts out explicitly.
 */

const SHIM_MARKER = "cratebox-build-script-shim v1";
export const REAL_SUFFIX = ".cratebox-real";

/**
 * The shim is the same text for every build script, so that the RUSTC_WRAPPER (a sh script) can
 * put it in place with `cp` instead of starting Node per build script. It finds the real binary
 * beside itself: cargo gives every build-script compilation a directory of its own, so there is
 * exactly one `build_script_*.cratebox-real` there; anything else fails closed.
 */
export function toBuildScriptShim(): string {
  return `#!/bin/sh
# ${SHIM_MARKER}
# This build script was compiled under cratebox and runs only in its sandbox.
# The real binary is the build_script_*${REAL_SUFFIX} file in this directory.
real=
for f in "\${0%/*}"/build_script_*${REAL_SUFFIX}; do
  if [ -n "$real" ]; then echo "error: cratebox: more than one build script binary next to $0" >&2; exit 101; fi
  real=$f
done
if [ ! -f "$real" ]; then
  echo "error: cratebox: the real build script next to $0 is missing; \\\`cargo clean -p \${CARGO_PKG_NAME:-<crate>}\\\` rebuilds it" >&2
  exit 101
fi
if [ -n "\${CRATEBOX_SOCKET:-}" ] && [ -n "\${CRATEBOX_CLIENT_BIN:-}" ]; then
  exec "$CRATEBOX_CLIENT_BIN" "$real" "$@"
fi
if [ -n "\${CRATEBOX_SOCKET:-}" ] && [ -n "\${CRATEBOX_NODE:-}" ] && [ -n "\${CRATEBOX_CLIENT:-}" ]; then
  exec "$CRATEBOX_NODE" "$CRATEBOX_CLIENT" "$real" "$@"
fi
if [ "\${CRATEBOX_ALLOW_UNSANDBOXED:-}" = 1 ]; then
  exec "$real" "$@"
fi
echo "error: the build script of \${CARGO_PKG_NAME:-this crate} \${CARGO_PKG_VERSION:-} was compiled under cratebox and runs only in its sandbox." >&2
echo "  Run the build with \\\`cratebox cargo ...\\\`, or \\\`cargo clean -p \${CARGO_PKG_NAME:-<crate>}\\\` to rebuild it for plain cargo," >&2
echo "  or set CRATEBOX_ALLOW_UNSANDBOXED=1 to run it unsandboxed once, with all your rights." >&2
exit 101
`;
}

/** Is this file content (its first bytes suffice) a cratebox shim? */
export function isShim(head: string): boolean {
  return head.startsWith(`#!/bin/sh\n# ${SHIM_MARKER}`);
}

/** Build-script binaries as rustc names them: `build_script_<name>-<16 hex>` (no extension). */
export function isBuildScriptBinaryName(name: string): boolean {
  return /^build_script_[A-Za-z0-9_]+-[0-9a-f]{16}$/.test(name);
}
