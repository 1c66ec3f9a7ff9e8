/**
 * Organisation policy as code (issue #6): what a policy sees and what it may answer. Pure.
 *
 * A policy is a JavaScript file defining `policy(input)`; it runs in an isolate with no host API
 * (src/runtime/policy.ts). It sees plain JSON data, `PolicyInput`, and returns a list of
 * `PolicyDecision`s, which are validated here with zod before anything trusts them: a decision
 * that does not fit is an error naming the policy file and the path of the offending value,
 * never a silently ignored rule. The types come from the schemas (`z.infer`), never written twice.
 *
 * Shape decisions:
 * - `requested.<phase>` is null when the crate has no step in that phase (no build script; not
 *   a workspace member, so no test binaries). Otherwise it is the grant cratebox.toml resolves
 *   for that step, `table: null` when no table selects the crate (the step gets the defaults).
 * - `version` in a decision is the exact resolved version (what the input shows), not a
 *   requirement: a policy echoes `crate.version` to address one of several versions.
 * - Decisions are strict objects per action (`caps` only on "cap", `require` only on "require"),
 *   so a typo or a key in the wrong place is an error, as in cratebox.toml.
 */
import * as z from "zod";
import { AuditViewSchema } from "../audits/view-schema.ts";
import type { Limits } from "../limits.ts";
import { limitValueSchema, limitsSchema } from "../limits-schema.ts";
import { GRANT_PHASES } from "../phase.ts";
import { toKeyPath, type KeySegment } from "../profile/key-path.ts";
import { RUNTIMES, SOURCES } from "../profile/schema.ts";
import { SOURCE_STATUSES } from "../review/report.ts";

// ---- input ------------------------------------------------------------------------------------

const _count = z.number().int().positive();

/** One step's grant as cratebox.toml resolves it, before any policy. */
const GrantViewSchema = z.strictObject({
  /** The table that selected the crate (`build.openssl-sys`, `build.ring[1]`); null: none did. */
  table: z.string().nullable(),
  /** That table's `reviewed` key; null when the table does not say, or there is no table. */
  reviewed: z.boolean().nullable(),
  /** What the table is pinned to: its `version` requirement, `checksum`, and the content pins `build-script` / `proc-macro` (`sha256:<hex>`). */
  pinned: z.strictObject({
    version: z.string().nullable(),
    checksum: z.string().nullable(),
    buildScript: z.string().nullable(),
    procMacro: z.string().nullable(),
  }),
  /** Built-in profiles applied (`use`), in order. */
  profiles: z.array(z.string()),
  /** Host environment variables passed in: names, or patterns with `*` at one end or both. */
  env: z.array(z.string()),
  /** Host paths mounted read-only / writable, as written (relative: from the workspace root). */
  read: z.array(z.string()),
  write: z.array(z.string()),
  /** True: the default bridge network, full access. */
  network: z.boolean(),
  /** `network = [...]`: hosts reachable through cratebox's egress proxy, "host:port" ("*.domain:port" for any name below domain). */
  hosts: z.array(z.string()),
  /** `fetch = [...]`: files the step may download through the proxy, checked against their SHA-256. */
  fetch: z.array(z.strictObject({ url: z.string(), sha256: z.string() })),
  /** `cargo = true` (test binaries only): a nested cargo (trybuild) gets a cleaned copy of the cargo configuration, the registries it names and the workspace root, read-only. */
  cargo: z.boolean(),
  /** The limits of one step, in the same units as cratebox's Limits (bytes, milliseconds). */
  limits: limitsSchema,
  /** A custom image; null: cratebox's own sandbox image. */
  image: z.string().nullable(),
  runtime: z.enum(RUNTIMES),
});

/** One package of the build graph, as cargo resolved it (never what its own manifest claims). */
const PolicyCrateSchema = z.strictObject({
  name: z.string(),
  version: z.string(),
  source: z.enum(SOURCES),
  /** Cargo.lock's checksum as `sha256:<hex>`; null for path and git crates. */
  checksum: z.string().nullable(),
  hasBuildScript: z.boolean(),
  isProcMacro: z.boolean(),
  /** Features cargo enabled for it. */
  features: z.array(z.string()),
  /** Names of the packages that depend on it directly. */
  dependents: z.array(z.string()),
  workspaceMember: z.boolean(),
  /** The grant of each of its steps; null when it has no step in that phase. */
  requested: z.strictObject({
    build: GrantViewSchema.nullable(),
    test: GrantViewSchema.nullable(),
    /** Compiling it (rustc, rustdoc, its proc macros); null when no [rustc.<crate>] table names it (the defaults apply). */
    rustc: GrantViewSchema.nullable(),
  }),
  /** cargo-vet audits of this version ([review] audits; issue 15): evidence, never a grant. */
  audits: AuditViewSchema,
});

/**
 * One package that `cratebox review` found new or changed in Cargo.lock (issue 14). Removed
 * packages are not shown: nothing of theirs runs any more.
 */
const ReviewCrateSchema = z.strictObject({
  name: z.string(),
  /** The version in the working tree's Cargo.lock. */
  version: z.string(),
  /** The version at the base; null for a package new to the lockfile. */
  previousVersion: z.string().nullable(),
  /** `added`, `updated` (version or source), or `checksum-changed` (same version and source, other bytes: the review fails anyway). */
  change: z.enum(["added", "updated", "checksum-changed"]),
  source: z.enum(SOURCES),
  /** Another registry, or registry to git and back. */
  sourceChanged: z.boolean(),
  /** Cargo.lock's checksum as `sha256:<hex>` (null: none) now and at the base. */
  checksum: z.string().nullable(),
  previousChecksum: z.string().nullable(),
  checksumChanged: z.boolean(),
  /** From the package's manifest; null when its sources could not be read. */
  hasBuildScript: z.boolean().nullable(),
  isProcMacro: z.boolean().nullable(),
  links: z.string().nullable(),
  /** A build script / proc-macro target the previous version did not have (or the package is new). */
  newBuildScript: z.boolean(),
  newProcMacro: z.boolean(),
  /** Arrives only as a build dependency; null: not known. */
  buildOnly: z.boolean().nullable(),
  /** The index's pubtime (RFC 3339) and the age at the review's time, in milliseconds; null: unknown. */
  publishedAt: z.string().nullable(),
  ageMs: z.number().int().nullable(),
  /** How the review read its sources: "verified" (.crate matching the checksum), "unverified" (a directory source), "unavailable", "refused". */
  sources: z.enum(SOURCE_STATUSES),
  /** The grant cratebox.toml gives its build script (`table: null`: none selects it). */
  grant: GrantViewSchema,
  /** cargo-vet audits of the new version ([review] audits; issue 15). */
  audits: AuditViewSchema,
});

/** What `cratebox review` shows policies; absent when a policy judges a build. */
const ReviewViewSchema = z.strictObject({
  /** The git ref Cargo.lock was compared with. */
  base: z.string(),
  /** The time the review used (RFC 3339; `--now` or the clock): a policy has no clock of its own. */
  now: z.string(),
  /** The cool-off in milliseconds; null: none. */
  minAgeMs: z.number().int().nullable(),
  crates: z.array(ReviewCrateSchema),
});

export const PolicyInputSchema = z.strictObject({
  run: z.strictObject({
    /** The cargo command line after `cargo` (`["test", "--workspace"]`); empty in `cratebox review`. */
    command: z.array(z.string()),
    /** True when running in CI (`CI` set). */
    ci: z.boolean(),
  }),
  /** Every package of the build graph; empty in `cratebox review`, which resolves no build graph. */
  crates: z.array(PolicyCrateSchema),
  /** Only in `cratebox review`: the packages new or changed in Cargo.lock. */
  review: ReviewViewSchema.optional(),
});

export type GrantView = z.infer<typeof GrantViewSchema>;
export type PolicyCrate = z.infer<typeof PolicyCrateSchema>;
export type PolicyInput = z.infer<typeof PolicyInputSchema>;
export type ReviewCrate = z.infer<typeof ReviewCrateSchema>;

// ---- decisions --------------------------------------------------------------------------------

const POLICY_PHASES = [...GRANT_PHASES, "*"] as const;
const REQUIREMENTS = ["checksum-pin", "version-pin", "reviewed"] as const;
export type Requirement = (typeof REQUIREMENTS)[number];
export type LimitCap = keyof Limits;

/** A crate name as cargo spells it, or `*` for every crate. */
const crateSelector = z.string().regex(/^(\*|[\p{ID_Start}_][\p{ID_Continue}-]*)$/u, 'expected a crate name or "*"');
/** An env ceiling: a name or a pattern with `*` at the start, the end or both; `*` alone: any. */
const envCeiling = z.string().regex(/^(\*|\*?[A-Za-z0-9_-]+\*?)$/, 'expected a variable name or a pattern such as "CC", "OPENSSL_*", "*_STATIC" or "*SSL*"');
/** A host ceiling: "name:port", "*.domain:port", "*:port", "name:*", "*:*", or an address. */
const hostCeiling = z
  .string()
  .regex(
    /^(\*|\*\.[a-z0-9.-]+|[a-z0-9.-]+|\[[0-9a-f:.]+\]):(\*|\d{1,5})$/i,
    'expected "host:port" where host may be "*" or "*.domain" and port "*", e.g. "*.corp.example:443"',
  );
/** A path ceiling: a host path prefix, absolute or relative to the workspace root. */
const pathCeiling = z
  .string()
  .min(1)
  .refine((p) => !p.includes("\0"), "a path may not contain NUL");
const text = (max: number) => z.string().min(1).max(max);

/** A ceiling for every limit (same units as Limits), from the one table of limits. */
function limitCeilings() {
  const ceiling = (f: keyof Limits) => limitValueSchema(f).optional();
  return {
    memoryBytes: ceiling("memoryBytes"),
    pids: ceiling("pids"),
    timeoutMs: ceiling("timeoutMs"),
    cpus: ceiling("cpus"),
    tmpBytes: ceiling("tmpBytes"),
  } satisfies { [K in keyof Limits]-?: z.ZodType };
}

/** Ceilings: a granted value above one is lowered to it; a list item outside one is removed. */
export const CapsSchema = z
  .strictObject({
    /** Only `false`: no network at all (full access, listed hosts and fetch grants). A policy can take network away, never grant it. */
    network: z.literal(false).optional(),
    /**
     * Host patterns the `network` list may keep ("*.corp.example:443", "*:443" for any host on
     * port 443, "*:*" any): a listed host outside them is removed; full access (`network = true`)
     * is wider than any list and goes off.
     */
    hosts: z.array(hostCeiling).optional(),
    /** Only `false`: no nested cargo (`cargo = true` goes off). */
    cargo: z.literal(false).optional(),
    /** Env patterns the grant may keep: each granted pattern must pass no variable outside them. */
    env: z.array(envCeiling).optional(),
    /** Path prefixes the read / write grants may keep (on path-segment boundaries). */
    read: z.array(pathCeiling).optional(),
    write: z.array(pathCeiling).optional(),
    ...limitCeilings(),
  })
  .refine((c) => Object.values(c).some((v) => v !== undefined), "a cap decision must set at least one ceiling");

const common = {
  /** The crate's name, or `*` for every crate. */
  crate: crateSelector,
  /** The exact resolved version; absent: every version of the crate. */
  version: z.string().min(1).optional(),
  /** `build` (build scripts), `test` (test, bench and run binaries), or `*` for both. */
  phase: z.enum(POLICY_PHASES),
  /** Shown to the user with the decision: why the rule exists, what to do. */
  message: text(2000).optional(),
  /** A short name for the rule, cited with the policy's file (`no-build-network`). */
  rule: text(200).optional(),
};

const PolicyDecisionSchema = z.discriminatedUnion("action", [
  /** The request is fine as it is (documents a decision; it does not undo another policy's). */
  z.strictObject({ ...common, action: z.literal("allow") }),
  z.strictObject({ ...common, action: z.literal("cap"), caps: CapsSchema }),
  /** The step may not run; the run stops before building, citing `message`. */
  z.strictObject({ ...common, action: z.literal("deny") }),
  /** The grant must show these; an unmet requirement stops the run like a deny. */
  z.strictObject({ ...common, action: z.literal("require"), require: z.array(z.enum(REQUIREMENTS)).min(1) }),
]);

const PolicyDecisionsSchema = z.array(PolicyDecisionSchema);

export type Caps = z.infer<typeof CapsSchema>;
export type PolicyDecision = z.infer<typeof PolicyDecisionSchema>;

/** The validated decisions of one policy file. */
export interface PolicyDecisions {
  file: string;
  decisions: PolicyDecision[];
}

export interface DecisionIssue {
  /** Key path into the returned value: `[3].caps.timeoutMs`; "" for the value itself. */
  path: string;
  message: string;
}

export type DecisionsResult = { ok: true; value: PolicyDecision[] } | { ok: false; issues: DecisionIssue[] };

/** Validates what a policy returned (already plain JSON data). Every problem, each with its path. */
export function validateDecisions(raw: unknown): DecisionsResult {
  const r = PolicyDecisionsSchema.safeParse(raw);
  if (r.success) return { ok: true, value: r.data };
  return { ok: false, issues: toDecisionIssues(r.error.issues) };
}

function toDecisionIssues(issues: readonly z.core.$ZodIssue[]): DecisionIssue[] {
  const out: DecisionIssue[] = [];
  for (const issue of issues) {
    const path = issue.path as KeySegment[];
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) out.push({ path: toKeyPath([...path, key]), message: `unknown key ${JSON.stringify(key)}` });
    } else {
      out.push({ path: toKeyPath(path), message: issue.message });
    }
  }
  return out;
}

/** `[3].caps.timeoutMs: Invalid input: expected number, received string` */
export function formatDecisionIssue(issue: DecisionIssue): string {
  return `${issue.path === "" ? "the returned value" : issue.path}: ${issue.message}`;
}
