/**
 * The workspace under review: its root (where Cargo.lock is) and its members with the kind of
 * each dependency, from `cargo metadata --no-deps --offline`: no resolution, no registry, no
 * network, and no code of any dependency is read.
 */
import path from "node:path";
import { runProgram } from "../run-program.ts";
import { reviewError } from "../../core/review/errors.ts";
import type { ManifestDep } from "../../core/review/manifest.ts";
import { realpathOrUndefined } from "../realpath.ts";

export interface ReviewWorkspace {
  root: string;
  members: { name: string; version: string; deps: ManifestDep[] }[];
}

interface RawMember {
  name: string;
  version: string;
  dependencies: { name: string; kind: "dev" | "build" | null }[];
}

export async function readWorkspace(cargo: string, cwd: string, env: NodeJS.ProcessEnv): Promise<ReviewWorkspace> {
  const res = await runProgram(cargo, ["metadata", "--no-deps", "--offline", "--format-version", "1"], { cwd, env });
  if (res.exitCode !== 0) {
    throw reviewError(
      "REVIEW_WORKSPACE",
      `\`cargo metadata --no-deps\` failed, so cratebox cannot tell where the workspace is:\n${res.stderr.trim()}`,
      "run cratebox review inside a cargo workspace",
    );
  }
  const meta = JSON.parse(res.stdout) as { workspace_root: string; packages: RawMember[] };
  return {
    root: realpathOrUndefined(meta.workspace_root) ?? path.resolve(meta.workspace_root),
    members: meta.packages.map((p) => ({
      name: p.name,
      version: p.version,
      deps: p.dependencies.map((d) => ({ package: d.name, kind: d.kind ?? "normal" })),
    })),
  };
}
