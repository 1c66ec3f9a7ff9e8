/**
 * From cratebox.toml, the built-in profiles and the organisation's policies to what one step may
 * do: the grant of a crate's step after the policies' ceilings, in host terms, with its limits
 * and a summary of where each part came from. Also what the policies are shown of the whole
 * graph, and the checks that stop a run before cargo starts. Pure: the file system reaches this
 * module only as the facts handed in (GrantPathFacts).
 */
import path from "node:path";
import { NOT_AUDITED } from "./audits/evaluate.ts";
import { type AuditView, toAuditView } from "./audits/view.ts";
import type { GraphCrate } from "./crate-graph.ts";
import { toNetworkAccess } from "./egress.ts";
import { CrateboxError } from "./errors.ts";
import { toGrantSummary, type GrantSummary } from "./grant-summary.ts";
import { LIMIT_FIELDS, type Limits } from "./limits.ts";
import { isWithin } from "./paths.ts";
import type { GrantPhase } from "./phase.ts";
import { applyPolicies, describeRefusals, type PolicyOutcome } from "./policy/apply.ts";
import type { PolicyDecisions, PolicyInput } from "./policy/schema.ts";
import { toGrantView } from "./policy/view.ts";
import type { BuiltinProfiles } from "./profile/builtins.ts";
import { type ItemOf, LIST_CAPABILITY_KEYS, listRow } from "./profile/capabilities.ts";
import type { ParsedProfile } from "./profile/parse.ts";
import { describeAmbiguity, describePinMismatch, type EffectiveGrant, type Origin, resolveGrant, type Sourced, strictViolations } from "./profile/resolve.ts";
import type { CrateIdentity, StalePin } from "./profile/select.ts";
import type { SandboxGrant } from "./sandbox-spec.ts";

/** The file cratebox reads its grants from, at the workspace root. */
export const PROFILE_FILE = "cratebox.toml";

/** Everything a step's grant is decided from, read once per run. */
export interface GrantContext {
  /** The workspace root's cratebox.toml (the empty profile when there is none). */
  parsed: ParsedProfile;
  builtins: BuiltinProfiles;
  /** Limits given on the command line: the highest layer. */
  overrides: Partial<Limits>;
  /** The decisions of the organisation's policies, evaluated once per run. */
  policies: readonly PolicyDecisions[];
}

/** The host facts granted paths are checked against (gathered by the runtime). */
export interface GrantPathFacts {
  /** Relative grant paths are from here (the workspace root). */
  workspaceRoot: string;
  /** The user's home, real path: no grant may expose all of it. */
  home: string | undefined;
  /** Cargo's build directories: never writable by a grant (the shims live there). */
  buildRoots: readonly string[];
  /** Host path -> real path, or undefined when it does not exist. */
  realpath: (p: string) => string | undefined;
  /**
   * cratebox's own state in the user's cache directory (its cache key, the native front's
   * tickets: runtime/ticket.ts), real path: no grant may read or write it or a directory above it.
   */
  crateboxState?: string;
}

/** What one step gets: the grant in host terms, its limits, and what the report and messages say of it. */
export interface StepDecision {
  grant: SandboxGrant;
  limits: Limits;
  /** A custom image reference from the grant; undefined: cratebox's own sandbox image. */
  image: string | undefined;
  /** What was granted beyond the default and where each came from (report, explain). */
  summary: GrantSummary;
  /** Directive patterns the firewall lets through (core/directives.ts). */
  directives: string[];
  crate: CrateIdentity;
}

/**
 * A crate the graph does not know (it should not happen): it is matched by no table, so it runs
 * with the defaults only. Its name is one no table can have.
 */
export const UNKNOWN_CRATE: CrateIdentity = { name: "", version: "0.0.0", source: "path" };

/** The grant cratebox.toml gives; a step whose pin no longer holds gets none (preflight stops such a run first). */
function resolveStepGrant(ctx: GrantContext, crate: CrateIdentity, phase: GrantPhase): EffectiveGrant {
  const r = resolveGrant(ctx.parsed, ctx.builtins, crate, phase, { overrides: ctx.overrides });
  return r.kind === "granted" ? r.grant : r.withoutEntry;
}

/**
 * The grant after the policies' ceilings: lists keep only what every ceiling allows, network goes
 * off if a policy says so, limits take the lowest value. Policies only ever take away.
 */
export function capGrant(ctx: GrantContext, crate: CrateIdentity, phase: GrantPhase): { effective: EffectiveGrant; outcome: PolicyOutcome | undefined } {
  const effective = resolveStepGrant(ctx, crate, phase);
  if (ctx.policies.length === 0) return { effective, outcome: undefined };
  const outcome = applyPolicies({ name: crate.name, version: crate.version, phase, grant: toGrantView(effective, ctx.parsed) }, ctx.policies);
  const c = outcome.grant;
  const policyOrigin = (capability: string): Origin | undefined => {
    const by = outcome.shapedBy.find((x) => x.capability === capability);
    return by ? { kind: "entry", file: by.file, table: `policy rule ${by.rule}`, line: undefined } : undefined;
  };
  const capped: EffectiveGrant = { ...effective, limits: { ...c.limits, cpus: c.limits.cpus ?? undefined }, limitOrigins: { ...effective.limitOrigins } };
  for (const field of LIMIT_FIELDS) capped.limitOrigins[field] = policyOrigin(field) ?? capped.limitOrigins[field];
  // A list keeps the items the capped view still shows (a ceiling removes items, never changes one).
  for (const key of LIST_CAPABILITY_KEYS) {
    const policy = listRow(key).policy;
    if (!policy) continue;
    const kept = new Set((c[policy.field] as unknown[]).map((v) => JSON.stringify(v)));
    (capped[key] as Sourced<ItemOf<typeof key>>[]) = (effective[key] as Sourced<ItemOf<typeof key>>[]).filter((i) =>
      kept.has(JSON.stringify(policy.view(i.value))),
    );
  }
  capped.network =
    c.network === effective.network.value ? effective.network : { value: c.network, origin: policyOrigin("network") ?? effective.network.origin };
  capped.hosts = effective.hosts.filter((h) => c.hosts.includes(h.value));
  capped.cargo = c.cargo === effective.cargo.value ? effective.cargo : { value: c.cargo, origin: policyOrigin("cargo") ?? effective.cargo.origin };
  return { effective: capped, outcome };
}

/** The decision for one sandboxed step of `crate`. */
export function decideStep(ctx: GrantContext, crate: CrateIdentity, phase: GrantPhase, paths: GrantPathFacts): StepDecision {
  const { effective, outcome } = capGrant(ctx, crate, phase);
  const summary = toGrantSummary(effective);
  for (const s of outcome?.shapedBy ?? []) summary.items.push({ key: `policy:${s.capability}`, value: s.detail, from: `policy rule ${s.rule} (${s.file})` });
  return {
    limits: effective.limits,
    grant: toSandboxGrant(effective, paths),
    image: effective.image?.value,
    summary,
    directives: effective.directives.map((d) => d.value),
    crate,
  };
}

/** Granted paths on the real file system: they must exist, and relative ones stay in the workspace. */
export function toSandboxGrant(g: EffectiveGrant, facts: GrantPathFacts): SandboxGrant {
  const root = facts.workspaceRoot;
  const realRoot = facts.realpath(root) ?? root;
  const check = (p: string, key: "read" | "write", where: string): string => {
    const abs = path.resolve(root, p);
    const real = facts.realpath(abs);
    if (real === undefined)
      throw new CrateboxError("GRANT_PATH", `${where}: ${key} path ${p} does not exist (${abs})`, "create it, or remove it from the grant");
    if (!path.isAbsolute(p) && !isWithin(real, realRoot)) {
      throw new CrateboxError(
        "GRANT_PATH",
        `${where}: ${key} path ${p} leads out of the workspace through a symbolic link (to ${real})`,
        "write the path absolute if that is really meant",
      );
    }
    if (facts.home && isWithin(facts.home, real)) {
      throw new CrateboxError(
        "GRANT_PATH",
        `${where}: ${key} path ${p} would expose your whole home directory (${real})`,
        "grant the one directory the crate needs",
      );
    }
    const state = facts.crateboxState;
    if (state && (isWithin(real, state) || isWithin(state, real))) {
      throw new CrateboxError(
        "GRANT_PATH",
        `${where}: ${key} path ${p} reaches cratebox's own state (${state}: its cache key and the tickets a build starts from)`,
        "grant the one directory the crate needs, outside it",
      );
    }
    if (key === "write") {
      // The schema refuses these as written; the real path must not reach them either
      // (an absolute path, or a symlink inside the workspace).
      const git = path.join(realRoot, ".git");
      const manifests = [PROFILE_FILE, "Cargo.toml", "Cargo.lock"].map((f) => path.join(realRoot, f));
      if (real === realRoot || isWithin(real, git) || manifests.includes(real) || isWithin(realRoot, real) || /\/(Cargo\.toml|Cargo\.lock)$/.test(real)) {
        throw new CrateboxError(
          "GRANT_PATH",
          `${where}: write path ${p} is (or leads to) the workspace itself, its .git, or a manifest (${real})`,
          "grant a directory for generated files only",
        );
      }
      if (facts.buildRoots.some((b) => isWithin(real, b) || isWithin(b, real))) {
        throw new CrateboxError(
          "GRANT_PATH",
          `${where}: write path ${p} overlaps cargo's build directory (${real}), where build scripts and their sandbox shims live`,
          "let the build script write to its OUT_DIR, or grant a directory outside target/",
        );
      }
    }
    return real;
  };
  const label = (o: Sourced<string>) => (o.origin.kind === "entry" ? `${o.origin.file}${o.origin.line ? `:${o.origin.line}` : ""}` : "grant");
  return {
    env: g.env.map((e) => e.value),
    read: g.read.map((r) => check(r.value, "read", label(r))),
    write: g.write.map((w) => check(w.value, "write", label(w))),
    network: toNetworkAccess(
      g.network.value,
      g.hosts.map((h) => h.value),
      g.fetch.map((f) => f.value),
    ),
    runtime: g.runtime.value,
    cargo: g.phase === "test" && g.cargo.value,
  };
}

/** What the policies see: every crate of the graph with the grants cratebox.toml gives it, and its audits (evidence). */
export function toPolicyInput(
  ctx: Pick<GrantContext, "parsed" | "builtins" | "overrides">,
  crates: readonly GraphCrate[],
  command: string[],
  ci: boolean,
  auditsOf: (c: GraphCrate) => AuditView = () => toAuditView(NOT_AUDITED),
): PolicyInput {
  const view = (c: GraphCrate, phase: GrantPhase) => toGrantView(resolveStepGrant({ ...ctx, policies: [] }, c, phase), ctx.parsed);
  return {
    run: { command, ci },
    crates: crates.map((c) => ({
      name: c.name,
      version: c.version,
      source: c.source,
      checksum: c.checksum ? `sha256:${c.checksum.replace(/^sha256:/, "")}` : null,
      hasBuildScript: c.hasBuildScript,
      isProcMacro: c.isProcMacro,
      features: c.features,
      dependents: c.dependents,
      workspaceMember: c.isWorkspaceMember,
      requested: {
        build: c.hasBuildScript ? view(c, "build") : null,
        test: c.isWorkspaceMember ? view(c, "test") : null,
        rustc: ctx.parsed.profile.rustc?.[c.name] !== undefined ? view(c, "rustc") : null,
      },
      audits: auditsOf(c),
    })),
  };
}

/**
 * Before cargo starts: every stale pin (version, checksum, and content pins where the runtime
 * observed the code: `crate.content`) and ambiguous table, every granted path that does not hold,
 * every policy refusal, and in strict mode every build script nobody reviewed. Empty: the run may
 * start. `staleDiff` appends what changed since a stale pin's review, when it can tell.
 */
export function preflightProblems(
  ctx: GrantContext,
  crates: readonly GraphCrate[],
  strict: boolean,
  paths: GrantPathFacts,
  staleDiff: (crate: GraphCrate, stale: readonly StalePin[]) => string = () => "",
): string[] {
  const problems: string[] = [];
  // Without a table for it and without policies, a step gets the defaults, which pin nothing and
  // grant no path: nothing to find, and nothing to resolve (most crates of a graph; issue 13).
  const checked = (crate: GraphCrate, phase: GrantPhase) => ctx.policies.length > 0 || Object.hasOwn(ctx.parsed.profile[phase] ?? {}, crate.name);
  for (const crate of crates) {
    // A proc macro without a build script has no build-script step, but its [build.*] table may pin its code.
    if (crate.isProcMacro && !crate.hasBuildScript && checked(crate, "build")) {
      const r = resolveGrant(ctx.parsed, ctx.builtins, crate, "build");
      if (r.kind === "pin-mismatch" && r.stale.some((s) => s.content["proc-macro"] !== undefined))
        problems.push(describePinMismatch(r) + staleDiff(crate, r.stale));
    }
    for (const phase of grantPhasesOf(crate, ctx.parsed)) {
      if (!checked(crate, phase)) continue;
      const r = resolveGrant(ctx.parsed, ctx.builtins, crate, phase);
      if (r.kind === "pin-mismatch") problems.push(describePinMismatch(r) + staleDiff(crate, r.stale));
      if (r.kind === "ambiguous") problems.push(describeAmbiguity(r));
      if (r.kind !== "granted") continue;
      try {
        toSandboxGrant(r.grant, paths);
      } catch (err) {
        problems.push((err as Error).message);
      }
      if (ctx.policies.length === 0) continue; // nothing to refuse it: no need to resolve it again
      const { outcome } = capGrant(ctx, crate, phase);
      if (outcome) problems.push(...describeRefusals({ name: crate.name, version: crate.version, phase }, outcome));
    }
  }
  if (strict) {
    const withScripts = crates.filter((c) => c.hasBuildScript);
    for (const v of strictViolations(ctx.parsed, withScripts, "build"))
      if (v.reason === "unlisted" || v.reason === "not-reviewed") problems.push(`strict: ${v.message}`);
  }
  return problems;
}

/** preflightProblems as the error that stops the run (exit 2), every problem at once. */
export function toPreflightError(file: string, problems: readonly string[]): CrateboxError {
  return new CrateboxError(
    "GRANTS_STOP",
    `the grants in ${file} do not fit this build:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    "nothing was built; see `cratebox profiles ls` and `cratebox profiles explain <crate>`",
  );
}

/** The phases in which a crate has sandboxed steps: its build script, and its binaries if it is a member. */
/**
 * The phases in which a crate's steps are granted by a table: its build script, its binaries if
 * it is a member, and its compilation when a `[rustc.<crate>]` table names it (every crate is
 * compiled; without such a table the defaults apply and there is nothing to show or check).
 */
export function grantPhasesOf(c: Pick<GraphCrate, "name" | "hasBuildScript" | "isWorkspaceMember">, parsed?: ParsedProfile): GrantPhase[] {
  return [
    ...(c.hasBuildScript ? (["build"] as const) : []),
    ...(c.isWorkspaceMember ? (["test"] as const) : []),
    ...(parsed?.profile.rustc?.[c.name] !== undefined ? (["rustc"] as const) : []),
  ];
}

/** One line of `cratebox profiles ls`: the table that grants a crate's step and what it grants. */
export function describeGrantStatus(ctx: GrantContext, crate: CrateIdentity, phase: GrantPhase): string {
  const r = resolveGrant(ctx.parsed, ctx.builtins, crate, phase);
  if (r.kind === "pin-mismatch") return `STALE PIN: ${describePinMismatch(r)}`;
  if (r.kind === "ambiguous") return `AMBIGUOUS: ${describeAmbiguity(r)}`;
  const g = r.grant;
  if (!g.entry) return "default: deny";
  const granted: string[] = [];
  for (const key of LIST_CAPABILITY_KEYS) {
    const row = listRow(key);
    const items = g[key] as Sourced<ItemOf<typeof key>>[];
    if (items.length === 0) continue;
    // `use` reads as a list of profiles; a write grant shouts (it can plant files).
    if (key === "use") granted.push(...items.map((i) => `use ${row.text(i.value)}`));
    else
      granted.push(
        `${key === "write" ? "WRITE" : key} ${items.map((i) => (key === "fetch" ? (i.value as ItemOf<"fetch">).url : row.text(i.value))).join(",")}`,
      );
  }
  if (g.network.value) granted.push("NETWORK");
  if (g.hosts.length) granted.push(`network ${g.hosts.map((h) => h.value).join(",")}`);
  if (g.cargo.value) granted.push("nested cargo");
  return `[${g.entry.table}] ${granted.length ? granted.join("; ") : g.reviewed ? "reviewed: default deny" : "limits only"}`;
}
