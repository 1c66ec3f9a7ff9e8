/**
 * What cratebox needs to know of a rustc or rustdoc command line: which crate it compiles,
 * where it reads and writes, and whether it is only a probe. Pure: @argfiles are read by the
 * runtime and handed in expanded.
 *
 * rustc: https://doc.rust-lang.org/rustc/command-line-arguments.html
 * rustdoc: https://doc.rust-lang.org/rustdoc/command-line-arguments.html
 */
import path from "node:path";

export interface CompilerInvocation {
  crateName: string | undefined;
  /** `-C extra-filename=-<hash>`: part of every output's file name. */
  extraFilename: string;
  /** Where outputs go: `--out-dir` (rustc), `-o`/`--out-dir` (rustdoc, a directory), `-o` (rustc, a file: its directory). */
  outDirs: string[];
  /** `-C incremental=DIR`. */
  incremental: string | undefined;
  /** `--emit dep-info=PATH`, or the default `<out-dir>/<crate><extra>.d` when dep-info is emitted. */
  depInfo: string | undefined;
  /** Directories of `-L [kind=]PATH` and of every `--extern name=PATH`. */
  readDirs: string[];
  /** Source files named on the command line. */
  sources: string[];
  /** `rustdoc --test`: compiles and runs the doctests. */
  doctest: boolean;
  /** `--crate-type` values (comma-separated or repeated): `proc-macro` marks a proc macro's compile. */
  crateTypes: string[];
  /** `-vV`, `--version`, `--print ...` with nothing to compile, or `-` (stdin): a probe, no crate's code runs. */
  probe: boolean;
}

/** Options of rustc/rustdoc that take the next argument as their value. */
const WITH_VALUE = new Set([
  "--crate-name",
  "--edition",
  "--crate-type",
  "--emit",
  "--print",
  "-o",
  "--out-dir",
  "--explain",
  "--target",
  "-W",
  "--warn",
  "-A",
  "--allow",
  "-D",
  "--deny",
  "-F",
  "--forbid",
  "--force-warn",
  "--cap-lints",
  "-C",
  "--codegen",
  "-Z",
  "-L",
  "-l",
  "--cfg",
  "--check-cfg",
  "--extern",
  "--sysroot",
  "--error-format",
  "--json",
  "--color",
  "--remap-path-prefix",
  "--diagnostic-width",
  "--test-run-directory",
  "--test-runtool",
  "--test-runtool-arg",
  "--runtool",
  "--runtool-arg",
  "--test-args",
  "--test-builder",
  "--test-builder-wrapper",
  "--extern-html-root-url",
  "--markdown-css",
  "--html-in-header",
  "--html-before-content",
  "--html-after-content",
  "--resource-suffix",
  "--default-theme",
  "--default-setting",
  "--theme",
  "--check-theme",
  "--crate-version",
  "--output-format",
  "--persist-doctests",
  "--merge",
  "--parts-out-dir",
  "--include-parts-dir",
  "--index-page",
  "--playground-url",
  "--scrape-examples-output-path",
  "--scrape-examples-target-crate",
  "--with-examples",
  "--generate-link-to-definition",
  "-w",
]);

/** Splits `--opt=value` / `-Cx=y` / `-Lpath` into [option, value]; undefined when not an option with a value. */
function optionOf(args: readonly string[], i: number): { name: string; value: string | undefined; next: number } {
  const a = args[i]!;
  if (a.startsWith("--")) {
    const eq = a.indexOf("=");
    if (eq > 0) return { name: a.slice(0, eq), value: a.slice(eq + 1), next: i + 1 };
    return WITH_VALUE.has(a) ? { name: a, value: args[i + 1], next: i + 2 } : { name: a, value: undefined, next: i + 1 };
  }
  if (a.startsWith("-") && a.length > 2 && WITH_VALUE.has(a.slice(0, 2))) return { name: a.slice(0, 2), value: a.slice(2), next: i + 1 };
  return WITH_VALUE.has(a) ? { name: a, value: args[i + 1], next: i + 2 } : { name: a, value: undefined, next: i + 1 };
}

export function parseCompilerArgs(args: readonly string[], tool: "rustc" | "rustdoc", cwd: string): CompilerInvocation {
  const abs = (p: string) => path.resolve(cwd, p);
  let crateName: string | undefined;
  let extraFilename = "";
  let outDir: string | undefined;
  let outFile: string | undefined;
  let incremental: string | undefined;
  let emitDepInfo = false;
  let depInfo: string | undefined;
  let prints = false;
  let versionOnly = false;
  let doctest = false;
  const crateTypes: string[] = [];
  const readDirs: string[] = [];
  const sources: string[] = [];
  for (let i = 0; i < args.length; ) {
    const { name, value, next } = optionOf(args, i);
    const a = args[i]!;
    i = next;
    if (!a.startsWith("-") || a === "-") {
      sources.push(a);
      continue;
    }
    switch (name) {
      case "--crate-name":
        crateName = value;
        break;
      case "--crate-type":
        crateTypes.push(...(value ?? "").split(",").filter(Boolean));
        break;
      case "--out-dir":
        if (value) outDir = abs(value);
        break;
      case "-o":
        if (value) {
          if (tool === "rustdoc") outDir = abs(value);
          else outFile = abs(value);
        }
        break;
      case "-C":
      case "--codegen":
        if (value?.startsWith("extra-filename=")) extraFilename = value.slice("extra-filename=".length);
        if (value?.startsWith("incremental=")) incremental = abs(value.slice("incremental=".length));
        break;
      case "--emit":
        for (const kind of (value ?? "").split(",")) {
          if (kind === "dep-info") emitDepInfo = true;
          if (kind.startsWith("dep-info=")) depInfo = abs(kind.slice("dep-info=".length));
        }
        break;
      case "-L":
        if (value) readDirs.push(abs(value.replace(/^(dependency|crate|native|framework|all)=/, "")));
        break;
      case "--extern": {
        const p = value?.split("=").slice(1).join("=");
        if (p) readDirs.push(path.dirname(abs(p)));
        break;
      }
      case "--print":
        prints = true;
        break;
      case "-V":
      case "--version":
      case "-vV":
        versionOnly = true;
        break;
      case "--test":
        if (tool === "rustdoc") doctest = true;
        break;
    }
    if (a === "-vV" || a === "-Vv") versionOnly = true;
  }
  const outDirs = [...(outDir ? [outDir] : []), ...(outFile ? [path.dirname(outFile)] : []), ...(depInfo ? [path.dirname(depInfo)] : [])];
  if (!depInfo && emitDepInfo && crateName && outDir) depInfo = path.join(outDir, `${crateName}${extraFilename}.d`);
  const compiles = sources.some((s) => s !== "-");
  return {
    crateName,
    extraFilename,
    outDirs: [...new Set(outDirs)],
    incremental,
    depInfo,
    readDirs: [...new Set(readDirs)],
    sources: sources.filter((s) => s !== "-").map(abs),
    doctest,
    crateTypes: [...new Set(crateTypes)],
    probe: versionOnly || (prints && !compiles) || sources.includes("-"),
  };
}

/**
 * A doctest run without cargo's runner: rustdoc runs the doctests itself, inside the same
 * sandbox (the runner's shim cannot reach cratebox from in there).
 */
export function withoutRuntool(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (["--test-runtool", "--test-runtool-arg", "--runtool", "--runtool-arg"].includes(a)) {
      i++;
      continue;
    }
    if (/^--(test-)?runtool(-arg)?=/.test(a)) continue;
    out.push(a);
  }
  return out;
}

/** The crate a compilation builds is a build script (cargo names them build_script_<name>). */
export function isBuildScriptCompile(crateName: string | undefined): boolean {
  return crateName?.startsWith("build_script_") ?? false;
}
