/**
 * The host triple and the sysroot of the rustc a `cargo test`, bench or run will use: the host
 * names cargo's runner variable, the sysroot seeds the steps' sysroot cache. Asked once per
 * process (cli/early.ts starts it while the rest of cratebox loads; run-cargo.ts awaits it).
 */
import { CrateboxError } from "../core/errors.ts";
import type { KnownSysroot } from "../core/sysroot.ts";
import { askedOnce } from "./asked-once.ts";
import { type ProgramResult, runProgram } from "./run-program.ts";

export interface ToolchainFacts {
  host: string;
  sysroot?: KnownSysroot;
}

const asked = askedOnce<ToolchainFacts>();

/**
 * `printed`: the answer to the first question below, asked already by someone else (bin/cratebox,
 * before Node started; cli/early.ts); undefined from it means "ask again".
 */
export function toolchainFacts(
  toolchain: string | undefined,
  cwd: string,
  env: NodeJS.ProcessEnv,
  printed?: Promise<ProgramResult<string> | undefined>,
): Promise<ToolchainFacts> {
  return asked(env, [toolchain ?? null, cwd], () => askRustc(toolchain, cwd, env, printed));
}

/**
 * The host triple and the sysroot of the rustc cargo will use, in one call (`--print host-tuple`
 * needs rustc 1.84+; an older one is asked `-vV`, and each step asks for the sysroot itself).
 */
async function askRustc(
  toolchain: string | undefined,
  cwd: string,
  env: NodeJS.ProcessEnv,
  askedBefore?: Promise<ProgramResult<string> | undefined>,
): Promise<ToolchainFacts> {
  const rustc = env.RUSTC ?? "rustc";
  const plus = toolchain && !env.RUSTC ? [`+${toolchain}`] : [];
  const printed = (await askedBefore) ?? (await runProgram(rustc, [...plus, "--print", "sysroot", "--print", "host-tuple"], { cwd, env }));
  const [sysroot, tuple] = printed.exitCode === 0 ? printed.stdout.trim().split("\n") : [];
  if (sysroot && tuple && /^\S+$/.test(tuple)) return { host: tuple, sysroot: { rustc, sysroot } };
  const res = await runProgram(rustc, [...plus, "-vV"], { cwd, env });
  const host = /^host: (\S+)$/m.exec(res.stdout)?.[1];
  if (!host)
    throw new CrateboxError(
      "TOOLCHAIN",
      `could not learn the host triple from \`${rustc} -vV\`: ${res.stderr.trim() || res.stdout.trim()}`,
      "is the Rust toolchain installed (`rustup show`)?",
    );
  return { host };
}
