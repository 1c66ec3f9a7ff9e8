/**
 * Where cargo will put build-script outputs for this invocation, and the workspace members
 * (`cargo metadata --no-deps`). The same question asked twice in one process is answered once:
 * the CLI asks it the moment it starts (cli/early.ts), while the rest of cratebox loads, and
 * the build asks it again.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { type CrateGraph, type RawMetadata, toCrateGraph } from "../core/crate-graph.ts";
import { CrateboxError } from "../core/errors.ts";
import type { CargoInvocation } from "../core/cargo-args.ts";
import { realpathOrUndefined } from "./realpath.ts";
import { askedOnce } from "./asked-once.ts";
import { type ProgramResult, runProgram } from "./run-program.ts";

export interface BuildDirs {
  workspaceRoot: string;
  /** Real paths of target_directory and build_directory (the same unless build.build-dir is set). */
  buildRoots: string[];
  /**
   * The workspace members, from the same answer (no dependencies, no resolve: their features and
   * dependents are unknown). A test, bench or run binary is a member's: its step needs no more.
   */
  members: CrateGraph;
  /** The answer itself, and the build directories as it named them with their real paths (the run's ticket, runtime/ticket.ts). */
  answer: string;
  roots: { raw: string; real: string }[];
}

const buildDirsAsked = askedOnce<BuildDirs>();

/**
 * `asked`: the same question's answer, asked already by someone else (bin/cratebox, before Node
 * started; cli/early.ts); undefined from it means "ask again".
 */
export function readBuildDirs(
  cargo: string,
  inv: CargoInvocation,
  cwd: string,
  env: NodeJS.ProcessEnv,
  asked?: Promise<ProgramResult<string> | undefined>,
): Promise<BuildDirs> {
  return buildDirsAsked(env, [cargo, cwd, inv.toolchain, inv.globals, inv.manifestPath, inv.targetDir], async () =>
    toBuildDirs((await asked) ?? (await askCargo(cargo, inv, cwd, env))),
  );
}

function askCargo(cargo: string, inv: CargoInvocation, cwd: string, env: NodeJS.ProcessEnv): Promise<ProgramResult<string>> {
  const args = [
    ...(inv.toolchain ? [`+${inv.toolchain}`] : []),
    ...inv.globals,
    "metadata",
    "--format-version",
    "1",
    "--no-deps",
    "--offline",
    ...(inv.manifestPath ? ["--manifest-path", inv.manifestPath] : []),
  ];
  // --target-dir goes in as CARGO_TARGET_DIR, so cargo itself says where both the target and the
  // build directory (build.build-dir may put it elsewhere) are.
  const metaEnv = inv.targetDir ? { ...env, CARGO_TARGET_DIR: path.resolve(cwd, inv.targetDir) } : env;
  return runProgram(cargo, args, { cwd, env: metaEnv });
}

function toBuildDirs(res: ProgramResult<string>): BuildDirs {
  if (res.exitCode !== 0) {
    throw new CrateboxError(
      "CARGO_METADATA",
      `\`cargo metadata\` failed, so cratebox cannot tell where this build writes:\n${res.stderr.trim()}`,
      undefined,
      res.exitCode ?? 101,
    );
  }
  const meta = JSON.parse(res.stdout) as RawMetadata & { target_directory: string };
  const dirs = [meta.target_directory, meta.build_directory ?? meta.target_directory];
  const roots = [...new Set(dirs)].map((raw) => {
    mkdirSync(raw, { recursive: true });
    return { raw, real: realpathOrUndefined(raw) ?? raw };
  });
  return {
    workspaceRoot: meta.workspace_root,
    buildRoots: [...new Set(roots.map((r) => r.real))],
    members: toCrateGraph(meta, new Map(), realpathOrUndefined),
    answer: res.stdout,
    roots,
  };
}
