/**
 * The validated profiles of the last run (issue 13). Validating cratebox.toml and the built-in
 * profiles loads zod and builds the schema: about 40 ms of a no-op's start on this project's
 * machine, for the same answer as last time. The answer is a function of the texts and of
 * cratebox's own code, so the cache keeps it with both (cache-files.ts keyedCache, which adds
 * the user's cache key and the build's id): cratebox.toml's text and path and every built-in
 * profile's text. A text that differs in one byte is a miss.
 *
 * Reading the built-in profiles' files is here too: the key needs their texts, and this module
 * loads no schema.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { BuiltinProfile, BuiltinProfiles, BuiltinSource } from "../core/profile/builtins.ts";
import type { KeyLines } from "../core/profile/toml-lines.ts";
import type { GrantSources, LoadedProfile } from "./grants.ts";
import { keyedCache, type StartCaches } from "./cache-files.ts";
import { PACKAGE_ROOT } from "./image.ts";
import { noteInput } from "./start-inputs.ts";

const BUILTINS_DIR = path.join(PACKAGE_ROOT, "profiles");
const VERSION = 2;

/** profiles/*.toml as they are on disk. */
export function readBuiltinSources(dir = BUILTINS_DIR): BuiltinSource[] {
  noteInput(dir);
  return readdirSync(dir)
    .filter((f) => f.endsWith(".toml"))
    .sort()
    .map((f) => {
      const file = path.join(dir, f);
      noteInput(file);
      return { name: f.slice(0, -".toml".length), file, text: readFileSync(file, "utf8") };
    });
}

interface StoredProfiles {
  profile: LoadedProfile;
  builtins: [string, BuiltinProfile][];
}

/**
 * The cache for this cratebox.toml text: what it holds for exactly these texts and this build
 * (`cached`), and how to store a fresh validation (cache-files.ts keyedCache; `build` is for
 * tests).
 */
export function profileCache(
  caches: StartCaches,
  file: string,
  text: string,
  builtins: BuiltinSource[],
  build?: string,
): { cached: GrantSources | undefined; store: (sources: GrantSources) => void } | undefined {
  const cache = keyedCache<StoredProfiles>(
    caches,
    "profiles",
    { version: VERSION, file, text, builtins },
    (f) => typeof f.profile === "object" && f.profile !== null && Array.isArray(f.builtins),
    build,
  );
  return (
    cache && {
      cached: cache.cached && revive(cache.cached.profile, cache.cached.builtins),
      store: (sources) => cache.store({ profile: sources.profile, builtins: [...sources.builtins] }),
    }
  );
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
