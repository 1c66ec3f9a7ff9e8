/**
 * The sysroot cratebox learned at start (`rustc --print sysroot`, run once next to cargo's start)
 * serves a step only when it is surely the same toolchain: the same rustc command, and, where
 * rustup put RUSTUP_TOOLCHAIN into the step's environment (it does for everything cargo runs),
 * that toolchain's own directory. A toolchain's own rustc, which cargo names by its full path in
 * every compilation, shows its sysroot by where it lies. Anything else asks rustc again.
 */
import path from "node:path";

export interface KnownSysroot {
  /** The rustc command it was asked with (`$RUSTC` or `rustc`). */
  rustc: string;
  /** Its sysroot, a real path. */
  sysroot: string;
}

export function knownSysrootFor(known: KnownSysroot | undefined, rustc: string, env: NodeJS.ProcessEnv): string | undefined {
  if (!known || known.rustc !== rustc) return undefined;
  const toolchain = env.RUSTUP_TOOLCHAIN;
  if (toolchain !== undefined && path.basename(known.sysroot) !== toolchain) return undefined;
  return known.sysroot;
}

/**
 * The sysroot of a toolchain's own rustc, from where it lies: rustc's default sysroot is the
 * directory above its `bin/` (it finds its libraries there), which holds `lib/rustlib`. Only for
 * a file named `rustc` in a `bin/` whose parent has `lib/rustlib` (a rustup proxy, a renamed or
 * wrapped rustc: undefined, and rustc is asked). `realRustc`: the real path of the program.
 */
export function sysrootBeside(realRustc: string, isDirectory: (p: string) => boolean): string | undefined {
  if (!path.isAbsolute(realRustc) || path.basename(realRustc) !== "rustc") return undefined;
  const bin = path.dirname(realRustc);
  if (path.basename(bin) !== "bin") return undefined;
  const root = path.dirname(bin);
  return root !== bin && isDirectory(path.join(root, "lib", "rustlib")) ? root : undefined;
}
