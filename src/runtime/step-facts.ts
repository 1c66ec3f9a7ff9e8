/**
 * Stage 1 of a step: what the host says about a request before anything is decided: which crate
 * of the graph it belongs to, the toolchain it uses, the paths a binary cargo runs needs, where
 * its egress proxy would listen and where learn mode writes its trace.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import path from "node:path";
import type { GraphCrate } from "../core/crate-graph.ts";
import { isCompilerPhase, isRunnerPhase } from "../core/phase.ts";
import { parseCompilerArgs } from "../core/rustc-args.ts";
import type { CompilerFacts, NestedCargoFacts, StepRequest } from "../core/sandbox-spec.ts";
import type { StepFacts, StepPlan } from "../core/step-plan.ts";
import { parseTrace, type TraceDenials } from "../core/trace.ts";
import type { GrantBook } from "./grants.ts";
import { type RunHostFacts, type SysrootCache, toHostFacts } from "./host-facts.ts";
import { realpathOrUndefined } from "./realpath.ts";

export interface FactsSources {
  /** The environment cratebox was started with (a compiler call's variable with the same value is the user's). */
  userEnv: Readonly<Record<string, string | undefined>>;
  /** cargo config's `[env]` names: they pass into compiler calls. */
  configEnv: readonly string[];
  grants: GrantBook;
  host: RunHostFacts;
  sysroots: SysrootCache;
  /** The rustc of this run, for steps whose environment names none (runner phases). */
  rustc: string;
  /** The in-container relay of a proxied step. */
  relay: { node: string; script: string };
  /** A private directory of this run for the egress proxies' sockets. */
  egressDir: string;
  /** Learn mode: every step is traced into a directory below this one. */
  traceRoot: string | undefined;
  /** When a [test.*] table grants `cargo`: what a nested cargo gets (runtime/nested-cargo.ts), given the member's workspace root. */
  nestedCargo?: (workspaceRoot: string | undefined) => NestedCargoFacts;
}

export function factsGatherer(src: FactsSources): (request: StepRequest) => Promise<StepFacts> {
  let proxies = 0;
  return async (request) => {
    const crate = await src.grants.crateAt(request.env.CARGO_MANIFEST_DIR ?? request.cwd);
    const compiling = isCompilerPhase(request.phase);
    // A rustc call names its rustc; everything else (rustdoc too) uses the run's.
    const rustc = request.phase === "rustc" ? request.program : (request.env.RUSTC ?? src.rustc);
    const sysroot = src.sysroots.resolve(rustc, request.env);
    const host = toHostFacts(src.host, sysroot, request.phase, request.program);
    if (compiling) host.compiler = compilerFacts(request, crate, src, src.grants.workspaceRoot);
    const runner = isRunnerPhase(request.phase);
    if (runner && src.nestedCargo) host.nestedCargo = src.nestedCargo(crate?.isWorkspaceMember ? src.grants.workspaceRoot : undefined);
    return {
      crate,
      host,
      grantPaths: src.grants.pathFacts(),
      relay: src.relay,
      egressSocket: path.join(src.egressDir, `egress-${++proxies}.sock`),
      traceDir: src.traceRoot ? mkdtempSync(path.join(src.traceRoot, "step-")) : undefined,
    };
  };
}

/** Learn mode: what the step's trace shows it tried beyond its view (core/trace.ts). */
export function readDenials(traceDir: string, plan: StepPlan): TraceDenials {
  let text = "";
  try {
    text = readFileSync(path.join(traceDir, "trace"), "utf8");
  } catch {
    /* the program never started */
  }
  return parseTrace(
    text,
    (p) => existsSync(p),
    plan.spec.mounts.map((m) => m.target),
  );
}

/** What a rustc or rustdoc call reads and writes, and which of its variables are cargo's. */
function compilerFacts(request: StepRequest, crate: GraphCrate | undefined, src: FactsSources, workspaceRoot: string | undefined): CompilerFacts {
  const argfiles = request.args.filter((a) => a.startsWith("@")).map((a) => path.resolve(request.cwd, a.slice(1)));
  const expanded = request.args.flatMap((a) => (a.startsWith("@") ? readArgfile(path.resolve(request.cwd, a.slice(1))) : [a]));
  const invocation = parseCompilerArgs(expanded, request.phase === "rustdoc" ? "rustdoc" : "rustc", request.cwd);
  const manifestDir = realpathOrUndefined(request.env.CARGO_MANIFEST_DIR ?? request.cwd);
  const sourceRoots: string[] = [];
  // A workspace member may include files from anywhere in its workspace (README, shared
  // modules): the whole root, its target/ masked. A git dependency: its checkout.
  if (crate?.isWorkspaceMember && workspaceRoot) sourceRoots.push(realpathOrUndefined(workspaceRoot) ?? workspaceRoot);
  else if (crate?.source === "git" && manifestDir) sourceRoots.push(checkoutRoot(manifestDir));
  return { invocation, sourceRoots, argfiles, passEnv: [...src.configEnv, ...rustcEnvOf(request.env.OUT_DIR)], userEnv: src.userEnv };
}

/** An @argfile: one argument per line (cargo writes them for long command lines). */
function readArgfile(file: string): string[] {
  try {
    return readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l !== "");
  } catch {
    return [];
  }
}

/** The names the crate's build script set with `rustc-env`, from cargo's record of its output (next to OUT_DIR). */
function rustcEnvOf(outDir: string | undefined): string[] {
  if (!outDir) return [];
  let text = "";
  try {
    text = readFileSync(path.join(path.dirname(outDir), "output"), "utf8");
  } catch {
    return [];
  }
  return [...text.matchAll(/^cargo::?rustc-env=([^=\n]+)=/gm)].map((m) => m[1]!.trim());
}

/** The root of a git checkout (cargo marks it with .cargo-ok), else the package directory itself. */
function checkoutRoot(manifestDir: string): string {
  for (let dir = manifestDir, i = 0; i < 6 && dir !== path.dirname(dir); dir = path.dirname(dir), i++) {
    if (existsSync(path.join(dir, ".cargo-ok")) || existsSync(path.join(dir, ".git"))) return dir;
  }
  return manifestDir;
}
