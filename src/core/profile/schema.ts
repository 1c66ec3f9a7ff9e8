/**
 * The schema of `cratebox.toml` (version 1) and of the built-in profiles in `profiles/`. Pure.
 *
 * Every table is a `z.strictObject`, so a misspelt key is an error, never a silently ignored
 * grant. Each key carries its description (editor tooltips through the generated JSON Schema,
 * profiles/schema.json); accepted.ts holds the texts error messages use for "what is accepted".
 * Values are normalised while validated: sizes to bytes, durations to milliseconds, paths
 * without `./` or a trailing `/`, checksums to `sha256:<lowercase hex>`.
 *
 * Shape decisions (beyond the sketch in ARCHITECTURE.md):
 * - `[defaults]` takes limits, `image` and `runtime` only. Capabilities (env, paths, network,
 *   built-in profiles) are granted per crate, so that a grant always names who gets it; adding
 *   keys to `[defaults]` later stays compatible, taking them away would not.
 * - `source` defaults to "registry" under `[build.*]` (dependencies come from a registry) and to
 *   "path" under `[test.*]` (test binaries belong to workspace members). A grant never matches
 *   a crate of another source, so a `[patch]` to a git fork does not inherit the registry grant.
 * - An entry that grants nothing must say `reviewed = true`: an empty table is more likely a
 *   leftover than a decision, and strict mode counts only decisions.
 * - `network` is one value, like a limit: true, false or a host list; a later layer's list
 *   replaces an earlier one instead of adding to it, so that `network = false` in a crate's table
 *   really means none. `fetch` is a list and accumulates like env.
 */
import * as z from "zod";
import { LIMIT_TABLE, limitFieldOf, type LimitKey } from "../limits.ts";
import type { GrantPhase } from "../phase.ts";
import { REVIEW_ACCEPTED } from "./accepted.ts";
import { BUILTIN_PROFILE_NAMES, type BuiltinProfileName } from "./builtin-names.ts";
import {
  ENV_ACCEPTED,
  HOST_PORT_ACCEPTED,
  parseChecksum,
  parseCrateName,
  parseEnvPattern,
  parseFetchUrl,
  parseHostPath,
  parseHostPort,
  parseImageRef,
  parseSha256,
  type ValueResult,
} from "./values.ts";
import { parseCargoVersionReq, VERSION_REQ_ACCEPTED } from "./version-req.ts";
import { AGE_ACCEPTED, parseAge } from "../review/age.ts";
import { CONTENT_KIND_TEXT, CONTENT_KINDS, type ContentKind } from "../pins/content.ts";
import { defaultSourceOf } from "./select.ts";

export { BUILTIN_PROFILE_NAMES, type BuiltinProfileName };

export const SOURCES = ["registry", "path", "git"] as const;
export type CrateSource = (typeof SOURCES)[number];
export const RUNTIMES = ["runc", "runsc"] as const;
export type ContainerRuntime = (typeof RUNTIMES)[number];

// ---- value schemas ----------------------------------------------------------------------------

/** Runs a `parse*` from values.ts inside zod: the normalised value, or an issue carrying `accepted`. */
function checked<S extends z.ZodType, T>(input: S, parse: (v: z.output<S>) => ValueResult<T>) {
  return input.transform((v, ctx): T => {
    const r = parse(v);
    if (r.ok) return r.value;
    ctx.issues.push({ code: "custom", message: r.message, input: v, params: { accepted: r.accepted } });
    return z.NEVER;
  });
}

/** A limit given as text or number, parsed as on the command line (limits.ts, LIMIT_TABLE). */
function limitKey(key: LimitKey) {
  const spec = LIMIT_TABLE[limitFieldOf(key)];
  return checked(z.union([z.string(), z.number()]), (v): ValueResult<number> => {
    try {
      return { ok: true, value: spec.parse(v) };
    } catch {
      return { ok: false, message: `${JSON.stringify(v)} is not ${spec.noun}`, accepted: spec.accepted };
    }
  })
    .optional()
    .describe(`${spec.describe} Accepts ${spec.accepted}.`);
}

/** A list in which each (normalised) item may appear once: a repeat is a slip a reviewer should not have to read past. */
function uniqueList<S extends z.ZodType>(item: S, keyOf: (v: z.output<S>) => string = (v) => String(v)) {
  return z.array(item).check((ctx) => {
    const seen = new Set<string>();
    ctx.value.forEach((v, i) => {
      const key = keyOf(v);
      if (seen.has(key)) ctx.issues.push({ code: "custom", message: `${JSON.stringify(key)} is listed twice`, input: v, path: [i] });
      seen.add(key);
    });
  });
}

/** `true`: full access; `false`: none; a list: these hosts only, through cratebox's egress proxy. */
const network = z.union([z.boolean(), uniqueList(checked(z.string(), parseHostPort))]);

/** One file a step may download through the proxy, checked against its SHA-256 (Nix's fixed-output idea). */
const fetchEntry = z.strictObject({
  url: checked(z.string(), parseFetchUrl).describe("The exact http:// or https:// URL."),
  sha256: checked(z.string(), parseSha256).describe('SHA-256 of the file, 64 hex digits ("sha256:" prefix accepted).'),
});

// ---- keys -------------------------------------------------------------------------------------

const sandboxKeys = {
  ...({
    memory: limitKey("memory"),
    pids: limitKey("pids"),
    timeout: limitKey("timeout"),
    cpus: limitKey("cpus"),
    tmp: limitKey("tmp"),
  } satisfies { [K in LimitKey]: unknown }),
  image: checked(z.string(), parseImageRef)
    .optional()
    .describe(
      "Image the step runs in instead of cratebox's own sandbox image (which mounts the host's /usr read-only). It must exist locally: cratebox never pulls.",
    ),
  runtime: z
    .enum(RUNTIMES)
    .optional()
    .describe('OCI runtime of the container: "runc" (default) or "runsc" (gVisor, a user-space kernel) where the engine has it.'),
};

const capabilityKeys = {
  use: uniqueList(z.enum(BUILTIN_PROFILE_NAMES))
    .optional()
    .describe("Built-in profiles (profiles/<name>.toml) applied in order before this table's own keys; lists accumulate, later single values win."),
  env: uniqueList(checked(z.string(), parseEnvPattern), (p) => p.text)
    .optional()
    .describe(
      `Host environment variables passed into the sandbox, by name or pattern: ${ENV_ACCEPTED}. Patterns that would also match a well-known credential (CARGO_REGISTRY_TOKEN, GITHUB_TOKEN, ...) are refused.`,
    ),
  read: uniqueList(checked(z.string(), (p) => parseHostPath(p, "read")))
    .optional()
    .describe(
      "Extra host paths mounted read-only at the same place. Relative paths are from the workspace root and may not leave it (write an absolute path for that); symlinks are resolved and checked when the step runs.",
    ),
  write: uniqueList(checked(z.string(), (p) => parseHostPath(p, "write")))
    .optional()
    .describe(
      "Extra host paths mounted WRITABLE at the same place: the step can change or plant files there, so cratebox warns on every use. Same path rules as read; the workspace root itself, .git and target/ are refused.",
    ),
  directives: uniqueList(
    z
      .string()
      .min(1)
      .regex(/^[a-z][a-z0-9-]*(=|$)/, "a directive such as rustc-link-arg=-fuse-ld=lld"),
  )
    .optional()
    .describe(
      'Build-script directives let through the directive firewall, as KEY=VALUE with * matching anything (e.g. "rustc-link-arg=-Wl,-T*"). By default cratebox blocks directives that make the host linker or rustc run or load files the script chose.',
    ),
  network: network
    .optional()
    .describe(
      `Network access: false (default, no network at all), a list of hosts reachable only through cratebox's egress proxy (${HOST_PORT_ACCEPTED}), or true (unrestricted, warned about). A list replaces what an earlier layer set.`,
    ),
  fetch: uniqueList(fetchEntry, (f) => f.url)
    .optional()
    .describe(
      "Files the step may download through cratebox's egress proxy, each { url, sha256 }: the proxy downloads the URL itself and answers only if the body has that SHA-256. Reach it with a plain http:// request through the proxy (HTTP_PROXY); for an https URL, ask for its http:// form.",
    ),
  ...sandboxKeys,
};

const ENTRY_META: { [P in GrantPhase]: { id: string; description: string } } = {
  build: {
    id: "BuildGrant",
    description: "Grant for the build script of this crate (as cargo resolved it). Several pinned versions: write [[build.<crate>]] once per version.",
  },
  test: {
    id: "TestGrant",
    description: "Grant for the test, bench and run binaries of this package. Several pinned versions: write [[test.<package>]] once per version.",
  },
  rustc: {
    id: "RustcGrant",
    description:
      "Grant for compiling this crate: rustc (and rustdoc) with every proc macro it runs, e.g. env for a macro that reads DATABASE_URL at compile time, read for files it includes. Several pinned versions: write [[rustc.<crate>]] once per version.",
  },
};

/** One `[build.<crate>]` / `[[test.<package>]]` table: which crate it selects, and what it grants. */
function grantEntry(scope: GrantPhase) {
  const defaultSource = defaultSourceOf(scope);
  return (
    z
      .strictObject({
        version: checked(z.string(), (r) => {
          const req = parseCargoVersionReq(r);
          return req.ok ? { ok: true, value: r.trim() } : req;
        })
          .optional()
          .describe(
            `Cargo version requirement the grant is limited to, checked against the version cargo resolved (Cargo.lock); another version gets no grant and stops the run. Accepts ${VERSION_REQ_ACCEPTED}.`,
          ),
        source: z
          .enum(SOURCES)
          .default(defaultSource)
          .describe(
            `Where the crate must come from, as cargo resolved it: "registry", "path" or "git". Default "${defaultSource}". A grant never applies to a crate of the same name from another source.`,
          ),
        checksum: checked(z.string(), parseChecksum)
          .optional()
          .describe(
            'Pins the grant to the reviewed package: its checksum from Cargo.lock ("sha256:<64 hex>"). Registry crates only. Another checksum gets no grant and stops the run.',
          ),
        ...contentPinKeys,
        cargo: z
          .boolean()
          .optional()
          .describe(
            "[test.*] only. true: a nested cargo inside the test binary (trybuild's UI tests) works: it gets a private CARGO_HOME with a cleaned copy of your cargo configuration (sources, registries without tokens, net; never credentials), the registry directories and caches it names read-only, and the workspace root read-only.",
          ),
        reviewed: z
          .boolean()
          .optional()
          .describe(
            "true: someone reviewed this build script and it runs with the defaults (an entry that grants nothing must say so). false: listed but not reviewed yet; strict mode stops on it.",
          ),
        ...capabilityKeys,
      })
      // These run even when a key of the entry failed (`when`), so that every problem shows at
      // once; they only read what they can trust on unvalidated data.
      .superRefine(
        (e, ctx) => {
          if (typeof e.checksum === "string" && (e.source === "path" || e.source === "git")) {
            ctx.addIssue({
              code: "custom",
              input: e.checksum,
              path: ["checksum"],
              message: `a checksum pins a registry package, but this entry selects ${e.source} crates (Cargo.lock has no checksum for them)`,
              params: { accepted: 'a version pin instead, or source = "registry"' },
            });
          }
        },
        { when: (payload) => isTable(payload.value) },
      )
      .superRefine(
        (e, ctx) => {
          if (scope !== "build") for (const key of CONTENT_KINDS) if (e[key] !== undefined) ctx.addIssue(contentPinOutsideBuild(key, e[key]));
        },
        { when: (payload) => isTable(payload.value) },
      )
      .superRefine(
        (e, ctx) => {
          if (scope !== "test" && e.cargo !== undefined) {
            ctx.addIssue({
              code: "custom",
              input: e.cargo,
              path: ["cargo"],
              message: "cargo (a nested cargo) belongs in [test.<package>]: it is for test binaries that run cargo, such as trybuild's UI tests",
              params: { accepted: "the same key in the package's [test.<package>] table" },
            });
          }
        },
        { when: (payload) => isTable(payload.value) },
      )
      .superRefine(
        (e, ctx) => {
          if (e.reviewed === undefined && !grantsSomething(e) && e.cargo !== true) {
            ctx.addIssue({
              code: "custom",
              input: e,
              path: [],
              message: "this entry grants nothing and is not marked reviewed",
              params: { accepted: "reviewed = true (runs with the defaults on purpose), or a capability such as env, read or use" },
            });
          }
        },
        // Not when the table has a misspelt key: that key was probably meant as the grant.
        { when: (payload) => isTable(payload.value) && !payload.issues.some((i) => i.code === "unrecognized_keys" && (i.path ?? []).length === 0) },
      )
      // A named definition in the JSON Schema (it is used twice: as a table and in an array).
      .meta(ENTRY_META[scope])
  );
}

// ---- content pins (issue 15, core/pins) ---------------------------------------------------------

/**
 * `build-script` / `proc-macro`: the grant holds only for the code it was reviewed for. They sit
 * in `[build.<crate>]` (what runs at build time of that crate) whatever the crate's source: a
 * path, git or directory-source crate has no checksum, which is the point.
 */
function contentPinKey(kind: ContentKind) {
  return checked(z.string(), (v): ValueResult<string> => {
    const r = parseChecksum(v);
    return r.ok ? r : { ...r, accepted: `"sha256:" and 64 hex digits, as \`cratebox approve\` writes it` };
  })
    .optional()
    .describe(
      `Pins the grant to the code of this crate's ${CONTENT_KIND_TEXT[kind]}: "sha256:<64 hex>" over the files rustc compiled into it (its dep-info) and the packages linked into it, written by \`cratebox approve\`. Other code stops the run.`,
    );
}

const contentPinKeys = { "build-script": contentPinKey("build-script"), "proc-macro": contentPinKey("proc-macro") } satisfies { [K in ContentKind]: unknown };

function contentPinOutsideBuild(key: ContentKind, input: unknown) {
  return {
    code: "custom" as const,
    input,
    path: [key],
    message: `a ${key} pin belongs in [build.<crate>]: it pins what runs at build time`,
    params: { accepted: `the same key in the crate's [build.<crate>] table` },
  };
}

const crateName = z.string().check((ctx) => {
  const r = parseCrateName(ctx.value);
  if (!r.ok) ctx.issues.push({ code: "custom", message: r.message, input: ctx.value, params: { accepted: r.accepted } });
});

const buildGrant = grantEntry("build");
const testGrant = grantEntry("test");
const rustcGrant = grantEntry("rustc");

function scopeTable(entry: typeof buildGrant) {
  return z.record(crateName, z.union([entry, z.array(entry).min(1)])).optional();
}

// ---- [review]: what `cratebox review` checks (issue 14) -----------------------------------------

/**
 * The npm `semver` package, evaluated when an exact version is first read (about 8 ms): this
 * module is loaded by every run that validates a cratebox.toml (every run in CI, where the
 * profiles are not cached), most of which have no [review] exemption.
 */
function semver(): typeof import("semver") {
  loadedSemver ??= require("semver") as typeof import("semver");
  return loadedSemver;
}
let loadedSemver: typeof import("semver") | undefined;

/** "1.2.3", "0.1.11+1.0.8" (cargo versions keep their build metadata); not a requirement. */
function parseExactVersion(raw: string): ValueResult<string> {
  const text = raw.trim();
  const v = semver().parse(text);
  return v !== null && `${v.version}${v.build.length ? `+${v.build.join(".")}` : ""}` === text
    ? { ok: true, value: text }
    : { ok: false, message: `${JSON.stringify(raw)} is not an exact version`, accepted: REVIEW_ACCEPTED.version! };
}

/** One release let through the cool-off before its time: pinned to exactly that package, with why. */
const exemption = z
  .strictObject({
    name: crateName.describe("The package's name."),
    version: checked(z.string(), parseExactVersion).describe('The exact version exempted ("1.2.3"), not a requirement.'),
    checksum: checked(z.string(), parseChecksum).describe(
      'Cargo.lock\'s checksum of that release ("sha256:<64 hex>"): other bytes under the same name and version are not exempt.',
    ),
    reason: z.string().trim().min(1).describe("Why this release may skip the cool-off (who reviewed it, which advisory it fixes)."),
  })
  .meta({ id: "ReviewExemption", description: "A release exempt from the cool-off, pinned to name, version and checksum, with the reason." });

const reviewSchema = z
  .strictObject({
    "min-age": checked(z.string(), parseAge)
      .optional()
      .describe(
        `Cool-off: a new version younger than this (from the index's pubtime) fails \`cratebox review\`, which says when it becomes allowed. Also --min-age. Accepts ${AGE_ACCEPTED}.`,
      ),
    "require-pubtime": z
      .boolean()
      .optional()
      .describe(
        "true: a new version whose publication time the index does not give fails the review; false (default): it passes, and the review says the time was unknown.",
      ),
    index: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Where `cratebox review` reads the registry index (pubtime, checksums) and .crate files: a local registry or sparse-index mirror directory (relative: from the workspace root) or an http(s) URL of a sparse index (index.crates.io). Also --index. Without it only local sources from cargo's config are read.",
      ),
    audits: z
      .array(z.string().min(1))
      .optional()
      .describe(
        "cargo-vet audit files (supply-chain/audits.toml, imports.lock), relative to the workspace root: evidence shown by `cratebox review`, `profiles ls` and `explain`, and given to policies. An audit never grants anything.",
      ),
    exempt: z
      .array(exemption)
      .optional()
      .describe("Releases exempt from the cool-off, each pinned to name, version and checksum, with a reason: [[review.exempt]]."),
  })
  .describe("What `cratebox review` checks when Cargo.lock changes: the cool-off of new versions and its exemptions.");

export type ReviewTable = z.output<typeof reviewSchema>;
export type ReviewExemption = NonNullable<ReviewTable["exempt"]>[number];

const defaultsSchema = z
  .strictObject(sandboxKeys)
  .describe("Limits, image and runtime for every sandboxed step (build scripts and test binaries) unless a crate's table says otherwise.");

export const profileSchema = z
  .strictObject({
    version: z.literal(1).describe("Version of this file's format. Always 1."),
    strict: z
      .boolean()
      .default(false)
      .describe(
        "Strict mode (also --strict): every crate with a build script must be listed in [build.*], granted or marked reviewed = true; a new build script entering the graph stops the run until someone reviews it.",
      ),
    policy: z
      .array(z.string().min(1).regex(/\.js$/, "a .js file"))
      .optional()
      .describe(
        "Organisation policy files (JavaScript, evaluated in an isolated V8 isolate) that cap what the grants below may give; relative paths from the workspace root. They compose with --policy and CRATEBOX_POLICY: the strictest wins.",
      ),
    defaults: defaultsSchema.optional(),
    build: scopeTable(buildGrant).describe("Grants for build scripts, one table per crate: [build.<crate>]."),
    test: scopeTable(testGrant).describe("Grants for the test, bench and run binaries of workspace packages: [test.<package>]."),
    rustc: scopeTable(rustcGrant).describe(
      'Grants for compiling crates, per compiled crate (its proc macros run inside that rustc): [rustc.<crate>]; default source "registry", write source = "path" for your own crates.',
    ),
    review: reviewSchema.optional(),
  })
  .describe("cratebox.toml: what each sandboxed build script and test binary may do beyond the deny-by-default sandbox.");

export const builtinProfileSchema = z.strictObject({
  description: z.string().min(1).describe("What the profile is for, in one sentence (shown by `cratebox profiles explain`)."),
  ...capabilityKeys,
});

/** The validated, normalised content of cratebox.toml. */
export type Profile = z.output<typeof profileSchema>;
export type DefaultsTable = z.output<typeof defaultsSchema>;
/** One crate's table (selection and grant). */
export type GrantEntry = z.output<typeof buildGrant>;
/** The granting keys shared by crate tables and built-in profiles. */
export type Capabilities = Pick<GrantEntry, keyof typeof capabilityKeys>;

const CAPABILITY_KEYS = Object.keys(capabilityKeys) as (keyof Capabilities)[];
const SANDBOX_KEYS = Object.keys(sandboxKeys) as (keyof DefaultsTable)[];
/** The keys valid in each kind of table (unknown-key messages list them). */
export const TABLE_KEYS = {
  root: Object.keys(profileSchema.shape),
  defaults: SANDBOX_KEYS as string[],
  entry: Object.keys(buildGrant.shape),
  builtin: Object.keys(builtinProfileSchema.shape),
  review: Object.keys(reviewSchema.shape),
  exempt: Object.keys(exemption.shape),
} as const;

function grantsSomething(e: Partial<Capabilities>): boolean {
  return CAPABILITY_KEYS.some((k) => e[k] !== undefined);
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}
