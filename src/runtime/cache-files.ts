/**
 * cratebox's caches of one build (issue 13): files in `<target directory>/cratebox/`. They follow
 * --target-dir and CARGO_TARGET_DIR, `cargo clean` removes them, and no sandbox can write there
 * (cargo's build directories are never a grant's: core/grant-decision.ts). What may be taken
 * from them is decided by their keys: core/graph-cache.ts (the crate graph), profile-cache.ts
 * (the validated profiles) and policy-cache.ts (the policies' decisions).
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { FileStamp } from "../core/graph-cache.ts";
import { PACKAGE_ROOT } from "./image.ts";

const BUILD_ID = path.join(PACKAGE_ROOT, "dist", "build-id");

export function cacheFile(targetDir: string, name: "crate-graph" | "profiles" | "policy-decisions"): string {
  return path.join(targetDir, "cratebox", `${name}.json`);
}

/** A file's stamp (core/graph-cache.ts): device, inode, size, mtime and ctime in ns; null when it is not there. */
export function stampOf(file: string): FileStamp {
  const st = statSync(file, { bigint: true, throwIfNoEntry: false });
  return st ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : null;
}

/**
 * The id of this build of cratebox (dist/build-id: a digest of the bundle, written by
 * scripts/build.ts), for caches of what its own code computed: a rebuilt cratebox never takes
 * them. Undefined when cratebox runs from its sources: nothing such is cached then.
 */
export function buildId(file = BUILD_ID): string | undefined {
  try {
    return readFileSync(file, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** A stored entry, or undefined when there is none or it cannot be read (a miss either way). */
export function readCacheFile(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

/** Stores an entry, written whole and then renamed (a reader never sees half of one); a failure only costs the next run a miss. */
export function writeCacheFile(file: string, entry: unknown): void {
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(entry));
    renameSync(tmp, file);
  } catch {
    /* a read-only target directory: no cache */
  }
}
