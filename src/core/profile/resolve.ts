/**
 * The effective grant of one sandboxed step, with where each capability came from. Pure.
 *
 * Precedence, lowest first (each later layer overrides single values and adds to lists):
 *   1. cratebox's built-in defaults (DEFAULT_LIMITS in limits.ts; no env, no paths, no network,
 *      runc, cratebox's own image),
 *   2. `[defaults]` of cratebox.toml (limits, image, runtime),
 *   3. the built-in profiles named in the crate table's `use`, in order; a profile's own `use`
 *      comes just before it, and each profile applies once,
 *   4. the crate table's own keys,
 *   5. limits given on the command line (`overrides`), when the caller passes them.
 * Lists (env, read, write, directives, fetch) accumulate across layers: a later layer cannot
 * take away what an earlier one granted, so to grant less, use fewer profiles. Single values
 * (limits, network, image, runtime) are taken from the highest layer that sets them; `network`
 * is one value whether it is true, false or a host list.
 *
 * Paths stay as written (relative ones from the workspace root): the runtime resolves them and
 * checks their real paths.
 */
import { internalError } from "../errors.ts";
import { CONTENT_KIND_TEXT, CONTENT_KINDS } from "../pins/content.ts";
import { DEFAULT_LIMITS, LIMIT_FIELDS, LIMIT_TABLE, type Limits } from "../limits.ts";
import type { BuiltinProfiles } from "./builtins.ts";
import { LIST_CAPABILITY_KEYS, listRow, type ItemOf, type ListCapability } from "./capabilities.ts";
import type { KeySegment } from "./key-path.ts";
import type { ParsedProfile } from "./parse.ts";
import type { BuiltinProfileName, Capabilities, ContainerRuntime, DefaultsTable } from "./schema.ts";
import type { GrantPhase } from "../phase.ts";
import { describePins, selectEntry, type CrateIdentity, type EntryRef, type SkippedEntry, type StalePin } from "./select.ts";
import { lineOf } from "./toml-lines.ts";

export type { CrateIdentity, EntryRef, StalePin };

/** Where one capability's value came from (`cratebox profiles explain`). */
export type Origin =
  | { kind: "built-in-default" }
  | { kind: "command-line" }
  | { kind: "defaults"; file: string; line: number | undefined }
  | { kind: "entry"; file: string; table: string; line: number | undefined }
  /** A built-in profile; `via` is who pulled it in: the crate's table, then any profiles between. */
  | { kind: "profile"; name: BuiltinProfileName; file: string; line: number | undefined; via: string[] };

export interface Sourced<T> {
  value: T;
  origin: Origin;
}

/** The list capabilities of a resolved grant, each item with where it came from (capabilities.ts). */
type EffectiveLists = { [K in ListCapability]: Sourced<ItemOf<K>>[] };

export interface EffectiveGrant extends EffectiveLists {
  crate: CrateIdentity;
  phase: GrantPhase;
  /** The table that selected the crate; undefined: none, the step runs with the defaults (deny). */
  entry: EntryRef | undefined;
  reviewed: boolean | undefined;
  /** `network = true`: full access. */
  network: Sourced<boolean>;
  /** `network = [...]`: the hosts reachable through the egress proxy (core/egress.ts). */
  hosts: Sourced<string>[];
  /** `cargo = true` ([test.*] only): a nested cargo gets a cleaned copy of the cargo configuration (core/nested-cargo.ts). */
  cargo: Sourced<boolean>;
  limits: Limits;
  limitOrigins: { [K in keyof Limits]: Origin };
  /** undefined: cratebox's own sandbox image. */
  image: Sourced<string> | undefined;
  runtime: Sourced<ContainerRuntime>;
  /** Tables with this crate's name that did not select it, and why. */
  skipped: SkippedEntry[];
}

export type GrantResolution =
  | { kind: "granted"; grant: EffectiveGrant }
  /** Tables for this crate exist but their pins no longer hold: no grant applies; stop the run. */
  | { kind: "pin-mismatch"; crate: CrateIdentity; phase: GrantPhase; stale: StalePin[]; withoutEntry: EffectiveGrant }
  /** Several tables select the crate: which grant was meant is unclear; stop the run. */
  | { kind: "ambiguous"; crate: CrateIdentity; phase: GrantPhase; entries: EntryRef[]; withoutEntry: EffectiveGrant };

export interface ResolveOptions {
  /** Limits set explicitly on the command line: the highest layer. */
  overrides?: Partial<Limits>;
}

/**
 * The grant of `crate`'s step in `phase`. `builtins` must be the full set (parseBuiltinProfiles);
 * a `use` naming a profile missing from it is a programming error and throws.
 */
export function resolveGrant(
  parsed: ParsedProfile,
  builtins: BuiltinProfiles,
  crate: CrateIdentity,
  phase: GrantPhase,
  options: ResolveOptions = {},
): GrantResolution {
  const selection = selectEntry(parsed, crate, phase);
  const acc = baseGrant(parsed, crate, phase, selection.skipped);
  if (selection.kind === "pin-mismatch") {
    return { kind: "pin-mismatch", crate, phase, stale: selection.stale, withoutEntry: finish(acc, options) };
  }
  if (selection.kind === "ambiguous") {
    return { kind: "ambiguous", crate, phase, entries: selection.entries, withoutEntry: finish(acc, options) };
  }
  if (selection.kind === "selected") {
    const { entry, data } = selection;
    acc.entry = entry;
    acc.reviewed = data.reviewed;
    if (data.cargo !== undefined)
      acc.cargo = { value: data.cargo, origin: { kind: "entry", file: entry.file, table: entry.table, line: lineOf(parsed.lines, [...entry.at, "cargo"]) } };
    for (const step of expandProfiles(data.use ?? [], [entry.table], builtins, new Set())) {
      const profile = builtins.get(step.name);
      if (!profile) throw internalError(`built-in profile ${step.name} was not loaded`);
      acc.use.push({ value: step.name, origin: usedBy(step.via, parsed, entry, builtins) });
      const origin = (key: KeySegment[]): Origin => ({ kind: "profile", name: step.name, file: profile.file, line: lineOf(profile.lines, key), via: step.via });
      applyCapabilities(acc, profile.capabilities, origin);
    }
    applyCapabilities(acc, data, (key) => ({ kind: "entry", file: entry.file, table: entry.table, line: lineOf(parsed.lines, [...entry.at, ...key]) }));
  }
  return { kind: "granted", grant: finish(acc, options) };
}

/** Who named a profile in its `use`: the crate's table, or the built-in profile that uses it. */
function usedBy(via: readonly string[], parsed: ParsedProfile, entry: EntryRef, builtins: BuiltinProfiles): Origin {
  const parent = via.length > 1 ? builtins.get(via[via.length - 1] as BuiltinProfileName) : undefined;
  if (!parent) return { kind: "entry", file: entry.file, table: entry.table, line: lineOf(parsed.lines, [...entry.at, "use"]) };
  return { kind: "profile", name: parent.name, file: parent.file, line: lineOf(parent.lines, ["use"]), via: via.slice(0, -1) };
}

/** Layers 1 and 2: what every step gets. */
function baseGrant(parsed: ParsedProfile, crate: CrateIdentity, phase: GrantPhase, skipped: SkippedEntry[]): EffectiveGrant {
  const builtin: Origin = { kind: "built-in-default" };
  const acc: EffectiveGrant = {
    crate,
    phase,
    entry: undefined,
    reviewed: undefined,
    ...(Object.fromEntries(LIST_CAPABILITY_KEYS.map((k) => [k, []])) as unknown as EffectiveLists),
    network: { value: false, origin: builtin },
    hosts: [],
    cargo: { value: false, origin: builtin },
    limits: { ...DEFAULT_LIMITS },
    limitOrigins: Object.fromEntries(LIMIT_FIELDS.map((f) => [f, builtin])) as EffectiveGrant["limitOrigins"],
    image: undefined,
    runtime: { value: "runc", origin: builtin },
    skipped,
  };
  const defaults = parsed.profile.defaults;
  if (defaults) applySandbox(acc, defaults, (key) => ({ kind: "defaults", file: parsed.file, line: lineOf(parsed.lines, ["defaults", ...key]) }));
  return acc;
}

/** Layer 5, then freeze the shape the caller sees. */
function finish(acc: EffectiveGrant, options: ResolveOptions): EffectiveGrant {
  for (const [key, value] of Object.entries(options.overrides ?? {}) as [keyof Limits, number | undefined][]) {
    if (value === undefined) continue;
    acc.limits[key] = value;
    acc.limitOrigins[key] = { kind: "command-line" };
  }
  return acc;
}

function applySandbox(acc: EffectiveGrant, t: DefaultsTable, origin: (key: KeySegment[]) => Origin): void {
  for (const field of LIMIT_FIELDS) {
    const key = LIMIT_TABLE[field].key;
    const value = t[key];
    if (value === undefined) continue;
    acc.limits[field] = value;
    acc.limitOrigins[field] = origin([key]);
  }
  if (t.image !== undefined) acc.image = { value: t.image, origin: origin(["image"]) };
  if (t.runtime !== undefined) acc.runtime = { value: t.runtime, origin: origin(["runtime"]) };
}

function applyCapabilities(acc: EffectiveGrant, c: Capabilities, origin: (key: KeySegment[]) => Origin): void {
  applySandbox(acc, c, origin);
  // One value, like a limit: the highest layer that sets `network` decides, a list included.
  if (c.network !== undefined) {
    acc.network = { value: c.network === true, origin: origin(["network"]) };
    acc.hosts = Array.isArray(c.network) ? c.network.map((h, i) => ({ value: h, origin: origin(["network", i]) })) : [];
  }
  // `use` is expanded by resolveGrant (each profile applied before the table that names it).
  for (const key of LIST_CAPABILITY_KEYS) if (key !== "use") addItems(acc, key, c[key], origin);
}

function addItems<K extends ListCapability>(acc: EffectiveGrant, key: K, items: readonly ItemOf<K>[] | undefined, origin: (key: KeySegment[]) => Origin): void {
  const row = listRow(key);
  const list = acc[key] as Sourced<ItemOf<K>>[];
  items?.forEach((item, i) => {
    if (!list.some((e) => row.identity(e.value) === row.identity(item))) list.push({ value: item, origin: origin([key, i]) });
  });
}

/** `use` in application order: each profile's own `use` first, each profile once. */
function expandProfiles(
  names: readonly BuiltinProfileName[],
  via: string[],
  builtins: BuiltinProfiles,
  seen: Set<BuiltinProfileName>,
): { name: BuiltinProfileName; via: string[] }[] {
  const out: { name: BuiltinProfileName; via: string[] }[] = [];
  for (const name of names) {
    if (seen.has(name)) continue;
    seen.add(name);
    out.push(...expandProfiles(builtins.get(name)?.capabilities.use ?? [], [...via, name], builtins, seen));
    out.push({ name, via });
  }
  return out;
}

// ---- strict mode ------------------------------------------------------------------------------

export interface StrictViolation {
  crate: CrateIdentity;
  reason: "unlisted" | "not-reviewed" | "pin-mismatch" | "ambiguous";
  message: string;
}

/**
 * Strict mode (`strict = true` or --strict): every crate with a build script must be listed by a
 * table that selects it and is a decision (it grants something, or says `reviewed = true`; a
 * table saying `reviewed = false` is not). `crates`: the crates of the build graph that have a
 * build script (for phase "test": the packages whose binaries run). The caller decides whether
 * strict mode is on; this only computes.
 */
export function strictViolations(parsed: ParsedProfile, crates: readonly CrateIdentity[], phase: GrantPhase = "build"): StrictViolation[] {
  const out: StrictViolation[] = [];
  const what = phase === "build" ? "has a build script" : "has test binaries";
  for (const crate of crates) {
    const s = selectEntry(parsed, crate, phase);
    const id = `${crate.name} ${crate.version} (${crate.source})`;
    if (s.kind === "none") {
      const near = s.skipped.map((k) => `; [${k.entry.table}] does not select it: ${k.reason}`).join("");
      out.push({
        crate,
        reason: "unlisted",
        message: `${id} ${what} but no [${phase}.${crate.name}] table selects it${near}; review it, then grant what it needs or write reviewed = true`,
      });
    } else if (s.kind === "selected" && s.data.reviewed === false) {
      out.push({ crate, reason: "not-reviewed", message: `${id}: [${s.entry.table}] says reviewed = false` });
    } else if (s.kind === "pin-mismatch") {
      out.push({ crate, reason: "pin-mismatch", message: describePinMismatch({ crate, phase, stale: s.stale }) });
    } else if (s.kind === "ambiguous") {
      out.push({ crate, reason: "ambiguous", message: describeAmbiguity({ crate, entries: s.entries }) });
    }
  }
  return out;
}

// ---- messages ---------------------------------------------------------------------------------

/** The line that stops the run on a stale pin: reviewed vs resolved, and how to re-approve. */
export function describePinMismatch(m: { crate: CrateIdentity; phase: GrantPhase; stale: readonly StalePin[] }): string {
  const { crate } = m;
  const code = CONTENT_KINDS.filter((k) => m.stale.some((s) => s.failed.includes(k))).map(
    (k) => `, whose ${CONTENT_KIND_TEXT[k]} is now ${crate.content?.[k] ?? "other code"}`,
  );
  const resolved = `${crate.version}${crate.checksum === undefined ? "" : ` (checksum ${crate.checksum})`}${code.join("")}`;
  const reviewed = m.stale.map((s) => `[${s.entry.table}]${where(s.entry)} was reviewed for ${describePins(s)}`).join("; ");
  // A [build.*] table that only a proc-macro pin made stale speaks for the proc macro.
  const onlyMacro = m.stale.every((s) => s.failed.length > 0 && s.failed.every((f) => f === "proc-macro"));
  const target = m.phase === "test" ? "test binaries" : onlyMacro ? "proc macro" : "build script";
  // A new version whose pinned code did not change can carry the pin over.
  const carry = m.stale.some((s) => s.failed.includes("version") && CONTENT_KINDS.some((k) => s.content[k] !== undefined && !s.failed.includes(k)));
  return (
    `grant for the ${target} of ${crate.name} does not apply: ${reviewed}, but cargo resolved ${crate.name} ${resolved}. ` +
    `Review the change, then re-approve with: cratebox approve ${crate.name}${carry ? ` (or, if its pinned code is unchanged: cratebox approve ${crate.name} --carry)` : ""}`
  );
}

export function describeAmbiguity(m: { crate: CrateIdentity; entries: readonly EntryRef[] }): string {
  return (
    `${m.crate.name} ${m.crate.version} is selected by ${m.entries.length} tables (${m.entries.map((e) => `[${e.table}]${where(e)}`).join(", ")}); ` +
    "pin each to versions that do not overlap"
  );
}

/** How describeOrigin names a value given on the command line (a failure's hint tells it apart). */
export const COMMAND_LINE_ORIGIN = "command line";

/** "cratebox.toml:12 [build.openssl-sys] env" for explain. */
export function describeOrigin(o: Origin): string {
  switch (o.kind) {
    case "built-in-default":
      return "cratebox default";
    case "command-line":
      return COMMAND_LINE_ORIGIN;
    case "defaults":
      return `[defaults]${where(o)}`;
    case "entry":
      return `[${o.table}]${where(o)}`;
    case "profile":
      return `built-in profile ${o.name} (${o.file}${o.line === undefined ? "" : `:${o.line}`}), used by ${o.via.join(" -> ")}`;
  }
}

function where(o: { file: string; line: number | undefined }): string {
  return ` (${o.file}${o.line === undefined ? "" : `:${o.line}`})`;
}
