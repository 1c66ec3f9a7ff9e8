/**
 * What a package's manifest says about code that runs at build time, and how that changed
 * between two versions. Pure: the runtime hands in the parsed Cargo.toml of a verified .crate
 * (or of an unverified directory source) and the package's file list.
 *
 * Cargo's rules (https://doc.rust-lang.org/cargo/reference/manifest.html#the-build-field):
 * `package.build` names the build script, `false` turns it off, and without the key a `build.rs`
 * at the package root is the build script. `[lib] proc-macro = true` makes a procedural macro.
 * Dependencies come from `[dependencies]`, `[build-dependencies]`, `[dev-dependencies]` (and their
 * snake_case spellings) and the same tables under `[target.'cfg(...)']`; a renamed dependency
 * names its package in `package`.
 */

export type DepKind = "normal" | "build" | "dev";

export interface ManifestDep {
  /** The package's real name (after a rename). */
  package: string;
  kind: DepKind;
}

export interface ManifestFacts {
  /** Path of the build script inside the package; null: none. */
  buildScript: string | null;
  procMacro: boolean;
  /** Path of the library target's root file (a proc macro's code starts there). */
  libPath: string | null;
  links: string | null;
  deps: ManifestDep[];
}

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);

const DEP_TABLES: [string, DepKind][] = [
  ["dependencies", "normal"],
  ["build-dependencies", "build"],
  ["build_dependencies", "build"],
  ["dev-dependencies", "dev"],
  ["dev_dependencies", "dev"],
];

export function toManifestFacts(raw: unknown, files: ReadonlySet<string>): ManifestFacts {
  const doc = isTable(raw) ? raw : {};
  const pkg = isTable(doc.package) ? doc.package : isTable(doc.project) ? doc.project : {};
  const lib = isTable(doc.lib) ? doc.lib : {};
  const build = pkg.build;
  const buildScript = typeof build === "string" ? normalise(build) : build === false ? null : files.has("build.rs") ? "build.rs" : null;
  const libPath = typeof lib.path === "string" ? normalise(lib.path) : files.has("src/lib.rs") ? "src/lib.rs" : null;
  const deps: ManifestDep[] = [];
  const collect = (scope: Table) => {
    for (const [table, kind] of DEP_TABLES) {
      const entries = scope[table];
      if (!isTable(entries)) continue;
      for (const [key, spec] of Object.entries(entries)) {
        const pkgName = isTable(spec) && typeof spec.package === "string" ? spec.package : key;
        deps.push({ package: pkgName, kind });
      }
    }
  };
  collect(doc);
  if (isTable(doc.target)) for (const scope of Object.values(doc.target)) if (isTable(scope)) collect(scope);
  return {
    buildScript,
    procMacro: lib["proc-macro"] === true || lib.proc_macro === true,
    libPath,
    links: typeof pkg.links === "string" ? pkg.links : null,
    deps: uniqueDeps(deps),
  };
}

/** The deps of a registry index entry (`deps[].kind`, `deps[].package` when renamed). */
export function toIndexDeps(raw: unknown): ManifestDep[] {
  if (!Array.isArray(raw)) return [];
  const deps = raw.filter(isTable).map(
    (d): ManifestDep => ({
      package: typeof d.package === "string" ? d.package : String(d.name),
      kind: d.kind === "build" || d.kind === "dev" ? d.kind : "normal",
    }),
  );
  return uniqueDeps(deps);
}

function uniqueDeps(deps: ManifestDep[]): ManifestDep[] {
  const seen = new Set<string>();
  return deps.filter((d) => {
    const key = `${d.kind} ${d.package}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** "./build.rs" -> "build.rs" (paths inside a package, as its file list spells them). */
function normalise(p: string): string {
  return p.replace(/^(\.\/)+/, "").replaceAll("\\", "/");
}

export interface ManifestChange {
  addedDependencies: ManifestDep[];
  removedDependencies: ManifestDep[];
  /** `links` before and after, when it changed. */
  links: { from: string | null; to: string | null } | null;
  /** The build script's path before and after, when it changed (null: none). */
  build: { from: string | null; to: string | null } | null;
  procMacro: { from: boolean; to: boolean } | null;
}

/** What changed in the parts of a manifest that decide what runs at build time. `before` null: a new package. */
export function diffManifests(before: ManifestFacts | null, after: ManifestFacts): ManifestChange {
  const key = (d: ManifestDep) => `${d.kind} ${d.package}`;
  const had = new Set((before?.deps ?? []).map(key));
  const has = new Set(after.deps.map(key));
  const changed = <T>(from: T, to: T) => (from === to ? null : { from, to });
  return {
    addedDependencies: after.deps.filter((d) => !had.has(key(d))),
    removedDependencies: (before?.deps ?? []).filter((d) => !has.has(key(d))),
    links: changed(before?.links ?? null, after.links),
    build: changed(before?.buildScript ?? null, after.buildScript),
    procMacro: changed(before?.procMacro ?? false, after.procMacro),
  };
}
