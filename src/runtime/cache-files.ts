/**
 * cratebox's caches of one build (issue 13): files in `<target directory>/cratebox/`. They follow
 * --target-dir and CARGO_TARGET_DIR, `cargo clean` removes them, and no sandbox can write there
 * (cargo's build directories are never a grant's: core/grant-decision.ts). What may be taken
 * from them is decided by their keys: core/graph-cache.ts (the crate graph), profile-cache.ts
 * (the validated profiles) and policy-cache.ts (the policies' decisions).
 *
 * Every key holds this user's cache key, a random value in `~/.cache/cratebox/cache-key` (0600)
 * that never leaves the machine: a target directory that comes from elsewhere (restored from a
 * CI cache, copied, unpacked, another user's) holds entries under another key, and none is
 * taken. In CI (`CI` set) there are no caches at all: there a step of the pipeline could write
 * them just before the build, as it could write cratebox.toml, which is why CI takes only the
 * committed cratebox.toml (run-cargo.ts); and a CI build is seldom a no-op.
 */
import { lstatSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FileStamp } from "../core/graph-cache.ts";
import { lazyCrypto } from "../core/lazy-crypto.ts";

/** Where a run keeps its start's caches, and the key they are kept under. */
export interface StartCaches {
  targetDir: string;
  /** This user's cache key (see above). */
  secret: string;
}

/**
 * The run's caches, or undefined: in CI, without a target directory, or when the cache key can
 * be neither read nor made (a read-only home). The key is made once per user (node:crypto's
 * random bytes: 11 ms, once).
 */
export function startCaches(targetDir: string | undefined, env: NodeJS.ProcessEnv): StartCaches | undefined {
  if (targetDir === undefined || env.CI) return undefined;
  const file = path.join(env.XDG_CACHE_HOME || path.join(homedir(), ".cache"), "cratebox", "cache-key");
  const read = () => {
    try {
      return /^[0-9a-f]{32}$/.exec(readFileSync(file, "utf8").trim())?.[0];
    } catch {
      return undefined;
    }
  };
  let secret = read();
  if (!secret) {
    try {
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      writeFileSync(file, `${lazyCrypto().randomBytes(16).toString("hex")}\n`, { mode: 0o600, flag: "wx" });
    } catch {
      /* made by another run at the same moment, or not writable: read what is there */
    }
    secret = read();
  }
  return secret ? { targetDir, secret } : undefined;
}

export function cacheFile(caches: StartCaches, name: "crate-graph" | "profiles" | "policy-decisions"): string {
  return path.join(caches.targetDir, "cratebox", `${name}.json`);
}

/** A file's stamp (core/graph-cache.ts): device, inode, size, mtime and ctime in ns; null when it is not there. */
export function stampOf(file: string): FileStamp {
  const st = statSync(file, { bigint: true, throwIfNoEntry: false });
  return st ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : null;
}

/**
 * The id of this build of cratebox (dist/build-id: a digest of every bundle, written by
 * scripts/build.ts), for caches of what its own code computed: a rebuilt cratebox never takes
 * them. Undefined when this code is not the bundle (run from its sources, as some tests do):
 * nothing such is cached then.
 */
export function buildId(file = bundledBuildIdFile()): string | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** dist/build-id, when this module is part of the bundle in dist/ (chunks/ or cli/ below it). */
function bundledBuildIdFile(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const dist = path.dirname(here);
  return path.basename(dist) === "dist" ? path.join(dist, "build-id") : undefined;
}

/** A stored entry, or undefined when there is none or it cannot be read (a miss either way). */
export function readCacheFile(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

/**
 * Stores an entry (0600), written whole and then renamed: a reader never sees half of one. Not
 * through a symbolic link in the directory's place. A failure only costs the next run a miss.
 */
export function writeCacheFile(file: string, entry: unknown): void {
  try {
    const dir = path.dirname(file);
    mkdirSync(dir, { recursive: true });
    if (!lstatSync(dir).isDirectory()) return;
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(entry), { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    /* a read-only target directory: no cache */
  }
}
