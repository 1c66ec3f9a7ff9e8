/**
 * Reading cratebox.toml and the built-in profiles from disk (the parsing is core/profile/).
 * Loaded only when there is a profile to read: the schema behind it is the largest module a
 * run would otherwise load at start.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { PROFILE_FILE } from "../core/grant-decision.ts";
import { type BuiltinProfiles, type BuiltinSource, parseBuiltinProfiles } from "../core/profile/builtins.ts";
import { emptyProfile } from "../core/profile/empty.ts";
import { formatProfileIssue, ProfileInvalidError, parseProfile } from "../core/profile/parse.ts";
import type { LoadedProfile } from "./grants.ts";
import { readBuiltinSources } from "./profile-cache.ts";

/** Reads and validates <workspace root>/cratebox.toml; every problem at once, exit 2. Without the file: the empty profile. */
export function loadProfile(workspaceRoot: string): LoadedProfile {
  const file = path.join(workspaceRoot, PROFILE_FILE);
  if (!existsSync(file)) return { parsed: emptyProfile(file), exists: false, warnings: [] };
  return profileFromText(file, readFileSync(file, "utf8"));
}

/** A cratebox.toml's text, validated (what loadProfile does once it has read the file). */
export function profileFromText(file: string, text: string): LoadedProfile {
  const result = parseProfile(text, file);
  if (!result.ok) throw new ProfileInvalidError(result.issues);
  return { parsed: result.value, exists: true, warnings: result.warnings.map(formatProfileIssue) };
}

export function loadBuiltins(sources: readonly BuiltinSource[] = readBuiltinSources()): BuiltinProfiles {
  const result = parseBuiltinProfiles(sources);
  if (!result.ok) throw new ProfileInvalidError(result.issues);
  return result.value;
}
