/**
 * The table `cratebox approve`, `cratebox deny` and `cratebox learn` write into cratebox.toml,
 * and the check that the file stays valid before anything is written. Pure: text in, text out.
 */
import { CrateboxError } from "../errors.ts";
import type { GrantPhase } from "../phase.ts";
import type { ContentKind } from "../pins/content.ts";
import { type TableEdit, upsertTable, type TomlValue } from "./edit.ts";
import { entriesOf, formatProfileIssue, parseProfile } from "./parse.ts";
import type { GrantEntry, Profile } from "./schema.ts";
import { defaultSourceOf } from "./select.ts";
import type { CrateIdentity } from "./select.ts";

/** What a grant adds; lists are merged with what the table already grants. */
export interface GrantRequest {
  env?: string[];
  read?: string[];
  write?: string[];
  use?: string[];
  directives?: string[];
  /** `--network`: full access (true) or none (false). */
  network?: boolean;
  /** Hosts added to the `network` list (`--connect host:port`). */
  connect?: string[];
  /** `[test.*] cargo = true`: a nested cargo (trybuild) gets a cleaned copy of the cargo configuration. */
  cargo?: boolean;
  /**
   * Content pins (issue 15): a digest to write, or null to remove a pin that cannot stay (it pins
   * other code, and no dep-info tells what the code is now). Absent kinds are left as they are.
   */
  contentPins?: Partial<Record<ContentKind, string | null>>;
}

/** The text a new cratebox.toml starts from. */
export const NEW_PROFILE_TEXT = "#:schema ./node_modules/cratebox/profiles/schema.json\nversion = 1\n";

/** The single (not array) table of cratebox.toml for this crate's phase, if there is one. */
export function currentEntry(profile: Profile | undefined, phase: GrantPhase, name: string): GrantEntry | undefined {
  return profile ? entriesOf(profile).find((e) => e.scope === phase && e.name === name && e.index === undefined)?.entry : undefined;
}

/** The pins of a table written for this crate as cargo resolved it: exact version, source, Cargo.lock's checksum. */
function pinsOf(crate: CrateIdentity, phase: GrantPhase, always: { source: boolean }): Record<string, TomlValue> {
  return {
    version: `=${crate.version}`,
    ...(always.source || crate.source !== defaultSourceOf(phase) ? { source: crate.source } : {}),
    ...(crate.checksum ? { checksum: `sha256:${crate.checksum.replace(/^sha256:/, "")}` } : {}),
  };
}

const union = (had: readonly string[] | undefined, add: readonly string[] | undefined) => [...new Set([...(had ?? []), ...(add ?? [])])];

/**
 * The edit that grants `request` to the crate's step, merged with what `current` grants already,
 * pinned to what cargo resolved. `deny` writes the same pins with `reviewed = true` and no
 * capabilities. A table that would grant nothing says `reviewed = true`.
 */
export function toApprovedTable(
  crate: CrateIdentity,
  phase: GrantPhase,
  current: GrantEntry | undefined,
  request: GrantRequest & { deny?: boolean },
  options: { comment: string; pinSource: boolean },
): TableEdit {
  const comment = options.comment;
  const set: Record<string, TomlValue> = pinsOf(crate, phase, { source: options.pinSource });
  const remove: string[] = [];
  for (const [kind, digest] of Object.entries(request.contentPins ?? {})) {
    if (digest === null) remove.push(kind);
    else if (digest !== undefined) set[kind] = digest;
  }
  if (request.deny) {
    set.reviewed = true;
    remove.push("env", "read", "write", "use", "network", "fetch", "directives", ...(phase === "test" ? ["cargo"] : []));
    return { set, remove, comment: [comment] };
  }
  if (request.network !== undefined && request.connect?.length) {
    throw new CrateboxError(
      "APPROVE_CONFLICT",
      "--network (full access) and --connect (named hosts) exclude each other",
      "grant the hosts the crate needs with --connect host:port",
    );
  }
  const lists = {
    env: union(
      current?.env?.map((e) => e.text),
      request.env,
    ),
    read: union(current?.read, request.read),
    write: union(current?.write, request.write),
    use: union(current?.use, request.use),
    directives: union(current?.directives, request.directives),
  };
  for (const [key, value] of Object.entries(lists)) if (value.length > 0) set[key] = value;
  if (request.network !== undefined) set.network = request.network;
  else if (request.connect?.length) set.network = union(Array.isArray(current?.network) ? current.network : [], request.connect);
  const network = set.network ?? current?.network;
  if (request.cargo !== undefined) set.cargo = request.cargo;
  const cargo = set.cargo ?? current?.cargo;
  const grantsSomething =
    Object.values(lists).some((l) => l.length > 0) || (network !== undefined && network !== false) || (current?.fetch?.length ?? 0) > 0 || cargo === true;
  if (!grantsSomething) set.reviewed = true;
  return { set, remove, comment: [comment] };
}

/**
 * `text` with `edit` applied to `table`, validated as cratebox.toml: a change that would make the
 * file invalid is refused with every problem, and nothing is written.
 */
export function applyTableEdit(text: string, file: string, table: string, edit: TableEdit): string {
  const next = upsertTable(text, table, edit);
  const check = parseProfile(next, file);
  if (!check.ok) {
    throw new CrateboxError(
      "APPROVE_INVALID",
      `the entry would make ${file} invalid; nothing was written:\n${check.issues.map((i) => `  ${formatProfileIssue(i)}`).join("\n")}`,
    );
  }
  return next;
}
