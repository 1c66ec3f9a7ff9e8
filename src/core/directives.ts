/**
 * The directive firewall. A build script's `cargo:`/`cargo::` directives make the HOST act:
 * cargo hands link arguments to the host linker and environment to the host rustc. A sandboxed
 * script could plant a program in its OUT_DIR and have the host run it
 * (`rustc-link-arg=-B<dir>`, `-fuse-ld=<path>`, a linker plugin, `rustc-env=LD_PRELOAD=...`).
 * Every directive is checked against its step's grant before cargo sees it. Pure.
 *
 * Classes (documented in the README, "Directives"):
 * - pass: rerun-if-*, warning, error, rustc-cfg, rustc-check-cfg, metadata and links metadata
 *   (`cargo:KEY=VALUE`), rustc-link-lib (library names cannot run anything at link time);
 * - search path: rustc-link-search and the -L of rustc-flags pass when they point into the
 *   script's own OUT_DIR or the system library directories, else they are blocked;
 * - link argument: rustc-link-arg* and rustc-cdylib-link-arg are blocked when they can make the
 *   host execute or load a file (-B, -fuse-ld=<path>, plugins, specs, linker scripts,
 *   --sysroot, @response files, -Wl,... carrying any of those), and pass otherwise;
 * - rustc-env: blocked for variables that steer the host toolchain or its loader (LD_*, RUST*,
 *   CARGO*, PATH, compiler and linker variables, ...), passed for the rest;
 * - anything else cargo may learn later is blocked until classified.
 * A grant's `directives = ["rustc-link-arg=-fuse-ld=*", ...]` patterns let exact directives through.
 */
import { isWithin } from "./paths.ts";

export interface DirectiveContext {
  /** The script's own OUT_DIR, as cargo named it. */
  outDir: string;
  /** Patterns granted in cratebox.toml (`directives`), `*` matching any run of characters. */
  granted: readonly string[];
}

export interface BlockedDirective {
  /** The line as printed (`cargo:rustc-link-arg=-fuse-ld=/tmp/x`). */
  line: string;
  /** `rustc-link-arg=-fuse-ld=/tmp/x`: what a `directives` grant matches. */
  directive: string;
  reason: string;
}

export type Verdict = { pass: true } | { pass: false; blocked: BlockedDirective };

/** Library directories of the host that a search path may name. */
const SYSTEM_LIB_DIRS = ["/usr/lib", "/usr/lib64", "/usr/local/lib", "/lib", "/lib64"];

const HARMLESS = new Set(["rerun-if-changed", "rerun-if-env-changed", "warning", "error", "rustc-cfg", "rustc-check-cfg", "metadata", "rustc-link-lib"]);
const LINK_ARG = /^rustc-(cdylib-)?link-arg(-bins?|-tests|-examples|-benches)?(=|$)/;
/** Every key cargo documents; an unknown key of the old `cargo:` syntax is links metadata. */
const KNOWN = new Set([
  ...HARMLESS,
  "rustc-link-search",
  "rustc-flags",
  "rustc-env",
  "rustc-link-arg",
  "rustc-cdylib-link-arg",
  "rustc-link-arg-bin",
  "rustc-link-arg-bins",
  "rustc-link-arg-tests",
  "rustc-link-arg-examples",
  "rustc-link-arg-benches",
]);

/** Link arguments that make the linker driver run or load a file of the script's choosing. */
const DANGEROUS_LINK_ARG: { re: RegExp; why: string }[] = [
  { re: /^-B/, why: "-B makes the compiler driver run programs (the linker, as, collect2) from that directory" },
  { re: /^-fuse-ld=.*\//, why: "-fuse-ld with a path runs that file as the linker" },
  { re: /^-fuse-ld=(?!(bfd|gold|lld|mold)$)/, why: "-fuse-ld with an unknown linker name is looked up where -B or PATH point" },
  { re: /^-f?plugin|^--plugin|^-plugin/, why: "a linker or compiler plugin is a shared object the host loads" },
  { re: /^-specs|^--specs/, why: "a specs file rewrites how the compiler driver runs the linker" },
  { re: /^--sysroot|^-isysroot/, why: "--sysroot redirects where the host toolchain looks for its files" },
  { re: /^-T|^--script|^-Wl,-T|^-Wl,--script/, why: "a linker script chosen by the build script steers the host linker" },
  { re: /^@/, why: "a response file lets a file the script wrote supply any further arguments" },
  { re: /^-Wl,.*(-plugin|--plugin|-dynamic-linker|--dynamic-linker|@)/, why: "-Wl passes a plugin, a dynamic linker or a response file to the host linker" },
  { re: /^-wrapper|^-Wl,.*-wrapper/, why: "-wrapper makes the compiler driver run its subprograms through a program" },
  { re: /^-o|^--output|^-Wl,(-o|--output)|^-dumpdir|^-save-temps|^-dumpbase/, why: "an output option makes the host write files where the build script says" },
  { re: /^(-Xlinker|-z|-x|-B|-T|-L|-u|-e|-Xassembler|-Xpreprocessor)$/, why: "a bare option applies to the next argument, which is checked on its own" },
];

/** rustc-env variables that steer the host rustc, the linker it runs, or the dynamic loader. */
const DANGEROUS_ENV =
  /^(LD_|DYLD_|RUST|CARGO|GCONV_PATH$|LOCPATH$|NLSPATH$|MALLOC_|GLIBC_|PATH$|HOME$|TMPDIR$|LIBRARY_PATH$|COMPILER_PATH$|GCC_|COLLECT_|CC$|CXX$|AR$|LD$|CPATH$|C_INCLUDE_PATH$|CPLUS_INCLUDE_PATH$|[A-Z_]*FLAGS$|PKG_CONFIG|SSL_|PYTHON|PERL5|NODE_)/;

function globMatches(pattern: string, text: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split("*")
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  );
  return re.test(text);
}

/** `cargo:KEY=VALUE` or `cargo::KEY=VALUE` -> { key, value }; undefined for any other line. */
export function parseDirective(line: string): { key: string; value: string; syntax: "old" | "new" } | undefined {
  // Cargo trims each line before it looks for `cargo:`, so the firewall must too.
  const m = /^cargo(::?)([^=]+)=?(.*)$/.exec(line.trim());
  if (!m) return undefined;
  return { key: m[2]!.trim(), value: m[3] ?? "", syntax: m[1] === "::" ? "new" : "old" };
}

function searchPathVerdict(path: string, ctx: DirectiveContext): string | undefined {
  const p = path.replace(/^(native|dependency|crate|all|framework)=/, "");
  if (isWithin(p, ctx.outDir) || SYSTEM_LIB_DIRS.some((d) => isWithin(p, d))) return undefined;
  return `a library search path outside the script's OUT_DIR and the system library directories (${p})`;
}

/** Checks one stdout line of a sandboxed build script. */
export function checkDirective(line: string, ctx: DirectiveContext): Verdict {
  const d = parseDirective(line);
  if (!d) return { pass: true };
  const directive = `${d.key}=${d.value}`;
  const block = (reason: string): Verdict =>
    ctx.granted.some((g) => globMatches(g, directive)) ? { pass: true } : { pass: false, blocked: { line, directive, reason } };
  const key = d.key;
  if (HARMLESS.has(key)) return { pass: true };
  if (key === "rustc-link-search") {
    const why = searchPathVerdict(d.value, ctx);
    return why ? block(why) : { pass: true };
  }
  if (key === "rustc-flags") {
    const parts = d.value.trim().split(/\s+/);
    for (let i = 0; i < parts.length; i++) {
      const flag = parts[i]!;
      const path = flag === "-L" ? (parts[++i] ?? "") : flag.startsWith("-L") ? flag.slice(2) : undefined;
      if (path !== undefined) {
        const why = searchPathVerdict(path, ctx);
        if (why) return block(why);
      } else if (flag === "-l") i++;
      else if (!flag.startsWith("-l")) return block(`rustc-flags may carry only -l and -L (found ${flag})`);
    }
    return { pass: true };
  }
  if (LINK_ARG.test(key) || key.startsWith("rustc-link-arg")) {
    // rustc-link-arg-bin=NAME=ARG: the argument is after the binary's name.
    const arg = key === "rustc-link-arg-bin" ? d.value.slice(d.value.indexOf("=") + 1) : d.value;
    const bad = DANGEROUS_LINK_ARG.find((x) => x.re.test(arg.trim()));
    return bad ? block(`a link argument the host linker acts on: ${bad.why}`) : { pass: true };
  }
  if (key === "rustc-env") {
    const name = d.value.slice(0, Math.max(0, d.value.indexOf("=")));
    return DANGEROUS_ENV.test(name) ? block(`${name} would steer the host rustc, the linker it runs or the dynamic loader`) : { pass: true };
  }
  // Old syntax: an unknown key is links metadata (DEP_<links>_<KEY> for dependents): data.
  if (d.syntax === "old" && !KNOWN.has(key)) return { pass: true };
  return block(`a directive cratebox does not know yet (${key}), so it cannot tell what the host would do`);
}

/** `rustc-link-lib=[KIND[:MODIFIERS]=]NAME[:RENAME]` -> NAME when the link is dynamic (the default kind). */
export function dynamicLibOf(key: string, value: string): string | undefined {
  if (key !== "rustc-link-lib") return undefined;
  const eq = value.indexOf("=");
  const kind = eq >= 0 ? value.slice(0, eq).split(":")[0] : "dylib";
  if (kind !== "dylib") return undefined;
  return (
    value
      .slice(eq + 1)
      .split(":")[0]!
      .trim() || undefined
  );
}

/** A `rustc-link-search` path inside the script's OUT_DIR, or undefined. */
export function searchPathInOutDir(key: string, value: string, outDir: string): string | undefined {
  if (key !== "rustc-link-search") return undefined;
  const p = value.replace(/^(native|dependency|crate|all|framework)=/, "");
  return isWithin(p, outDir) ? p : undefined;
}

/** Is the directive let through by a grant? */
export function isGranted(directive: string, granted: readonly string[]): boolean {
  return granted.some((g) => globMatches(g, directive));
}
