/**
 * The validated profiles of the last run (issue 13). Validating cratebox.toml and the built-in
 * profiles loads zod and builds the schema: about 40 ms of a no-op's start on this project's
 * machine, for the same answer as last time. The answer is a function of the texts and of
 * cratebox's own code, so the cache keeps it with both, under the user's cache key
 * (cache-files.ts): cratebox.toml's text and path, every built-in profile's text, and the build's id (cache-files.ts buildId: run from the sources there
 * is none, and nothing is cached). A text that differs in one byte is a miss. It lives next to
 * the crate graph's cache (cache-files.ts).
 *
 * Reading the built-in profiles' files is here too: the key needs their texts, and this module
 * loads no schema.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { BuiltinProfile, BuiltinProfiles, BuiltinSource } from "../core/profile/builtins.ts";
import type { KeyLines } from "../core/profile/toml-lines.ts";
import type { GrantSources, LoadedProfile } from "./grants.ts";
import { buildId, cacheFile, readCacheFile, type StartCaches, writeCacheFile } from "./cache-files.ts";
import { PACKAGE_ROOT } from "./image.ts";

const BUILTINS_DIR = path.join(PACKAGE_ROOT, "profiles");
const VERSION = 2;

/** profiles/*.toml as they are on disk. */
export function readBuiltinSources(dir = BUILTINS_DIR): BuiltinSource[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".toml"))
    .sort()
    .map((f) => ({ name: f.slice(0, -".toml".length), file: path.join(dir, f), text: readFileSync(path.join(dir, f), "utf8") }));
}

interface ProfileCacheKey {
  version: typeof VERSION;
  /** The user's cache key (cache-files.ts). */
  secret: string;
  build: string;
  file: string;
  text: string;
  builtins: BuiltinSource[];
}

interface ProfileCacheEntry {
  key: ProfileCacheKey;
  profile: LoadedProfile;
  builtins: [string, BuiltinProfile][];
}

/**
 * The cache for this cratebox.toml text in a target directory: what it holds for exactly these
 * texts and this build (`cached`), and how to store a fresh validation. Undefined when cratebox
 * runs from its sources (no build id).
 */
export function profileCache(
  caches: StartCaches,
  file: string,
  text: string,
  builtins: BuiltinSource[],
  build = buildId(),
): { cached: GrantSources | undefined; store: (sources: GrantSources) => void } | undefined {
  if (!build) return undefined;
  const key: ProfileCacheKey = { version: VERSION, secret: caches.secret, build, file, text, builtins };
  const where = cacheFile(caches, "profiles");
  const entry = readCacheFile(where) as Partial<ProfileCacheEntry> | undefined;
  const cached =
    entry?.profile && Array.isArray(entry.builtins) && JSON.stringify(entry.key) === JSON.stringify(key) ? revive(entry.profile, entry.builtins) : undefined;
  return {
    cached,
    store: (sources) => writeCacheFile(where, { key, profile: sources.profile, builtins: [...sources.builtins] } satisfies ProfileCacheEntry),
  };
}

/**
 * Validated profiles as they were before their JSON round trip: the key-lines tables have no
 * prototype again (toml-lines.ts makes them so), and the built-ins are a Map.
 */
export function revive(profile: LoadedProfile, builtins: [string, BuiltinProfile][]): GrantSources {
  const bare = (lines: KeyLines): KeyLines => Object.assign(Object.create(null) as Record<string, number>, lines);
  return {
    profile: { ...profile, parsed: { ...profile.parsed, lines: bare(profile.parsed.lines) } },
    builtins: new Map(builtins.map(([name, b]) => [name, { ...b, lines: bare(b.lines) }])) as BuiltinProfiles,
  };
}
