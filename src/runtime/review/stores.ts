/**
 * Where the review finds a registry package's index entry and its `.crate` file, without
 * trusting any of it: every .crate is checked against a checksum before it is read (fetch.ts),
 * and an unpacked directory source is only ever shown as unverified.
 *
 * Looked at, in order:
 * 1. `--index` / `[review] index`: a local registry (a directory with `index/` and
 *    `<name>-<version>.crate` files, cargo's `local-registry`), a sparse-index mirror on disk
 *    (`config.json` and the index files), or a sparse index over HTTP; its `.crate` files come
 *    from config.json's `dl`. It serves crates.io packages and those of the registry it names.
 * 2. cargo's own configuration for the package's source: `[source.*]` replacements
 *    (`replace-with`) ending in a `local-registry` or a `directory` (unverified).
 * 3. cargo's download cache, `$CARGO_HOME/registry/cache/*\/<name>-<version>.crate`: writable by
 *    any build script that ran under plain cargo, which is why its bytes count only when they
 *    hash to the lockfile's checksum.
 * Nothing is fetched over the network unless an index URL was named.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { parse } from "smol-toml";
import { reviewError } from "../../core/review/errors.ts";
import { indexPath, parseIndexFile, toDownloadUrl, type IndexRecord } from "../../core/review/index-entry.ts";
import { CRATES_IO, sourceIdentity, type LockPackage } from "../../core/review/lockfile.ts";
import { configFiles } from "../cargo-config.ts";
import { fetchBytes } from "./http.ts";
import { listDir, readIfExists } from "./read.ts";

export interface FoundCrate {
  bytes: Buffer;
  /** A path or URL, for messages. */
  where: string;
}

interface Store {
  describe: string;
  records?(name: string, network: boolean): Promise<IndexRecord[] | undefined>;
  crate?(p: LockPackage, record: IndexRecord | undefined, network: boolean): Promise<FoundCrate | undefined>;
  directory?(p: LockPackage): string | undefined;
}

export class CrateSources {
  private readonly cache = new Map<string, Promise<IndexRecord[] | undefined>>();
  constructor(private readonly storesFor: (p: LockPackage) => Store[]) {}

  /** Where this package's sources are looked for, for messages. */
  describe(p: LockPackage): string {
    return (
      this.storesFor(p)
        .map((s) => s.describe)
        .join("; ") || "nowhere: no index or local registry is known for this source"
    );
  }

  /** The index line of exactly this version, from the first store that has the name. */
  async indexRecord(p: LockPackage, network: boolean): Promise<IndexRecord | undefined> {
    for (const store of this.storesFor(p)) {
      if (!store.records) continue;
      const key = `${store.describe}\0${p.name}\0${network}`;
      if (!this.cache.has(key)) this.cache.set(key, store.records(p.name, network));
      const found = (await this.cache.get(key))?.find((r) => r.version === p.version);
      if (found) return found;
    }
    return undefined;
  }

  async crateFile(p: LockPackage, record: IndexRecord | undefined, network: boolean): Promise<FoundCrate | undefined> {
    for (const store of this.storesFor(p)) {
      const found = await store.crate?.(p, record, network);
      if (found) return found;
    }
    return undefined;
  }

  directory(p: LockPackage): string | undefined {
    for (const store of this.storesFor(p)) {
      const dir = store.directory?.(p);
      if (dir) return dir;
    }
    return undefined;
  }
}

export function discoverSources(cwd: string, env: NodeJS.ProcessEnv, index: string | undefined): CrateSources {
  const explicit = index === undefined ? undefined : explicitStore(index);
  const configured = configuredSources(cwd, env);
  const cache = cargoCache(env.CARGO_HOME ?? path.join(homedir(), ".cargo"));
  const byIdentity = new Map<string, Store[]>();
  return new CrateSources((p) => {
    if (p.source === null || p.source.startsWith("git+") || p.source.startsWith("path+")) return [];
    const id = sourceIdentity(p.source);
    if (!byIdentity.has(id)) {
      const fromConfig = configured(id);
      const servesExplicit = explicit && (id === CRATES_IO || id === sourceIdentity(explicit.url));
      byIdentity.set(id, [...(servesExplicit ? [explicit.store] : []), ...fromConfig, cache]);
    }
    return byIdentity.get(id)!;
  });
}

// ---- an index named by the user -----------------------------------------------------------------

function explicitStore(location: string): { store: Store; url: string } {
  if (/^https?:\/\//.test(location)) return { store: sparseStore(location, `index ${location}`), url: `sparse+${location}` };
  if (existsSync(path.join(location, "index"))) return { store: localRegistry(location), url: `sparse+file://${location}` };
  if (existsSync(path.join(location, "config.json"))) return { store: sparseStore(location, `index mirror ${location}`), url: `sparse+file://${location}/` };
  throw reviewError(
    "REVIEW_INDEX",
    `index ${location} is neither a local registry (it has no index/ directory) nor a sparse-index mirror (no config.json)`,
    "name the directory that holds index/ and the .crate files, or the sparse index's URL",
  );
}

/** cargo's `local-registry`: `index/` plus `<name>-<version>.crate` files next to it. */
function localRegistry(dir: string): Store {
  return {
    describe: `local registry ${dir}`,
    records: async (name) => readIndexFile(path.join(dir, "index", indexPath(name)), name),
    crate: async (p) => readIfExists(path.join(dir, `${p.name}-${p.version}.crate`)),
  };
}

/** A sparse index, on disk (a mirror) or over HTTP; .crate files from config.json's `dl`. */
function sparseStore(root: string, describe: string): Store {
  const remote = /^https?:\/\//.test(root);
  const get = async (rel: string, network: boolean): Promise<Buffer | undefined> => {
    if (!remote) return readIfExists(path.join(root, rel))?.bytes;
    return network ? fetchBytes(new URL(rel, root).href) : undefined;
  };
  let dl: Promise<string | undefined> | undefined;
  const dlTemplate = (network: boolean) => {
    dl ??= get("config.json", network)
      .then((b) => {
        if (b === undefined) return undefined;
        let raw: unknown;
        try {
          raw = (JSON.parse(b.toString("utf8")) as { dl?: unknown }).dl;
        } catch {
          throw reviewError("REVIEW_INDEX", `${describe}: config.json is not JSON`);
        }
        return typeof raw === "string" ? raw : undefined;
      })
      .catch((err: unknown) => {
        dl = undefined;
        throw err;
      });
    return dl;
  };
  return {
    describe,
    records: async (name, network) => {
      const bytes = await get(indexPath(name), network);
      return bytes === undefined ? undefined : parseIndexFile(bytes.toString("utf8"), name);
    },
    crate: async (p, record, network) => {
      if (remote && !network) return undefined;
      const template = await dlTemplate(network);
      if (template === undefined) return undefined;
      const url = toDownloadUrl(template, p.name, p.version, p.checksum ?? record?.checksum ?? null);
      if (url.startsWith("file://")) return readIfExists(new URL(url).pathname);
      if (!/^https?:\/\//.test(url) || !network) return undefined;
      const bytes = await fetchBytes(url);
      return bytes === undefined ? undefined : { bytes, where: url };
    },
  };
}

// ---- cargo's configuration and cache ----------------------------------------------------------

interface SourceTable {
  registry?: string;
  "local-registry"?: string;
  directory?: string;
  "replace-with"?: string;
  /** The directory relative paths in this table are resolved from. */
  base: string;
}

/** `[source.*]` of every config file, the closest file winning per key, -> stores for a source identity. */
function configuredSources(cwd: string, env: NodeJS.ProcessEnv): (identity: string) => Store[] {
  const tables = new Map<string, SourceTable>();
  for (const file of configFiles(cwd, env)) {
    let doc: { source?: Record<string, Record<string, unknown>> };
    try {
      doc = parse(readFileSync(file, "utf8")) as typeof doc;
    } catch {
      continue; // cargo itself reports a broken config file
    }
    for (const [name, t] of Object.entries(doc.source ?? {})) {
      const had = tables.get(name) ?? { base: path.dirname(path.dirname(file)) };
      for (const key of ["registry", "local-registry", "directory", "replace-with"] as const) {
        if (had[key] === undefined && typeof t[key] === "string") {
          had[key] = t[key];
          if (key === "local-registry" || key === "directory") had.base = path.dirname(path.dirname(file));
        }
      }
      tables.set(name, had);
    }
  }
  return (identity) => {
    const names = [...tables.entries()]
      .filter(
        ([, t]) => t.registry !== undefined && sourceIdentity(/^(registry|sparse)\+/.test(t.registry) ? t.registry : `registry+${t.registry}`) === identity,
      )
      .map(([n]) => n);
    if (identity === CRATES_IO) names.unshift("crates-io");
    const stores: Store[] = [];
    for (const start of names) {
      let t = tables.get(start);
      for (let hops = 0; t?.["replace-with"] !== undefined && hops < 10; hops++) t = tables.get(t["replace-with"]);
      if (t?.["local-registry"]) stores.push(localRegistry(path.resolve(t.base, t["local-registry"])));
      if (t?.directory) stores.push(directorySource(path.resolve(t.base, t.directory)));
    }
    return stores;
  };
}

/** cargo's `directory` source: unpacked packages, one per subdirectory (any name), found by their manifests. */
function directorySource(dir: string): Store {
  let byPackage: Map<string, string> | undefined;
  return {
    describe: `directory source ${dir}`,
    directory: (p) => {
      byPackage ??= scanDirectorySource(dir);
      return byPackage.get(`${p.name} ${p.version}`);
    },
  };
}

function scanDirectorySource(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of listDir(dir)) {
    try {
      const manifest = parse(readFileSync(path.join(dir, name, "Cargo.toml"), "utf8")) as { package?: { name?: unknown; version?: unknown } };
      const pkg = manifest.package;
      if (typeof pkg?.name === "string" && typeof pkg.version === "string") out.set(`${pkg.name} ${pkg.version}`, path.join(dir, name));
    } catch {
      // not a package directory
    }
  }
  return out;
}

function cargoCache(cargoHome: string): Store {
  const root = path.join(cargoHome, "registry", "cache");
  return {
    describe: `cargo's download cache ${root}`,
    crate: async (p) => {
      for (const r of listDir(root)) {
        const found = readIfExists(path.join(root, r, `${p.name}-${p.version}.crate`));
        if (found) return found;
      }
      return undefined;
    },
  };
}

function readIndexFile(file: string, name: string): IndexRecord[] | undefined {
  const found = readIfExists(file);
  return found === undefined ? undefined : parseIndexFile(found.bytes.toString("utf8"), name);
}
