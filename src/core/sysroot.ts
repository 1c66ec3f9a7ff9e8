/**
 * The sysroot cratebox learned at start (`rustc --print sysroot`, run once next to cargo's start)
 * serves a step only when it is surely the same toolchain: the same rustc command, and, where
 * rustup put RUSTUP_TOOLCHAIN into the step's environment (it does for everything cargo runs),
 * that toolchain's own directory. Anything else asks rustc again.
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
