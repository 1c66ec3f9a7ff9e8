/**
 * cratebox's caches of one build (issue 13): files in `<target directory>/cratebox/`. They follow
 * --target-dir and CARGO_TARGET_DIR, `cargo clean` removes them, and no sandbox can write there
 * (cargo's build directories are never a grant's: core/grant-decision.ts). What may be taken
 * from them is decided by their keys: core/graph-cache.ts (the crate graph), profile-cache.ts
 * (the validated profiles) and policy-cache.ts (the policies' decisions).
 *
 * Every key holds a fingerprint of this user's cache key, a random value in
 * `~/.cache/cratebox/cache-key` (0600) that never leaves the user's own directory (the native
 * front's tickets are taken under the key itself: runtime/ticket.ts): a target directory that comes from elsewhere (restored from a
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
import { fingerprint } from "../core/fingerprint.ts";
import { randomHex } from "./random.ts";

/** Where a run keeps its start's caches, and the key they are kept under. */
export interface StartCaches {
  readonly targetDir: string;
  /**
   * What the caches are kept under: a fingerprint of this user's cache key (see above), never
   * the key itself, which stays in the user's own directory (the native front's tickets are
   * taken under the key: runtime/ticket.ts). Read (or made) when a cache is first consulted: a
   * run without cratebox.toml or a policy never reads it. Undefined when it can be neither read
   * nor made (a read-only home): nothing is cached then.
   */
  readonly secret: string | undefined;
  /** This user's cache key itself (undefined as above). */
  readonly userKey: string | undefined;
}

export type CacheName = "crate-graph" | "profiles" | "policy-decisions";

/** The run's caches, or undefined: in CI, or without a target directory. */
export function startCaches(targetDir: string | undefined, env: NodeJS.ProcessEnv): StartCaches | undefined {
  if (targetDir === undefined || env.CI) return undefined;
  let key: string | undefined | null = null;
  const userKey = () => {
    if (key === null) key = userCacheKey(env);
    return key;
  };
  return {
    targetDir,
    get secret() {
      const k = userKey();
      return k && fingerprint(`cratebox caches\0${k}`);
    },
    get userKey() {
      return userKey();
    },
  };
}

/** ~/.cache/cratebox (or under XDG_CACHE_HOME): this user's own, never a sandbox's. */
export function userCacheDir(env: NodeJS.ProcessEnv): string {
  return path.join(env.XDG_CACHE_HOME || path.join(homedir(), ".cache"), "cratebox");
}

/** ~/.cache/cratebox/cache-key, made once per user. */
function userCacheKey(env: NodeJS.ProcessEnv): string | undefined {
  const file = path.join(userCacheDir(env), "cache-key");
  const read = () => {
    try {
      return /^[0-9a-f]{32}$/.exec(readFileSync(file, "utf8").trim())?.[0];
    } catch {
      return undefined;
    }
  };
  const found = read();
  if (found) return found;
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, `${randomHex(16)}\n`, { mode: 0o600, flag: "wx" });
  } catch {
    /* made by another run at the same moment, or not writable: read what is there */
  }
  return read();
}

export function cacheFile(caches: StartCaches, name: CacheName): string {
  return path.join(caches.targetDir, "cratebox", `${name}.json`);
}

/**
 * A cache whose entry is valid for exactly one key (the profiles', the policies'): what it holds
 * under `key` plus the user's cache key and the build's id (`cached`, when `isValue` accepts the
 * entry's fields), and how to store a fresh value. The entry is the key beside the value's own
 * fields. Undefined without a user key or a build id (cratebox run from its sources; `build` is
 * for tests).
 */
export function keyedCache<V extends object>(
  caches: StartCaches,
  name: CacheName,
  key: object,
  isValue: (fields: Record<string, unknown>) => boolean,
  buildGiven?: string,
): { cached: V | undefined; store: (value: V) => void } | undefined {
  const secret = caches.secret;
  const build = buildGiven ?? bundleBuildId();
  if (!secret || !build) return undefined;
  const full = { ...key, secret, build };
  const where = cacheFile(caches, name);
  const entry = readCacheFile(where);
  let cached: V | undefined;
  if (typeof entry === "object" && entry !== null) {
    const { key: stored, ...fields } = entry as Record<string, unknown>;
    if (JSON.stringify(stored) === JSON.stringify(full) && isValue(fields)) cached = fields as V;
  }
  return { cached, store: (value) => writeCacheFile(where, { key: full, ...value }) };
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

/** This process's build id, read once. */
export function bundleBuildId(): string | undefined {
  if (bundled === null) bundled = buildId();
  return bundled;
}
let bundled: string | undefined | null = null;

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
  writeWhole(file, JSON.stringify(entry));
}

/** Writes a file (0600) whole and then renames it into place, as writeCacheFile does. */
export function writeWhole(file: string, text: string): void {
  try {
    const dir = path.dirname(file);
    mkdirSync(dir, { recursive: true });
    if (!lstatSync(dir).isDirectory()) return;
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    /* a read-only target directory: no cache */
  }
}
