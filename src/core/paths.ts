/** Path predicates shared by the deciding code. Pure (POSIX paths only). */
import path from "node:path";

/** True when `p` is `dir` itself or lies below it. Both must be absolute and normalised. */
export function isWithin(p: string, dir: string): boolean {
  if (dir === "/") return p.startsWith("/");
  return p === dir || p.startsWith(dir.endsWith("/") ? dir : `${dir}/`);
}

/** The absolute tokens of a value that may hold one path or a `:`-separated list. */
export function absolutePathsIn(value: string): string[] {
  return value
    .split(":")
    .filter((part) => part.startsWith("/"))
    .map((part) => path.posix.normalize(part).replace(/(.)\/$/, "$1"));
}

/**
 * Is `p` inside some crate's OUT_DIR under one of the build roots?
 * Cargo lays them out as `<root>/[<triple>/]<profile>/build/<pkg>-<hash>/out`.
 */
export function isInsideOutDir(p: string, buildRoots: readonly string[]): boolean {
  return buildRoots.some((root) => {
    if (!isWithin(p, root)) return false;
    const rel = p.slice(root.length).split("/").filter(Boolean);
    const b = rel.indexOf("build");
    // `target/tmp` (CARGO_TARGET_TMPDIR) is writable by test binaries: never an OUT_DIR.
    return b >= 1 && b <= 2 && rel[0] !== "tmp" && rel.length >= b + 3 && rel[b + 2] === "out";
  });
}
