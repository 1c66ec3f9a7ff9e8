/**
 * Which environment variables a sandboxed build script sees. Pure.
 *
 * Deny by default: only the variables cargo documents for build scripts
 * (https://doc.rust-lang.org/cargo/reference/environment-variables.html#environment-variables-cargo-sets-for-build-scripts)
 * cross into the container, plus a fixed HOME/PATH/TMPDIR. Everything else the host
 * environment holds (tokens, SSH_AUTH_SOCK, CARGO_REGISTRY_TOKEN, ...) is withheld.
 */

/** Exact names cargo sets for build scripts. */
const CARGO_BUILD_SCRIPT_NAMES = new Set([
  "CARGO",
  "CARGO_MANIFEST_DIR",
  "CARGO_MANIFEST_PATH",
  "CARGO_MANIFEST_LINKS",
  "CARGO_ENCODED_RUSTFLAGS",
  "CARGO_PRIMARY_PACKAGE",
  "CARGO_CRATE_NAME",
  "OUT_DIR",
  "TARGET",
  "HOST",
  "NUM_JOBS",
  "OPT_LEVEL",
  "DEBUG",
  "PROFILE",
  "RUSTC",
  "RUSTDOC",
  "RUSTC_LINKER",
]);

/** Name prefixes cargo sets for build scripts (features, cfgs, package fields, links metadata). */
const CARGO_BUILD_SCRIPT_PREFIXES = ["CARGO_FEATURE_", "CARGO_CFG_", "CARGO_PKG_", "DEP_"];

/**
 * What cargo sets when it runs a test, bench or `cargo run` binary
 * (https://doc.rust-lang.org/cargo/reference/environment-variables.html#environment-variables-cargo-sets-for-crates),
 * plus the variables the test harness and the standard library read, so that filters,
 * backtraces, thread counts and colours behave as without cratebox. None of them carries a secret.
 */
const CARGO_RUNNER_NAMES = new Set([
  "CARGO",
  "CARGO_MANIFEST_DIR",
  "CARGO_MANIFEST_PATH",
  "CARGO_CRATE_NAME",
  "CARGO_BIN_NAME",
  "CARGO_PRIMARY_PACKAGE",
  "CARGO_TARGET_TMPDIR",
  "OUT_DIR",
  "RUST_BACKTRACE",
  "RUST_LIB_BACKTRACE",
  "RUST_MIN_STACK",
  "RUST_LOG",
  "NO_COLOR",
  "CLICOLOR",
  "CLICOLOR_FORCE",
  "TERM",
  "LANG",
  "TZ",
]);
const CARGO_RUNNER_PREFIXES = ["CARGO_PKG_", "RUST_TEST_", "LC_"];

/**
 * Deliberately not passed although cargo sets them:
 * - RUSTC_WRAPPER / RUSTC_WORKSPACE_WRAPPER: on the host they point at cratebox (or at sccache,
 *   whose server the sandbox cannot reach); inside, rustc runs unwrapped.
 * - CARGO_MAKEFLAGS: names jobserver file descriptors that do not cross into a container; tools
 *   fall back to NUM_JOBS.
 * - CARGO_HOME, RUSTUP_*: the sandbox gets the toolchain's directory, not the user's homes.
 * - LD_LIBRARY_PATH: cargo's value points into target/ and the toolchain; the toolchain part is
 *   kept (see toSandboxEnv), the rest would name directories the sandbox does not have.
 */

export const SANDBOX_HOME = "/home/cratebox";
export const SANDBOX_TMP = "/tmp";

export interface SandboxEnvContext {
  /** The toolchain directory mounted read-only (`rustc --print sysroot`). */
  sysroot: string;
  /** Real rustc/rustdoc/cargo paths inside the sysroot, when the host values point elsewhere. */
  rustc: string;
  rustdoc: string;
  cargo: string;
}

export interface SandboxEnv {
  env: Record<string, string>;
  /** Names of host variables the step did not get (values never kept). */
  withheld: string[];
}

export function isCargoBuildScriptVariable(name: string): boolean {
  return CARGO_BUILD_SCRIPT_NAMES.has(name) || CARGO_BUILD_SCRIPT_PREFIXES.some((p) => name.startsWith(p));
}

function isCargoRunnerVariable(name: string): boolean {
  return CARGO_RUNNER_NAMES.has(name) || CARGO_RUNNER_PREFIXES.some((p) => name.startsWith(p));
}

/**
 * What cargo sets when it compiles a crate, by name: these pass into a compiler's sandbox
 * (https://doc.rust-lang.org/cargo/reference/environment-variables.html#environment-variables-cargo-sets-for-crates).
 * CARGO_HOME is not one of them, nor CARGO_REGISTRY_TOKEN and the like: a CARGO_* name of the
 * user's environment is the user's.
 */
const CARGO_CRATE_NAMES = new Set([
  "CARGO",
  "CARGO_MANIFEST_DIR",
  "CARGO_MANIFEST_PATH",
  "CARGO_CRATE_NAME",
  "CARGO_BIN_NAME",
  "CARGO_PRIMARY_PACKAGE",
  "CARGO_TARGET_TMPDIR",
  "CARGO_RUSTC_CURRENT_DIR",
  "CARGO_SBOM_PATH",
  "OUT_DIR",
]);
const CARGO_CRATE_PREFIXES = ["CARGO_PKG_", "CARGO_BIN_EXE_"];

/** What rustc and rustdoc themselves read, none of which carries a secret. */
const COMPILER_NAMES = new Set([
  "RUSTC_BOOTSTRAP",
  "RUST_BACKTRACE",
  "RUST_MIN_STACK",
  "SOURCE_DATE_EPOCH",
  "TERM",
  "LANG",
  "TZ",
  "NO_COLOR",
  "CLICOLOR",
  "CLICOLOR_FORCE",
]);

/**
 * Never into a compiler's sandbox, whoever set them: cratebox's own (its socket, its shims),
 * the wrappers and the runner cargo was given (they lead back to cratebox), the jobserver (its
 * descriptors do not cross), and the user's homes.
 */
function neverForCompiler(name: string): boolean {
  return (
    name.startsWith("CRATEBOX_") ||
    ["RUSTC_WRAPPER", "RUSTC_WORKSPACE_WRAPPER", "RUSTDOC", "CARGO_HOME", "RUSTUP_HOME", "CARGO_MAKEFLAGS", "MAKEFLAGS", "MFLAGS"].includes(name) ||
    /^CARGO_TARGET_.*_RUNNER$/.test(name) ||
    name.startsWith("RUSTUP_")
  );
}

/**
 * The environment of a rustc or rustdoc call (its proc macros read it: env!, option_env!):
 * what cargo sets for the crate, what the crate's build script set for it (`rustc-env`) and
 * cargo config's `[env]`, what the compiler itself reads, and granted names. A variable of the
 * user's own environment (same name, same value as when cratebox started) is withheld unless
 * one of those says otherwise: it is how GITHUB_TOKEN would reach `option_env!`.
 */
export function toCompilerEnv(
  callEnv: Readonly<Record<string, string | undefined>>,
  ctx: SandboxEnvContext,
  sources: { passEnv: readonly string[]; userEnv: Readonly<Record<string, string | undefined>> },
  granted: (name: string) => boolean = () => false,
): SandboxEnv {
  const env: Record<string, string> = {};
  const withheld: string[] = [];
  const pass = new Set(sources.passEnv);
  for (const [name, value] of Object.entries(callEnv)) {
    if (value === undefined) continue;
    const cargos = CARGO_CRATE_NAMES.has(name) || CARGO_CRATE_PREFIXES.some((p) => name.startsWith(p));
    const setByCargo = !(name in sources.userEnv) || sources.userEnv[name] !== value;
    const ok =
      !neverForCompiler(name) &&
      (cargos ||
        COMPILER_NAMES.has(name) ||
        name.startsWith("LC_") ||
        pass.has(name) ||
        granted(name) ||
        (setByCargo && name !== "PATH" && name !== "LD_LIBRARY_PATH"));
    if (ok) env[name] = value;
    else if (name in sources.userEnv) withheld.push(name);
  }
  return withToolchainAndHome(env, withheld, callEnv.LD_LIBRARY_PATH, ctx);
}

/**
 * @param buildScript true for a build script, false for a binary run through cargo's runner
 * @param granted variables a grant passes through by name or pattern (cratebox.toml `env`)
 */
export function toSandboxEnv(
  hostEnv: Readonly<Record<string, string | undefined>>,
  ctx: SandboxEnvContext,
  buildScript = true,
  granted: (name: string) => boolean = () => false,
): SandboxEnv {
  const env: Record<string, string> = {};
  const withheld: string[] = [];
  const passes = buildScript ? isCargoBuildScriptVariable : isCargoRunnerVariable;
  for (const [name, value] of Object.entries(hostEnv)) {
    if (value === undefined) continue;
    if (passes(name) || (granted(name) && !name.startsWith("CRATEBOX_"))) env[name] = value;
    else withheld.push(name);
  }
  return withToolchainAndHome(env, withheld, hostEnv.LD_LIBRARY_PATH, ctx);
}

/**
 * What every sandbox's environment ends with. Toolchain programs: always the real binaries
 * inside the mounted sysroot, never a rustup proxy in ~/.cargo/bin (not mounted) and never a
 * wrapper that leads back to cratebox; the sysroot's part of LD_LIBRARY_PATH; the sandbox's
 * own HOME, TMPDIR and PATH.
 */
function withToolchainAndHome(env: Record<string, string>, withheld: string[], libraryPath: string | undefined, ctx: SandboxEnvContext): SandboxEnv {
  if ("RUSTC" in env) env.RUSTC = ctx.rustc;
  if ("RUSTDOC" in env) env.RUSTDOC = ctx.rustdoc;
  if ("CARGO" in env) env.CARGO = ctx.cargo;
  const libPath = (libraryPath ?? "").split(":").filter((p) => p === ctx.sysroot || p.startsWith(`${ctx.sysroot}/`));
  if (libPath.length > 0) env.LD_LIBRARY_PATH = libPath.join(":");
  env.HOME = SANDBOX_HOME;
  env.TMPDIR = SANDBOX_TMP;
  env.PATH = `${ctx.sysroot}/bin:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin`;
  return { env, withheld: withheld.sort() };
}
