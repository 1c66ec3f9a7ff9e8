/**
 * The crates of the build graph as cargo resolved them (`cargo metadata` and Cargo.lock): the
 * identity grants are matched against. Never what a crate's own manifest claims at run time:
 * a step is tied to its package through its manifest directory.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { parse } from "smol-toml";
import type { CargoInvocation } from "../core/cargo-args.ts";
import { CrateboxError } from "../core/errors.ts";
import type { CrateIdentity } from "../core/profile/select.ts";
import { realpathOrUndefined } from "./host-facts.ts";

export interface GraphCrate extends CrateIdentity {
  id: string;
  /** Real path of the package directory. */
  manifestDir: string;
  hasBuildScript: boolean;
  isProcMacro: boolean;
  /** Features cargo enabled for it (the resolve of `cargo metadata`: all targets, all platforms). */
  features: string[];
  /** Has test, bench, example or bin targets a runner may execute (workspace members). */
  isWorkspaceMember: boolean;
  /** Names of the packages that depend on it directly. */
  dependents: string[];
  /**
   * What the crate's own manifest asks for (`[package.metadata.cratebox]`): shown to the
   * reviewer as a request, never applied; only the workspace root's cratebox.toml grants.
   */
  requests: unknown;
}

export interface CrateGraph {
  workspaceRoot: string;
  crates: GraphCrate[];
  /** Real package directory -> crate. */
  byDir: Map<string, GraphCrate>;
}

interface RawPackage {
  id: string;
  name: string;
  version: string;
  source: string | null;
  manifest_path: string;
  targets: { kind: string[] }[];
  metadata: { cratebox?: unknown } | null;
}

export function toSourceKind(source: string | null): CrateIdentity["source"] {
  if (source === null) return "path";
  if (source.startsWith("git+")) return "git";
  return "registry";
}

/** Cargo.lock checksums by `name version source`. */
function lockChecksums(workspaceRoot: string): Map<string, string> {
  const file = path.join(workspaceRoot, "Cargo.lock");
  const out = new Map<string, string>();
  if (!existsSync(file)) return out;
  const lock = parse(readFileSync(file, "utf8")) as { package?: { name: string; version: string; source?: string; checksum?: string }[] };
  // Only real checksums: a directory source may carry a placeholder (Debian's crate packages
  // write "Could not get crate checksum"), which pins nothing.
  for (const p of lock.package ?? []) if (p.checksum && /^[0-9a-f]{64}$/.test(p.checksum)) out.set(`${p.name} ${p.version} ${p.source ?? ""}`, p.checksum);
  return out;
}

const PASS_THROUGH = ["--offline", "--frozen", "--locked"];

export async function readCrateGraph(
  cargo: string,
  inv: CargoInvocation,
  cargoArgs: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<CrateGraph> {
  const args = [
    ...(inv.toolchain ? [`+${inv.toolchain}`] : []),
    ...inv.globals,
    "metadata",
    "--format-version",
    "1",
    ...(inv.manifestPath ? ["--manifest-path", inv.manifestPath] : []),
    ...PASS_THROUGH.filter((f) => cargoArgs.includes(f)),
  ];
  const res = await execa(cargo, args, { cwd, env, reject: false, extendEnv: false, stdin: "ignore" });
  if (res.exitCode !== 0) {
    throw new CrateboxError(
      "CARGO_METADATA",
      `\`cargo metadata\` failed, so cratebox cannot tell which crates are in the build:\n${res.stderr.trim()}`,
      undefined,
      res.exitCode ?? 101,
    );
  }
  const meta = JSON.parse(res.stdout) as {
    workspace_root: string;
    workspace_members: string[];
    packages: RawPackage[];
    resolve: { nodes: { id: string; deps: { pkg: string }[]; features?: string[] }[] } | null;
  };
  const checksums = lockChecksums(meta.workspace_root);
  const members = new Set(meta.workspace_members);
  const nameOf = new Map(meta.packages.map((p) => [p.id, p.name]));
  const dependents = new Map<string, string[]>();
  const features = new Map((meta.resolve?.nodes ?? []).map((n) => [n.id, n.features ?? []]));
  for (const node of meta.resolve?.nodes ?? []) {
    for (const d of node.deps) dependents.set(d.pkg, [...(dependents.get(d.pkg) ?? []), nameOf.get(node.id) ?? node.id]);
  }
  const crates = meta.packages.map((p): GraphCrate => {
    const dir = path.dirname(p.manifest_path);
    const checksum = checksums.get(`${p.name} ${p.version} ${p.source ?? ""}`);
    return {
      id: p.id,
      name: p.name,
      version: p.version,
      source: toSourceKind(p.source),
      ...(checksum ? { checksum } : {}),
      manifestDir: realpathOrUndefined(dir) ?? dir,
      hasBuildScript: p.targets.some((t) => t.kind.includes("custom-build")),
      isProcMacro: p.targets.some((t) => t.kind.includes("proc-macro")),
      features: [...(features.get(p.id) ?? [])].sort(),
      isWorkspaceMember: members.has(p.id),
      dependents: [...new Set(dependents.get(p.id) ?? [])].sort(),
      requests: p.metadata?.cratebox,
    };
  });
  return { workspaceRoot: meta.workspace_root, crates, byDir: new Map(crates.map((c) => [c.manifestDir, c])) };
}
