/**
 * The crates of the build graph as cargo resolved them (`cargo metadata` and Cargo.lock): the
 * identity grants are matched against. Never what a crate's own manifest claims at run time:
 * a step is tied to its package through its manifest directory. Pure: the runtime
 * (runtime/crate-graph.ts) runs cargo and reads Cargo.lock, this turns their output into the graph.
 */
import path from "node:path";
import type { ContentKind, DepIdentity } from "./pins/content.ts";
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
  /**
   * The packages linked into its build script and into its proc macro (issue 15: part of what a
   * content pin covers): the build dependencies and, for the proc macro, its normal dependencies,
   * each with everything they depend on in turn. Every platform's dependencies are listed (cargo
   * metadata resolves for all), so the set is the same on every machine.
   */
  linked?: Readonly<Record<ContentKind, readonly DepIdentity[]>>;
  /** cargo's source string (`registry+https://...`, `git+https://...#<commit>`); null for a path package. */
  sourceId?: string | null;
  /** The crate name of its library target (`my_macros`), where rustc's output files are named after it. */
  libName?: string;
}

export interface CrateGraph {
  workspaceRoot: string;
  /** cargo's target and build directories (where dep-info files are), as `cargo metadata` says. */
  buildDirs?: string[];
  crates: GraphCrate[];
  /** Real package directory -> crate. */
  byDir: Map<string, GraphCrate>;
}

/** The part of `cargo metadata --format-version 1` the graph is made of. */
export interface RawMetadata {
  workspace_root: string;
  target_directory?: string;
  build_directory?: string;
  workspace_members: string[];
  packages: {
    id: string;
    name: string;
    version: string;
    source: string | null;
    manifest_path: string;
    targets: { kind: string[]; name?: string }[];
    metadata: { cratebox?: unknown } | null;
  }[];
  resolve: { nodes: { id: string; deps: { pkg: string; dep_kinds?: { kind: string | null }[] }[]; features?: string[] }[] } | null;
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
  const linked = linkedDeps(meta, checksums);
  const crates = meta.packages.map((p): GraphCrate => {
    const dir = path.dirname(p.manifest_path);
    const checksum = checksums.get(lockKey(p.name, p.version, p.source));
    const lib = p.targets.find((t) => t.kind.some((k) => k === "lib" || k === "proc-macro" || k.endsWith("lib")));
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
      sourceId: p.source,
      linked: linked(p.id),
      ...(lib?.name ? { libName: lib.name.replaceAll("-", "_") } : {}),
    };
  });
  const buildDirs = [meta.target_directory, meta.build_directory].filter((d): d is string => typeof d === "string");
  return {
    workspaceRoot: meta.workspace_root,
    ...(buildDirs.length ? { buildDirs: [...new Set(buildDirs)] } : {}),
    crates,
    byDir: new Map(crates.map((c) => [c.manifestDir, c])),
  };
}

/**
 * Per package: what its build script links (its build dependencies and all they depend on) and
 * what its proc macro links (its normal dependencies and all they depend on). A dependency's own
 * build dependencies are not linked into anything of the dependent: they are left out.
 */
function linkedDeps(meta: RawMetadata, checksums: ReadonlyMap<string, string>): (id: string) => Record<ContentKind, DepIdentity[]> {
  const nodes = new Map((meta.resolve?.nodes ?? []).map((n) => [n.id, n]));
  const packages = new Map(meta.packages.map((p) => [p.id, p]));
  const edges = (id: string, kind: "normal" | "build") =>
    (nodes.get(id)?.deps ?? [])
      .filter((d) => (d.dep_kinds === undefined ? kind === "normal" : d.dep_kinds.some((k) => (k.kind ?? "normal") === kind)))
      .map((d) => d.pkg);
  const closure = (start: string[]): DepIdentity[] => {
    const seen = new Set<string>();
    for (let queue = [...start], id = queue.shift(); id !== undefined; id = queue.shift()) {
      if (seen.has(id)) continue;
      seen.add(id);
      queue.push(...edges(id, "normal"));
    }
    return [...seen].flatMap((id) => {
      const p = packages.get(id);
      if (!p) return [];
      return [{ name: p.name, version: p.version, source: p.source, checksum: checksums.get(lockKey(p.name, p.version, p.source)) ?? null }];
    });
  };
  return (id) => ({ "build-script": closure(edges(id, "build")), "proc-macro": closure(edges(id, "normal")) });
}
