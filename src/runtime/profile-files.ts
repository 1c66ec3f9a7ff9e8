/**
 * Reading cratebox.toml and the built-in profiles from disk (the parsing is core/profile/).
 * Loaded only when there is a profile to read: the schema behind it is the largest module a
 * run would otherwise load at start.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { PROFILE_FILE } from "../core/grant-decision.ts";
import { type BuiltinProfiles, parseBuiltinProfiles } from "../core/profile/builtins.ts";
import { emptyProfile } from "../core/profile/empty.ts";
import { formatProfileIssue, ProfileInvalidError, parseProfile } from "../core/profile/parse.ts";
import type { LoadedProfile } from "./grants.ts";
import { PACKAGE_ROOT } from "./image.ts";

const BUILTINS_DIR = path.join(PACKAGE_ROOT, "profiles");

/** Reads and validates <workspace root>/cratebox.toml; every problem at once, exit 2. Without the file: the empty profile. */
export function loadProfile(workspaceRoot: string): LoadedProfile {
  const file = path.join(workspaceRoot, PROFILE_FILE);
  if (!existsSync(file)) return { parsed: emptyProfile(file), exists: false, warnings: [] };
  const result = parseProfile(readFileSync(file, "utf8"), file);
  if (!result.ok) throw new ProfileInvalidError(result.issues);
  return { parsed: result.value, exists: true, warnings: result.warnings.map(formatProfileIssue) };
}

export function loadBuiltins(dir = BUILTINS_DIR): BuiltinProfiles {
  const sources = readdirSync(dir)
    .filter((f) => f.endsWith(".toml"))
    .map((f) => ({ name: f.slice(0, -".toml".length), file: path.join(dir, f), text: readFileSync(path.join(dir, f), "utf8") }));
  const result = parseBuiltinProfiles(sources);
  if (!result.ok) throw new ProfileInvalidError(result.issues);
  return result.value;
}
