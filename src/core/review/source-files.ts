/**
 * Which files of a package are the code of its build script and of its procedural macro, and
 * which files are executables or scripts. Pure: files are read through a callback over the
 * verified .crate's contents.
 *
 * A build script's files are, best of all, those its dep-info lists (what rustc actually read);
 * dep-info exists only once the package was built, so without it the files are found here by
 * following what the source itself names: `mod x;` (x.rs or x/mod.rs, `#[path = "..."]`) and
 * `include!`, `include_str!`, `include_bytes!` of a literal path or of
 * `concat!(env!("CARGO_MANIFEST_DIR"), "/...")`. That is an approximation: macros that build
 * paths otherwise, `cfg_attr(..., path = ...)` and files read at run time (`std::fs`) are missed.
 */
import path from "node:path";

/** Files reached from `root` through mod declarations and include macros; `root` first. */
export function moduleFiles(root: string, read: (file: string) => string | undefined): string[] {
  const seen = new Set<string>();
  const queue = [root];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if (seen.has(file)) continue;
    const text = read(file);
    if (text === undefined) continue;
    seen.add(file);
    if (!file.endsWith(".rs")) continue; // an included data file names nothing further
    queue.push(...referencedFiles(file, text, file === root));
  }
  return [...seen];
}

/** The files one Rust source file pulls in (paths inside the package, normalised). */
export function referencedFiles(file: string, text: string, isCrateRoot: boolean): string[] {
  const code = stripComments(text);
  const dir = path.posix.dirname(file);
  const stem = path.posix.basename(file, ".rs");
  // Where `mod x;` looks: next to a crate root or mod.rs, else in a directory named after the file.
  const modDir = isCrateRoot || stem === "mod" ? dir : path.posix.join(dir, stem);
  const out: string[] = [];
  for (const m of code.matchAll(/(#\[\s*path\s*=\s*"([^"]+)"\s*\]\s*)?(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+(r#)?([A-Za-z_][A-Za-z0-9_]*)\s*;/g)) {
    if (m[2] !== undefined) out.push(path.posix.join(dir, m[2]));
    else out.push(path.posix.join(modDir, `${m[4]}.rs`), path.posix.join(modDir, m[4]!, "mod.rs"));
  }
  for (const m of code.matchAll(/include(?:_str|_bytes)?!\s*\(\s*"([^"]+)"\s*\)/g)) out.push(path.posix.join(dir, m[1]!));
  for (const m of code.matchAll(/include(?:_str|_bytes)?!\s*\(\s*concat!\s*\(\s*env!\s*\(\s*"CARGO_MANIFEST_DIR"\s*\)\s*,\s*"([^"]+)"\s*\)\s*\)/g)) {
    out.push(path.posix.normalize(m[1]!.replace(/^\/+/, "")));
  }
  return out.map((p) => path.posix.normalize(p)).filter((p) => !p.startsWith("../") && p !== ".." && !path.posix.isAbsolute(p));
}

/** Comments out, string contents kept (an include's path is a string). */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/(^|[^:"])\/\/.*$/gm, "$1");
}

/**
 * The paths a dep-info file (`build_script_build-<hash>.d`, Makefile syntax) lists for a package,
 * relative to the package's directory. `packageDir` is the tail that marks it: `/foo-1.2.3/`.
 */
export function depInfoFiles(text: string, packageDir: string): string[] {
  const out = new Set<string>();
  for (const line of text.split("\n")) {
    const colon = line.search(/:(\s|$)/);
    if (colon < 0) continue;
    for (const raw of line.slice(colon + 1).split(/(?<!\\)\s+/)) {
      const file = raw.replaceAll("\\ ", " ");
      const at = file.lastIndexOf(packageDir);
      if (at >= 0) out.add(file.slice(at + packageDir.length));
    }
  }
  return [...out].filter((f) => f !== "");
}

const SCRIPT_EXTENSIONS = /\.(sh|bash|zsh|py|pl|rb|ps1|bat|cmd|exe|dll|so|dylib|a|lib|o|obj|jar|bin|wasm)$/i;

/**
 * Why a file is an executable or a script, or undefined: the executable bit in the archive, a
 * `#!` line, an object or executable format (ELF, PE, Mach-O, ar, wasm), or such an extension.
 */
export function executableReason(file: string, executableBit: boolean, head: Uint8Array): string | undefined {
  const starts = (...bytes: number[]) => bytes.every((b, i) => head[i] === b);
  if (starts(0x7f, 0x45, 0x4c, 0x46)) return "ELF binary";
  if (starts(0x4d, 0x5a)) return "Windows executable (PE)";
  if (starts(0xcf, 0xfa, 0xed, 0xfe) || starts(0xce, 0xfa, 0xed, 0xfe) || starts(0xca, 0xfe, 0xba, 0xbe)) return "Mach-O binary";
  if (starts(0x21, 0x3c, 0x61, 0x72, 0x63, 0x68, 0x3e)) return "static library (ar archive)";
  if (starts(0x00, 0x61, 0x73, 0x6d)) return "WebAssembly module";
  if (starts(0x23, 0x21)) return "script (#!)";
  if (executableBit) return "executable bit set";
  const ext = SCRIPT_EXTENSIONS.exec(file);
  return ext ? `.${ext[1]!.toLowerCase()} file` : undefined;
}
