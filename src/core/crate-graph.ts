/**
 * The crates of the build graph as cargo resolved them (`cargo metadata` and Cargo.lock): the
 * identity grants are matched against. Never what a crate's own manifest claims at run time:
 * a step is tied to its package through its manifest directory. Pure: the runtime
 * (runtime/crate-graph.ts) runs cargo and reads Cargo.lock, this turns their output into the graph.
 */
import path from "node:path";
import type { CrateIdentity } from "./profile/select.ts";

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

/** The part of `cargo metadata --format-version 1` the graph is made of. */
export interface RawMetadata {
  workspace_root: string;
  workspace_members: string[];
  packages: {
    id: string;
    name: string;
    version: string;
    source: string | null;
    manifest_path: string;
    targets: { kind: string[] }[];
    metadata: { cratebox?: unknown } | null;
  }[];
  resolve: { nodes: { id: string; deps: { pkg: string }[]; features?: string[] }[] } | null;
}

function toSourceKind(source: string | null): CrateIdentity["source"] {
  if (source === null) return "path";
  if (source.startsWith("git+")) return "git";
  return "registry";
}

/** The key Cargo.lock checksums are looked up by. */
export function lockKey(name: string, version: string, source: string | null | undefined): string {
  return `${name} ${version} ${source ?? ""}`;
}

/**
 * The graph from cargo's metadata and Cargo.lock's checksums (by lockKey; only real ones: a
 * directory source may carry a placeholder, which pins nothing). `realpath` resolves package
 * directories (steps find their crate by real path).
 */
export function toCrateGraph(meta: RawMetadata, checksums: ReadonlyMap<string, string>, realpath: (p: string) => string | undefined): CrateGraph {
  const members = new Set(meta.workspace_members);
  const nameOf = new Map(meta.packages.map((p) => [p.id, p.name]));
  const dependents = new Map<string, string[]>();
  const features = new Map((meta.resolve?.nodes ?? []).map((n) => [n.id, n.features ?? []]));
  for (const node of meta.resolve?.nodes ?? []) {
    for (const d of node.deps) dependents.set(d.pkg, [...(dependents.get(d.pkg) ?? []), nameOf.get(node.id) ?? node.id]);
  }
  const crates = meta.packages.map((p): GraphCrate => {
    const dir = path.dirname(p.manifest_path);
    const checksum = checksums.get(lockKey(p.name, p.version, p.source));
    return {
      id: p.id,
      name: p.name,
      version: p.version,
      source: toSourceKind(p.source),
      ...(checksum ? { checksum } : {}),
      manifestDir: realpath(dir) ?? dir,
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
