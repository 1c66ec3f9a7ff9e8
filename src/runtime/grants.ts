/**
 * Grants at run time: reads cratebox.toml (only the workspace root's: a dependency cannot grant
 * itself anything) and the built-in profiles, resolves each step's grant against the crate graph,
 * checks granted paths on the real file system, and stops the run before cargo starts when a pin
 * no longer holds, a table is ambiguous, or strict mode finds an unreviewed build script.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { toNetworkAccess } from "../core/egress.ts";
import { CrateboxError, internalError } from "../core/errors.ts";
import type { Limits } from "../core/limits.ts";
import { isWithin } from "../core/paths.ts";
import { parseBuiltinProfiles, type BuiltinProfiles } from "../core/profile/builtins.ts";
import { formatProfileIssue, parseProfile, ProfileInvalidError, type ParsedProfile } from "../core/profile/parse.ts";
import { describeAmbiguity, describePinMismatch, resolveGrant, strictViolations, type EffectiveGrant, type Origin } from "../core/profile/resolve.ts";
import type { CrateIdentity } from "../core/profile/select.ts";
import { applyPolicies, describeRefusals, type PolicyOutcome } from "../core/policy/apply.ts";
import type { PolicyDecisions, PolicyInput } from "../core/policy/schema.ts";
import { toGrantView } from "../core/policy/view.ts";
import { toGrantSummary, type GrantSummary } from "../core/grant-summary.ts";
import { toGrantPhase, type GrantPhase, type Phase } from "../core/phase.ts";
import type { SandboxGrant } from "../core/sandbox-spec.ts";
import type { CrateGraph, GraphCrate } from "../core/crate-graph.ts";
import { realpathOrUndefined } from "./host-facts.ts";
import { PACKAGE_ROOT } from "./image.ts";

export const PROFILE_FILE = "cratebox.toml";
export const BUILTINS_DIR = path.join(PACKAGE_ROOT, "profiles");

/** The empty profile: what a workspace without cratebox.toml gets (everything default-deny). */
const EMPTY = parseProfile("version = 1\n", "(no cratebox.toml)");

export interface LoadedProfile {
  parsed: ParsedProfile;
  /** False when the workspace has no cratebox.toml. */
  exists: boolean;
  warnings: string[];
}

/** Reads and validates <workspace root>/cratebox.toml; every problem at once, exit 2. */
export function loadProfile(workspaceRoot: string): LoadedProfile {
  const file = path.join(workspaceRoot, PROFILE_FILE);
  if (!existsSync(file)) {
    if (!EMPTY.ok) throw internalError("the empty profile does not parse");
    return { parsed: EMPTY.value, exists: false, warnings: [] };
  }
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

/**
 * A crate the graph does not know (it should not happen): it is matched by no table, so it runs
 * with the defaults only. Its name is one no table can have.
 */
const UNKNOWN_CRATE: CrateIdentity = { name: "", version: "0.0.0", source: "path" };

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

export class GrantBook {
  readonly profile: LoadedProfile;
  readonly builtins: BuiltinProfiles;
  graph: CrateGraph | undefined;
  /**
   * Reads the crate graph when a run started without it (no cratebox.toml): the first step to
   * run then learns its crate's real identity (its source kind goes into every suggested grant),
   * while a no-op build never pays for `cargo metadata`.
   */
  private graphLoader: (() => Promise<CrateGraph>) | undefined;
  private graphLoading: Promise<void> | undefined;

  loadGraphLazily(loader: () => Promise<CrateGraph>): void {
    this.graphLoader = loader;
  }

  /** The decision for a step, once the crate graph is known. */
  async decideWhenKnown(manifestDir: string, phase: Phase): Promise<StepDecision> {
    if (!this.graph && this.graphLoader) {
      this.graphLoading ??= this.graphLoader().then(
        (g) => {
          this.graph = g;
        },
        () => {}, // without the graph a step is matched by no table: the defaults, as before
      );
      await this.graphLoading;
    }
    return this.decide(manifestDir, phase);
  }
  readonly overrides: Partial<Limits>;
  /** Cargo's build directories: never writable by a grant (the shims and real binaries live there). */
  readonly buildRoots: readonly string[];
  /** Decisions of the organisation's policies, evaluated once per run (runtime/policy.ts). */
  policies: PolicyDecisions[] = [];

  constructor(
    profile: LoadedProfile,
    builtins: BuiltinProfiles,
    graph: CrateGraph | undefined,
    overrides: Partial<Limits>,
    buildRoots: readonly string[] = [],
  ) {
    this.profile = profile;
    this.builtins = builtins;
    this.graph = graph;
    this.overrides = overrides;
    this.buildRoots = buildRoots;
  }

  /**
   * The grant after the policies' ceilings: lists keep only what a ceiling allows, network goes
   * off if a policy says so, limits take the lowest value. Policies only ever take away.
   */
  capped(crate: CrateIdentity, phase: GrantPhase): { effective: EffectiveGrant; outcome: PolicyOutcome | undefined } {
    const effective = this.resolve(crate, phase);
    if (this.policies.length === 0) return { effective, outcome: undefined };
    const outcome = applyPolicies({ name: crate.name, version: crate.version, phase, grant: toGrantView(effective, this.profile.parsed) }, this.policies);
    const c = outcome.grant;
    const policyOrigin = (capability: string): Origin | undefined => {
      const by = outcome.shapedBy.find((x) => x.capability === capability);
      return by ? { kind: "entry", file: by.file, table: `policy rule ${by.rule}`, line: undefined } : undefined;
    };
    const limitOrigins = { ...effective.limitOrigins };
    for (const key of Object.keys(limitOrigins) as (keyof Limits)[]) limitOrigins[key] = policyOrigin(key) ?? limitOrigins[key];
    return {
      outcome,
      effective: {
        ...effective,
        env: effective.env.filter((e) => c.env.includes(e.value.text)),
        read: effective.read.filter((r) => c.read.includes(r.value)),
        write: effective.write.filter((w) => c.write.includes(w.value)),
        network: c.network === effective.network.value ? effective.network : { value: c.network, origin: policyOrigin("network") ?? effective.network.origin },
        hosts: effective.hosts.filter((h) => c.hosts.includes(h.value)),
        fetch: effective.fetch.filter((f) => c.fetch.some((k) => k.url === f.value.url)),
        limits: { ...c.limits, cpus: c.limits.cpus ?? undefined },
        limitOrigins,
      },
    };
  }

  /** What the policies see: every crate of the graph with the grants cratebox.toml gives it. */
  toPolicyInput(command: string[], ci: boolean): PolicyInput {
    const view = (c: GraphCrate, phase: GrantPhase) => toGrantView(this.resolve(c, phase), this.profile.parsed);
    return {
      run: { command, ci },
      crates: (this.graph?.crates ?? []).map((c) => ({
        name: c.name,
        version: c.version,
        source: c.source,
        checksum: c.checksum ? `sha256:${c.checksum.replace(/^sha256:/, "")}` : null,
        hasBuildScript: c.hasBuildScript,
        isProcMacro: c.isProcMacro,
        features: c.features,
        dependents: c.dependents,
        workspaceMember: c.isWorkspaceMember,
        requested: { build: c.hasBuildScript ? view(c, "build") : null, test: c.isWorkspaceMember ? view(c, "test") : null },
      })),
    };
  }

  crateAt(manifestDir: string): GraphCrate | undefined {
    return this.graph?.byDir.get(realpathOrUndefined(manifestDir) ?? manifestDir);
  }

  resolve(crate: CrateIdentity, phase: GrantPhase): EffectiveGrant {
    const r = resolveGrant(this.profile.parsed, this.builtins, crate, phase, { overrides: this.overrides });
    // Checked before cargo starts (preflight); a step that still meets one runs with no grant.
    return r.kind === "granted" ? r.grant : r.withoutEntry;
  }

  /** The decision for one sandboxed step. */
  decide(manifestDir: string, phase: Phase): StepDecision {
    const crate = this.crateAt(manifestDir) ?? UNKNOWN_CRATE;
    const { effective, outcome } = this.capped(crate, toGrantPhase(phase));
    const summary = toGrantSummary(effective);
    for (const s of outcome?.shapedBy ?? []) summary.items.push({ key: `policy:${s.capability}`, value: s.detail, from: `policy rule ${s.rule} (${s.file})` });
    return {
      limits: effective.limits,
      grant: this.toSandboxGrant(effective),
      image: effective.image?.value,
      summary,
      directives: effective.directives.map((d) => d.value),
      crate,
    };
  }

  /** Granted paths on the real file system: they must exist, and relative ones stay in the workspace. */
  toSandboxGrant(g: EffectiveGrant): SandboxGrant {
    const root = this.graph?.workspaceRoot ?? path.dirname(this.profile.parsed.file);
    const realRoot = realpathOrUndefined(root) ?? root;
    const check = (p: string, key: "read" | "write", where: string): string => {
      const abs = path.resolve(root, p);
      const real = realpathOrUndefined(abs);
      if (real === undefined)
        throw new CrateboxError("GRANT_PATH", `${where}: ${key} path ${p} does not exist (${abs})`, "create it, or remove it from the grant");
      if (!path.isAbsolute(p) && !isWithin(real, realRoot)) {
        throw new CrateboxError(
          "GRANT_PATH",
          `${where}: ${key} path ${p} leads out of the workspace through a symbolic link (to ${real})`,
          "write the path absolute if that is really meant",
        );
      }
      const home = realpathOrUndefined(homedir());
      if (home && isWithin(home, real))
        throw new CrateboxError(
          "GRANT_PATH",
          `${where}: ${key} path ${p} would expose your whole home directory (${real})`,
          "grant the one directory the crate needs",
        );
      if (key === "write") {
        // The schema refuses these as written; the real path must not reach them either
        // (an absolute path, or a symlink inside the workspace).
        const protectedPlaces = [
          realRoot,
          path.join(realRoot, ".git"),
          path.join(realRoot, PROFILE_FILE),
          path.join(realRoot, "Cargo.toml"),
          path.join(realRoot, "Cargo.lock"),
        ];
        if (
          protectedPlaces.some((p2) => real === p2 || (p2.endsWith(".git") && isWithin(real, p2))) ||
          isWithin(realRoot, real) ||
          /\/(Cargo\.toml|Cargo\.lock)$/.test(real)
        ) {
          throw new CrateboxError(
            "GRANT_PATH",
            `${where}: write path ${p} is (or leads to) the workspace itself, its .git, or a manifest (${real})`,
            "grant a directory for generated files only",
          );
        }
      }
      if (key === "write" && this.buildRoots.some((root) => isWithin(real, root) || isWithin(root, real))) {
        throw new CrateboxError(
          "GRANT_PATH",
          `${where}: write path ${p} overlaps cargo's build directory (${real}), where build scripts and their sandbox shims live`,
          "let the build script write to its OUT_DIR, or grant a directory outside target/",
        );
      }
      return real;
    };
    const label = (o: EffectiveGrant["read"][number]) => (o.origin.kind === "entry" ? `${o.origin.file}${o.origin.line ? `:${o.origin.line}` : ""}` : "grant");
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
    };
  }

  /**
   * Before cargo starts: every stale pin and ambiguous table, and in strict mode every build
   * script nobody reviewed, stops the run with all the reasons at once.
   */
  preflight(strict: boolean): void {
    if (!this.graph) return;
    const problems: string[] = [];
    for (const crate of this.graph.crates) {
      const phases: GrantPhase[] = [...(crate.hasBuildScript ? (["build"] as const) : []), ...(crate.isWorkspaceMember ? (["test"] as const) : [])];
      for (const phase of phases) {
        const r = resolveGrant(this.profile.parsed, this.builtins, crate, phase);
        if (r.kind === "pin-mismatch")
          problems.push(
            describePinMismatch(r) +
              diffForMessage(
                crate,
                r.stale.map((s) => s.version),
              ),
          );
        if (r.kind === "ambiguous") problems.push(describeAmbiguity(r));
        if (r.kind === "granted") {
          try {
            this.toSandboxGrant(r.grant);
          } catch (err) {
            problems.push((err as Error).message);
          }
          const { outcome } = this.capped(crate, phase);
          if (outcome) problems.push(...describeRefusals({ name: crate.name, version: crate.version, phase }, outcome));
        }
      }
    }
    if (strict) {
      const withScripts = this.graph.crates.filter((c) => c.hasBuildScript);
      for (const v of strictViolations(this.profile.parsed, withScripts, "build"))
        if (v.reason === "unlisted" || v.reason === "not-reviewed") problems.push(`strict: ${v.message}`);
    }
    if (problems.length > 0) {
      throw new CrateboxError(
        "GRANTS_STOP",
        `the grants in ${this.profile.parsed.file} do not fit this build:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
        "nothing was built; see `cratebox profiles ls` and `cratebox profiles explain <crate>`",
      );
    }
  }
}

/**
 * When the reviewed version's sources are still on disk next to the resolved one (a registry or
 * vendor directory holds both), the diff of its build script and of the files the build script
 * include!s, so the reviewer sees what changed. Undefined when the old sources are gone.
 */
export function buildScriptDiff(crate: GraphCrate, reviewedVersion: string | undefined): string | undefined {
  if (!reviewedVersion) return undefined;
  const version = reviewedVersion.replace(/^[=^~]\s*/, "");
  const old = path.join(path.dirname(crate.manifestDir), `${crate.name}-${version}`);
  if (old === crate.manifestDir || !existsSync(path.join(old, "Cargo.toml"))) return undefined;
  const files = ["build.rs", ...includedFiles(path.join(crate.manifestDir, "build.rs"))];
  const parts = files.map((f) => {
    const res = spawnSync(
      "diff",
      [
        "-u",
        "-N",
        "--label",
        `${crate.name}-${version}/${f}`,
        "--label",
        `${crate.name}-${crate.version}/${f}`,
        path.join(old, f),
        path.join(crate.manifestDir, f),
      ],
      { encoding: "utf8" },
    );
    return res.status === 0 ? `${f}: unchanged` : res.stdout;
  });
  return parts.join("\n").trimEnd();
}

/** Paths a build script pulls in with include!/include_str!/include_bytes! (literal, inside the crate). */
function includedFiles(buildRs: string): string[] {
  if (!existsSync(buildRs)) return [];
  const text = readFileSync(buildRs, "utf8");
  return [...new Set([...text.matchAll(/include(?:_str|_bytes)?!\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1]!))].filter(
    (p) => !p.includes("..") && !path.isAbsolute(p),
  );
}

/** The diff appended to a stale-pin message, shortened to what fits a terminal. */
function diffForMessage(crate: GraphCrate, reviewed: (string | undefined)[]): string {
  for (const version of reviewed) {
    const diff = buildScriptDiff(crate, version);
    if (diff === undefined) continue;
    const lines = diff.split("\n");
    const shown = lines
      .slice(0, 60)
      .map((l) => `      ${l}`)
      .join("\n");
    const more = lines.length > 60 ? `\n      ... ${lines.length - 60} more lines: \`cratebox profiles diff ${crate.name}\`` : "";
    return `\n    what changed in the build script since the review:\n${shown}${more}`;
  }
  return "";
}

/**
 * Every policy that applies, in a fixed order: --policy, then CRATEBOX_POLICY (`:`-separated;
 * how an organisation makes CI use its policy whatever the repository's file says), then the
 * repository's own `policy = [...]`. They compose: the strictest wins, so order decides nothing.
 */
export function policySources(flags: string[], env: NodeJS.ProcessEnv, fromProfile: string[], workspaceRoot: string, cwd: string): string[] {
  const files = [
    ...flags.map((f) => path.resolve(cwd, f)),
    ...(env.CRATEBOX_POLICY ?? "")
      .split(":")
      .filter(Boolean)
      .map((f) => path.resolve(cwd, f)),
    ...fromProfile.map((f) => path.resolve(workspaceRoot, f)),
  ];
  return [...new Set(files)];
}
