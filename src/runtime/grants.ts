/**
 * Grants at run time: reads cratebox.toml (only the workspace root's: a dependency cannot grant
 * itself anything) and the built-in profiles, resolves each step's grant against the crate graph,
 * checks granted paths on the real file system, and stops the run before cargo starts when a pin
 * no longer holds, a table is ambiguous, or strict mode finds an unreviewed build script.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import type { CrateGraph, GraphCrate } from "../core/crate-graph.ts";
import { type GrantContext, type GrantPathFacts, PROFILE_FILE, preflightProblems, toPolicyInput, toPreflightError } from "../core/grant-decision.ts";
import type { Limits } from "../core/limits.ts";
import type { PolicyDecisions, PolicyInput } from "../core/policy/schema.ts";
import { evaluateAudits, NOT_AUDITED } from "../core/audits/evaluate.ts";
import { internalError } from "../core/errors.ts";
import type { AuditBook } from "../core/audits/parse.ts";
import { type AuditView, toAuditView } from "../core/audits/view.ts";
import type { BuiltinProfiles } from "../core/profile/builtins.ts";
import { emptyProfile } from "../core/profile/empty.ts";
import type { ParsedProfile } from "../core/profile/parse.ts";
import type { CrateIdentity } from "../core/profile/select.ts";
import { contentPinsOf } from "../core/pins/check.ts";
import { CONTENT_KIND_TEXT, CONTENT_KINDS, type ContentKind } from "../core/pins/content.ts";
import { realpathOrUndefined } from "./realpath.ts";
import type { ContentPins } from "./pins/book.ts";
import { type StartCaches, userCacheDir } from "./cache-files.ts";
import { profileCache, readBuiltinSources } from "./profile-cache.ts";
import { noteInput, noteRealpath, noteUnsettled } from "./start-inputs.ts";

/** A real path, noted as part of what the start decided from (start-inputs.ts). */
function realpathNoted(p: string): string | undefined {
  const real = realpathOrUndefined(p);
  noteRealpath(p, real);
  return real;
}

/** Where a run's grants come from: the workspace's cratebox.toml (if any) and the built-in profiles. */
export interface GrantSources {
  profile: LoadedProfile;
  builtins: BuiltinProfiles;
}

export interface LoadedProfile {
  parsed: ParsedProfile;
  /** False when the workspace has no cratebox.toml. */
  exists: boolean;
  warnings: string[];
}

/**
 * The workspace's cratebox.toml and the built-in profiles it can `use`. Without the file, every
 * step gets the defaults: nothing is parsed and the schema is not even loaded (a build without a
 * profile starts sooner, issue 13); the built-ins are only ever reached through a table's `use`.
 * With `caches` (the run's, cache-files.ts), the validation of the very same texts by the very
 * same build of cratebox is taken from the last run's (profile-cache.ts), without loading zod.
 */
export async function loadGrantSources(workspaceRoot: string, caches?: StartCaches): Promise<GrantSources> {
  const file = path.join(workspaceRoot, PROFILE_FILE);
  noteInput(file);
  if (!existsSync(file)) return { profile: { parsed: emptyProfile(file), exists: false, warnings: [] }, builtins: new Map() };
  const text = readFileSync(file, "utf8");
  const builtinSources = readBuiltinSources();
  const cache = caches && profileCache(caches, file, text, builtinSources);
  if (cache?.cached) return cache.cached;
  const { profileFromText, loadBuiltins } = await import("./profile-files.ts");
  const sources = { profile: profileFromText(file, text), builtins: loadBuiltins(builtinSources) };
  cache?.store(sources);
  return sources;
}

/**
 * The grants of one run: the context every step's decision is made from (core/grant-decision.ts),
 * the crate graph steps are matched against, and the host facts granted paths are checked with.
 */
export class GrantBook {
  readonly profile: LoadedProfile;
  readonly context: GrantContext;
  graph: CrateGraph | undefined;
  private readonly buildRoots: readonly string[];
  /**
   * Reads the crate graph when a run started without it (no cratebox.toml): the first step to
   * run then learns its crate's real identity (its source kind goes into every suggested grant),
   * while a no-op build never pays for `cargo metadata`.
   */
  private graphLoader: (() => Promise<CrateGraph>) | undefined;
  private graphLoading: Promise<void> | undefined;
  /**
   * Until then, the workspace members from the `cargo metadata --no-deps` the run asked anyway:
   * a test binary's step finds its crate there, and a `cargo test` whose code is all fresh never
   * reads the whole graph (its `cargo metadata` would wait for cargo's lock, or cargo for its).
   */
  private members: CrateGraph | undefined;

  private readonly env: NodeJS.ProcessEnv;
  private contentPins: ContentPins | undefined;
  private auditBook: AuditBook | undefined;

  constructor(
    profile: LoadedProfile,
    builtins: BuiltinProfiles,
    graph: CrateGraph | undefined,
    overrides: Partial<Limits>,
    buildRoots: readonly string[] = [],
    env: NodeJS.ProcessEnv = {},
  ) {
    this.profile = profile;
    this.context = { parsed: profile.parsed, builtins, overrides, policies: [] };
    this.graph = graph;
    this.buildRoots = buildRoots;
    this.env = env;
  }

  /** The workspace root as cargo said it (the graph, else the members), else cratebox.toml's directory. */
  get workspaceRoot(): string {
    return this.graph?.workspaceRoot ?? this.members?.workspaceRoot ?? path.dirname(this.profile.parsed.file);
  }

  /** The content pins of this workspace (issue 15): records, observations, the checks. Read by loadPins. */
  get pins(): ContentPins {
    if (!this.contentPins) throw internalError("GrantBook.pins before loadPins");
    return this.contentPins;
  }

  /** Loads the content pins' code (its record file's schema is zod: only when a pin could be checked). */
  private async loadPins(): Promise<ContentPins> {
    if (!this.contentPins) {
      const { ContentPins } = await import("./pins/book.ts");
      this.contentPins ??= new ContentPins({
        parsed: this.profile.parsed,
        workspaceRoot: this.workspaceRoot,
        // The run's own (they follow --target-dir), else where `cargo metadata` says cargo builds.
        buildDirs: this.buildRoots.length ? this.buildRoots : (this.graph?.buildDirs ?? [path.join(this.workspaceRoot, "target")]),
        env: this.env,
      });
    }
    return this.contentPins;
  }

  /**
   * Reads the cargo-vet audits `[review] audits` names (evidence only), once, before auditsOf.
   * Only then: reading them loads the schema a build without policies never needs.
   */
  async readAudits(): Promise<void> {
    const files = this.profile.parsed.profile.review?.audits;
    if (this.auditBook || !files?.length) return;
    const { loadAudits } = await import("./audits.ts");
    this.auditBook = loadAudits(this.workspaceRoot, files);
  }

  /** What the audits say of one crate as cargo resolved it (readAudits first when the profile names audit files). */
  auditsOf(crate: CrateIdentity): AuditView {
    if (!this.auditBook) {
      if (this.profile.parsed.profile.review?.audits?.length) throw internalError("GrantBook.auditsOf before readAudits");
      return toAuditView(NOT_AUDITED);
    }
    return toAuditView(evaluateAudits(this.auditBook, crate.name, crate.version));
  }

  /**
   * Observes the code of every content-pinned crate of the graph (dep-info or the pin's record),
   * so that selection, preflight, `profiles ls` and `explain` check it. Returns warnings.
   */
  async observeContent(): Promise<string[]> {
    // What was observed depends on the build directory's files: a start that did has no ticket.
    noteUnsettled();
    return this.graph ? (await this.loadPins()).observe(this.graph.crates) : [];
  }

  /** Whether a table content-pins a crate of the graph. */
  private pinsContent(): boolean {
    const parsed = this.profile.parsed;
    return this.graph?.crates.some((c) => CONTENT_KINDS.some((k) => contentPinsOf(parsed, c, k).length > 0)) ?? false;
  }

  /**
   * The check before a compiled build script runs (issue 15), on the step the shim asks for:
   * the dep-info next to the binary against the crate's `build-script` pin. Throws GRANTS_STOP.
   */
  async checkBuildScriptStep(program: string, manifestDir: string): Promise<void> {
    if (!this.profile.exists) return; // no cratebox.toml, no pins
    const crate = await this.crateAt(manifestDir);
    if (crate) await (await this.loadPins()).checkBuildScript(crate, program);
  }

  /**
   * The check right after rustc compiled a build script or proc macro (compile-outputs.ts): its
   * dep-info against the crate's content pin. Undefined when it holds or nothing pins it; the
   * reason (with the diff against the reviewed code when cratebox has it) otherwise.
   */
  async checkCompiledCode(kind: ContentKind, depInfo: string | undefined, manifestDir: string): Promise<string | undefined> {
    if (!this.profile.exists) return undefined;
    const crate = await this.crateAt(manifestDir);
    if (!crate || contentPinsOf(this.profile.parsed, crate, kind).length === 0) return undefined;
    if (!depInfo) return `${crate.name}'s ${CONTENT_KIND_TEXT[kind]} is content-pinned, and rustc wrote no dep-info to check it with: refused`;
    try {
      const r = await (await this.loadPins()).check(crate, kind, depInfo);
      return r.ok ? undefined : r.message;
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** Decisions of the organisation's policies, evaluated once per run (runtime/policy.ts). */
  setPolicies(policies: readonly PolicyDecisions[]): void {
    this.context.policies = policies;
  }

  loadGraphLazily(loader: () => Promise<CrateGraph>, members?: CrateGraph): void {
    this.graphLoader = loader;
    this.members = members;
  }

  /** The crate a step belongs to, by its manifest directory; the graph is read first when it was deferred. */
  async crateAt(manifestDir: string): Promise<GraphCrate | undefined> {
    const dir = realpathOrUndefined(manifestDir) ?? manifestDir;
    const member = this.graph ? undefined : this.members?.byDir.get(dir);
    if (member) return member;
    if (!this.graph && this.graphLoader) {
      this.graphLoading ??= this.graphLoader().then(
        (g) => {
          this.graph = g;
        },
        () => {}, // without the graph a step is matched by no table: the defaults, as before
      );
      await this.graphLoading;
    }
    return this.graph?.byDir.get(dir);
  }

  /** The host facts granted paths are checked against. */
  pathFacts(): GrantPathFacts {
    // The home and cratebox's state resolve once per run: every step asks for these facts.
    this.fixedPaths ??= (() => {
      const home = realpathNoted(homedir());
      const state = userCacheDir(this.env);
      return { ...(home ? { home } : { home: undefined }), crateboxState: realpathNoted(state) ?? state };
    })();
    return { workspaceRoot: this.workspaceRoot, buildRoots: this.buildRoots, realpath: realpathNoted, ...this.fixedPaths };
  }
  private fixedPaths: Pick<GrantPathFacts, "home" | "crateboxState"> | undefined;

  toPolicyInput(command: string[], ci: boolean): PolicyInput {
    return toPolicyInput(this.context, this.graph?.crates ?? [], command, ci, (c) => this.auditsOf(c));
  }

  /**
   * Before cargo starts: every stale pin (version, checksum, and content pins whose code could be
   * observed) and ambiguous table, and in strict mode every build script nobody reviewed, stops
   * the run with all the reasons at once. Returns warnings (unusable pin records).
   */
  async preflight(strict: boolean): Promise<string[]> {
    if (!this.graph) return [];
    // Nothing content-pinned: the pins' code and record file are not even read (issue 13).
    const warnings = this.pinsContent() ? await this.observeContent() : [];
    const problems = preflightProblems(
      this.context,
      this.graph.crates,
      strict,
      this.pathFacts(),
      (crate, stale) =>
        diffForMessage(
          crate,
          stale.filter((s) => s.failed.includes("version")).map((s) => s.version),
        ) + (this.contentPins?.describeStale(crate, stale) ?? ""),
    );
    if (problems.length > 0) throw toPreflightError(this.profile.parsed.file, problems);
    return warnings;
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
