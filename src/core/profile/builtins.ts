/**
 * The built-in profiles (profiles/<name>.toml): validated here, read by the runtime. Pure.
 *
 * A built-in profile has the granting keys of a crate's table (schema.ts, `capabilityKeys`) and
 * a `description`, but no crate selection (`version`, `source`, `checksum`, `reviewed`): it is a
 * named bundle a crate's table pulls in with `use`. Built-ins may `use` each other (openssl uses
 * pkg-config); cycles are refused. They ship with cratebox, so paths in them must be absolute
 * (a relative path would mean a different place in every workspace).
 */
import { parseTomlDocument, validate, type ParseResult, type ProfileIssue } from "./parse.ts";
import { BUILTIN_PROFILE_NAMES, builtinProfileSchema, type BuiltinProfileName, type Capabilities } from "./schema.ts";
import { lineOf, type KeyLines } from "./toml-lines.ts";
import { toKeyPath } from "./key-path.ts";

export interface BuiltinProfile {
  name: BuiltinProfileName;
  file: string;
  description: string;
  capabilities: Capabilities;
  lines: KeyLines;
}

export type BuiltinProfiles = ReadonlyMap<BuiltinProfileName, BuiltinProfile>;

/** One built-in profile's text as the runtime read it. */
export interface BuiltinSource {
  name: string;
  file: string;
  text: string;
}

/** Parses one built-in profile. */
export function parseBuiltinProfile(source: BuiltinSource): ParseResult<BuiltinProfile> {
  const { name, file, text } = source;
  if (!(BUILTIN_PROFILE_NAMES as readonly string[]).includes(name)) {
    return {
      ok: false,
      issues: [
        { file, line: undefined, path: "", message: `${JSON.stringify(name)} is not a built-in profile name`, accepted: BUILTIN_PROFILE_NAMES.join(", ") },
      ],
    };
  }
  const doc = parseTomlDocument(text, file);
  if (!doc.ok) return doc;
  const checked = validate(builtinProfileSchema, doc.value, { file, lines: doc.lines, root: "builtin" });
  if (!checked.ok) return checked;
  const { description, ...capabilities } = checked.value;
  const issues: ProfileIssue[] = [];
  for (const key of ["read", "write"] as const) {
    capabilities[key]?.forEach((p, i) => {
      if (!p.startsWith("/")) {
        const at = [key, i];
        issues.push({
          file,
          line: lineOf(doc.lines, at),
          path: toKeyPath(at),
          message: `${JSON.stringify(p)} is relative; a built-in profile has no workspace to be relative to`,
          accepted: "an absolute path",
        });
      }
    });
  }
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, value: { name: name as BuiltinProfileName, file, description, capabilities, lines: doc.lines }, warnings: [] };
}

/**
 * Parses the whole set: every name in BUILTIN_PROFILE_NAMES exactly once, every `use` naming
 * one of them, no cycles. All problems at once.
 */
export function parseBuiltinProfiles(sources: readonly BuiltinSource[]): ParseResult<BuiltinProfiles> {
  const issues: ProfileIssue[] = [];
  const map = new Map<BuiltinProfileName, BuiltinProfile>();
  for (const source of sources) {
    const r = parseBuiltinProfile(source);
    if (!r.ok) issues.push(...r.issues);
    else if (map.has(r.value.name)) issues.push(setIssue(source.file, `the built-in profile ${source.name} is given twice`));
    else map.set(r.value.name, r.value);
  }
  for (const name of BUILTIN_PROFILE_NAMES) {
    if (!map.has(name) && !sources.some((s) => s.name === name)) issues.push(setIssue(`profiles/${name}.toml`, `the built-in profile ${name} is missing`));
  }
  for (const profile of map.values()) {
    const cycle = findCycle(profile.name, map, []);
    if (cycle) {
      issues.push({
        file: profile.file,
        line: lineOf(profile.lines, ["use"]),
        path: "use",
        message: `built-in profiles use each other in a cycle: ${cycle.join(" -> ")}`,
        accepted: undefined,
      });
    }
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: map, warnings: [] };
}

function setIssue(file: string, message: string): ProfileIssue {
  return { file, line: undefined, path: "", message, accepted: undefined };
}

function findCycle(
  name: BuiltinProfileName,
  map: ReadonlyMap<BuiltinProfileName, BuiltinProfile>,
  trail: BuiltinProfileName[],
): BuiltinProfileName[] | undefined {
  if (trail.includes(name)) return trail[0] === name ? [...trail, name] : undefined;
  for (const next of map.get(name)?.capabilities.use ?? []) {
    const cycle = findCycle(next, map, [...trail, name]);
    if (cycle) return cycle;
  }
  return undefined;
}
