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
import type { BuiltinProfiles } from "../core/profile/builtins.ts";
import { emptyProfile } from "../core/profile/empty.ts";
import type { ParsedProfile } from "../core/profile/parse.ts";
import { realpathOrUndefined } from "./host-facts.ts";

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
 */
export async function loadGrantSources(workspaceRoot: string): Promise<GrantSources> {
  const file = path.join(workspaceRoot, PROFILE_FILE);
  if (!existsSync(file)) return { profile: { parsed: emptyProfile(file), exists: false, warnings: [] }, builtins: new Map() };
  const { loadProfile, loadBuiltins } = await import("./profile-files.ts");
  return { profile: loadProfile(workspaceRoot), builtins: loadBuiltins() };
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

  constructor(
    profile: LoadedProfile,
    builtins: BuiltinProfiles,
    graph: CrateGraph | undefined,
    overrides: Partial<Limits>,
    buildRoots: readonly string[] = [],
  ) {
    this.profile = profile;
    this.context = { parsed: profile.parsed, builtins, overrides, policies: [] };
    this.graph = graph;
    this.buildRoots = buildRoots;
  }

  /** Decisions of the organisation's policies, evaluated once per run (runtime/policy.ts). */
  setPolicies(policies: readonly PolicyDecisions[]): void {
    this.context.policies = policies;
  }

  loadGraphLazily(loader: () => Promise<CrateGraph>): void {
    this.graphLoader = loader;
  }

  /** The crate a step belongs to, by its manifest directory; the graph is read first when it was deferred. */
  async crateAt(manifestDir: string): Promise<GraphCrate | undefined> {
    if (!this.graph && this.graphLoader) {
      this.graphLoading ??= this.graphLoader().then(
        (g) => {
          this.graph = g;
        },
        () => {}, // without the graph a step is matched by no table: the defaults, as before
      );
      await this.graphLoading;
    }
    return this.graph?.byDir.get(realpathOrUndefined(manifestDir) ?? manifestDir);
  }

  /** The host facts granted paths are checked against. */
  pathFacts(): GrantPathFacts {
    const home = realpathOrUndefined(homedir());
    return {
      workspaceRoot: this.graph?.workspaceRoot ?? path.dirname(this.profile.parsed.file),
      ...(home ? { home } : { home: undefined }),
      buildRoots: this.buildRoots,
      realpath: realpathOrUndefined,
    };
  }

  toPolicyInput(command: string[], ci: boolean): PolicyInput {
    return toPolicyInput(this.context, this.graph?.crates ?? [], command, ci);
  }

  /**
   * Before cargo starts: every stale pin and ambiguous table, and in strict mode every build
   * script nobody reviewed, stops the run with all the reasons at once.
   */
  preflight(strict: boolean): void {
    if (!this.graph) return;
    const problems = preflightProblems(this.context, this.graph.crates, strict, this.pathFacts(), diffForMessage);
    if (problems.length > 0) throw toPreflightError(this.profile.parsed.file, problems);
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
