/** What cratebox needs to know of the cargo command line it wraps. Pure. */

/**
 * Cargo subcommands known to run no crate code: they pass straight through. Everything else is
 * sandboxed, including aliases ([alias] xb = "build", cargo xtask), third-party subcommands
 * (nextest, llvm-cov, hack, ...) and `package`/`publish`, which build to verify.
 */
const NOT_BUILDING = new Set([
  "help",
  "version",
  "metadata",
  "tree",
  "new",
  "init",
  "search",
  "login",
  "logout",
  "owner",
  "yank",
  "locate-project",
  "pkgid",
  "verify-project",
  "read-manifest",
  "generate-lockfile",
  "update",
  "fetch",
  "vendor",
  "clean",
  "add",
  "remove",
  "info",
  "report",
  "config",
  "fmt",
]);

/** Subcommands whose compiled binaries cargo executes (sandboxed by the runner issue, not yet). */
const RUNS_BINARIES = new Set(["run", "r", "test", "t", "bench"]);

/** Global options of cargo that take a separate value. */
const GLOBAL_WITH_VALUE = new Set(["--config", "-Z", "-C", "--color", "--explain"]);

export interface CargoInvocation {
  /** `+toolchain`, when given first. */
  toolchain: string | undefined;
  subcommand: string | undefined;
  /** True when cratebox must set up the sandbox for this command. */
  builds: boolean;
  runsBinaries: boolean;
  manifestPath: string | undefined;
  targetDir: string | undefined;
  /** `--config X` and `-Z X` given before the subcommand: `cargo metadata` must see them too. */
  globals: string[];
}

function optionValue(args: readonly string[], name: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") break;
    if (a === name) found = args[i + 1];
    else if (a.startsWith(`${name}=`)) found = a.slice(name.length + 1);
  }
  return found;
}

export function parseCargoInvocation(args: readonly string[]): CargoInvocation {
  let i = 0;
  const toolchain = args[0]?.startsWith("+") ? args[0].slice(1) : undefined;
  if (toolchain !== undefined) i = 1;
  let subcommand: string | undefined;
  const globals: string[] = [];
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (GLOBAL_WITH_VALUE.has(a)) {
      if ((a === "--config" || a === "-Z") && args[i + 1] !== undefined) globals.push(a, args[i + 1]!);
      i++;
      continue;
    }
    if (a.startsWith("--config=") || (a.startsWith("-Z") && a.length > 2)) globals.push(a);
    if (a.startsWith("-")) continue;
    subcommand = a;
    break;
  }
  return {
    toolchain,
    subcommand,
    builds: subcommand !== undefined && !NOT_BUILDING.has(subcommand),
    runsBinaries: subcommand !== undefined && RUNS_BINARIES.has(subcommand),
    manifestPath: optionValue(args, "--manifest-path"),
    targetDir: optionValue(args, "--target-dir"),
    globals,
  };
}
