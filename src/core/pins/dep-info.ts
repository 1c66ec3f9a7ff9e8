/**
 * rustc's dep-info (`--emit=dep-info`, a Makefile fragment) -> the files a compilation read, as
 * paths from the package root. Pure.
 *
 * Cargo keeps it next to what rustc wrote: `target/<profile>/build/<pkg>-<hash>/
 * build_script_build-<hash>.d` for a build script, `target/<profile>/deps/<lib>-<hash>.d` for a
 * proc macro. rustc writes workspace members' files relative to the workspace root and every
 * other package's files as absolute paths; a space in a path is escaped as `\ `. Lines starting
 * with `#` (`# env-dep:`, `# checksum:`) are not files.
 */
import path from "node:path";

/** Every file a dep-info file lists (the prerequisites of its rules), in order, each once. */
export function parseDepInfo(text: string): string[] {
  const out = new Set<string>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const colon = line.search(/(?<!\\):(\s|$)/);
    if (colon < 0) continue;
    for (const raw of line.slice(colon + 1).split(/(?<!\\)\s+/)) {
      if (raw === "") continue;
      out.add(raw.replaceAll("\\ ", " "));
    }
  }
  return [...out];
}

export interface PackageRoots {
  /** The package's directory (real path). */
  packageRoot: string;
  /** Where rustc ran for workspace members: relative dep-info paths are from here. */
  workspaceRoot: string;
}

/** A listed file's absolute path on this machine. */
export function toAbsolute(file: string, roots: PackageRoots): string {
  return path.isAbsolute(file) ? path.normalize(file) : path.resolve(roots.workspaceRoot, file);
}

/**
 * How a content record names a file: relative to the package root (`src/lib.rs`, `../shared/x.rs`
 * for a path crate that reaches next door), or `$OUT_DIR/<rest>` for what a build script
 * generated into cargo's build directory. Never an absolute path: the digest must not depend on
 * where the target directory or the registry cache is.
 */
export function toPinnedPath(absolute: string, roots: PackageRoots): string {
  const rel = path.relative(roots.packageRoot, absolute);
  if (rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel)) return rel.split(path.sep).join("/");
  const out = /\/build\/[^/]+-[0-9a-f]{16}\/out\/(.+)$/.exec(absolute);
  if (out) return `$OUT_DIR/${out[1]}`;
  return rel.split(path.sep).join("/");
}
