/** Grant contexts for the pure tests: cratebox.toml text in, the parsed profile and the real built-in profiles. */
import { readFileSync } from "node:fs";
import path from "node:path";
import type { GrantContext } from "../../src/core/grant-decision.ts";
import type { Limits } from "../../src/core/limits.ts";
import type { PolicyDecisions } from "../../src/core/policy/schema.ts";
import { type BuiltinProfiles, parseBuiltinProfiles } from "../../src/core/profile/builtins.ts";
import { formatProfileIssue, type ParsedProfile, parseProfile } from "../../src/core/profile/parse.ts";
import { BUILTIN_PROFILE_NAMES } from "../../src/core/profile/schema.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

let cached: BuiltinProfiles | undefined;
function builtins(): BuiltinProfiles {
  if (cached) return cached;
  const r = parseBuiltinProfiles(
    BUILTIN_PROFILE_NAMES.map((name) => ({ name, file: `profiles/${name}.toml`, text: readFileSync(path.join(ROOT, "profiles", `${name}.toml`), "utf8") })),
  );
  if (!r.ok) throw new Error(r.issues.map(formatProfileIssue).join("\n"));
  cached = r.value;
  return cached;
}

function profile(text: string, file = "/work/app/cratebox.toml"): ParsedProfile {
  const r = parseProfile(text, file);
  if (!r.ok) throw new Error(r.issues.map(formatProfileIssue).join("\n"));
  return r.value;
}

export function grantContext(text = "version = 1\n", options: { overrides?: Partial<Limits>; policies?: PolicyDecisions[] } = {}): GrantContext {
  return { parsed: profile(text), builtins: builtins(), overrides: options.overrides ?? {}, policies: options.policies ?? [] };
}
