/**
 * The executable that stands in place of a compiled build script. Pure (text only).
 *
 * Cargo runs `target/<profile>/build/<pkg>-<hash>/build-script-build`; after cratebox swapped it,
 * that file is this shim and the real binary sits beside it as `<name>.cratebox-real`. Under a
 * cratebox run (CRATEBOX_SOCKET set in cargo's environment) the shim hands the real binary to
 * the orchestrator, which runs it in a container. Outside one (plain cargo reusing the same
 * target/), it fails closed with a message, unless the user opts out explicitly.
 */

export const SHIM_MARKER = "cratebox-build-script-shim v1";
export const REAL_SUFFIX = ".cratebox-real";

/** POSIX sh single-quoting. */
export function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** @param realName file name of the real binary, in the shim's own directory */
export function toBuildScriptShim(realName: string): string {
  const real = shQuote(realName);
  return `#!/bin/sh
# ${SHIM_MARKER}
# This build script was compiled under cratebox and runs only in its sandbox.
# The real binary is ${realName} in this directory.
real="\${0%/*}/"${real}
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
  return head.startsWith("#!/bin/sh\n# " + SHIM_MARKER);
}

/** Build-script binaries as rustc names them: `build_script_<name>-<16 hex>` (no extension). */
export function isBuildScriptBinaryName(name: string): boolean {
  return /^build_script_[A-Za-z0-9_]+-[0-9a-f]{16}$/.test(name);
}
