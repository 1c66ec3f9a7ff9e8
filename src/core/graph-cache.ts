/**
 * The crate graph's cache (issue 13). A run with cratebox.toml needs the graph before cargo
 * starts (preflight, strict mode, policies), and its `cargo metadata` with dependencies takes
 * longer than a no-op build itself (about 0.25 s for the bench workspace's 77 packages). Its
 * answer is a function of the question (program, arguments, directory, cargo's and rustup's
 * variables, the workspace's members) and of files cargo reads; the cache keeps the graph with
 * a stamp of each of those files and is taken only under this user's cache key, when the
 * question is the same and every stamp still is. Pure: runtime/crate-graph.ts and
 * runtime/cache-files.ts stat, read and write.
 *
 * The files: Cargo.lock and the workspace's root manifest; every package's manifest, as cargo
 * named it (a symbolic link redirected stamps differently), with its build.rs and src/lib.rs
 * (cargo finds them by looking; graphFiles); cargo's configuration files in the directory and
 * every one above it and in CARGO_HOME; rustup's toolchain files there, its settings, its
 * toolchains and update hashes; the cargo program on PATH. A stamp is what cargo's own
 * fingerprints trust: device, inode, size, and the modification and change times in
 * nanoseconds, or null for a file that is not there (so that making one counts as a change).
 */
import path from "node:path";
import type { CrateGraph, GraphCrate } from "./crate-graph.ts";
import { fingerprint } from "./fingerprint.ts";

/** Bumped when the entry's shape or what it is keyed on changes: older entries are then misses. */
export const GRAPH_CACHE_VERSION = 2;

/** `dev:ino:size:mtimeNs:ctimeNs`, or null: not there. */
export type FileStamp = string | null;

/** What `cargo metadata` was asked: the same answer needs the same question. */
export interface GraphQuestion {
  program: string;
  args: string[];
  cwd: string;
  /** The variables cargo and rustup read (relevantEnv). */
  env: Record<string, string>;
  /**
   * The workspace's root and members as this run's `cargo metadata --no-deps` found them, asked
   * anew every run: a member matched by a glob (`crates/*`) or a workspace found in a directory
   * above changes no file the graph stamps.
   */
  members: string[];
}

/**
 * The question as stored: the variables only as a fingerprint, so that no value (a registry
 * token among cargo's variables) is written to disk.
 */
interface StoredQuestion extends Omit<GraphQuestion, "env"> {
  env: string;
}

export interface GraphCacheEntry {
  version: typeof GRAPH_CACHE_VERSION;
  /** The user's cache key (runtime/cache-files.ts): an entry made elsewhere is never taken. */
  secret: string;
  question: StoredQuestion;
  stamps: Record<string, FileStamp>;
  graph: Omit<CrateGraph, "byDir">;
}

function toStored(q: GraphQuestion): StoredQuestion {
  return { program: q.program, args: q.args, cwd: q.cwd, env: fingerprint(JSON.stringify(q.env)), members: q.members };
}

/** Variables that change what cargo or rustup read or resolve: cargo's, rustup's and rustc's, PATH and HOME. */
export function relevantEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(env).sort()) {
    const v = env[k];
    if (v !== undefined && (/^(CARGO|RUST|__CARGO)/.test(k) || k === "PATH" || k === "HOME")) out[k] = v;
  }
  return out;
}

/**
 * Whether a graph asked this way may be cached at all: a `--config` or `-Z` argument can name
 * files of its own (a configuration file, an include) that this key would not stamp.
 */
export function isCacheable(question: GraphQuestion): boolean {
  return !question.args.some((a) => a === "--config" || a.startsWith("--config=") || a.startsWith("-Z"));
}

/**
 * Files the answer depends on before any graph is known: configuration and toolchain files, and
 * `program` as found on PATH (a cargo updated in place; rustup's proxy stays, its toolchains and
 * update hashes change).
 */
export function questionFiles(question: GraphQuestion, home: string, program: string): string[] {
  const cargoHome = question.env.CARGO_HOME ?? path.join(home, ".cargo");
  const rustupHome = question.env.RUSTUP_HOME ?? path.join(home, ".rustup");
  const files = [
    program,
    path.join(cargoHome, "config"),
    path.join(cargoHome, "config.toml"),
    path.join(rustupHome, "settings.toml"),
    path.join(rustupHome, "toolchains"),
    path.join(rustupHome, "update-hashes"),
  ];
  for (let dir = path.resolve(question.cwd); ; dir = path.dirname(dir)) {
    files.push(
      path.join(dir, ".cargo", "config"),
      path.join(dir, ".cargo", "config.toml"),
      path.join(dir, "rust-toolchain"),
      path.join(dir, "rust-toolchain.toml"),
    );
    if (path.dirname(dir) === dir) break;
  }
  return files;
}

/**
 * Files of the graph itself: the lock, the root manifest, and each package's manifest with the
 * two files cargo finds by looking that the graph is made of: `build.rs` (a build script) and
 * `src/lib.rs` (a library, whose name rustc's outputs carry). Other targets cargo discovers
 * (binaries, tests, examples) are not in the graph, and a file added beside them is no change.
 */
export function graphFiles(workspaceRoot: string, manifestPaths: readonly string[]): string[] {
  const files = [path.join(workspaceRoot, "Cargo.lock"), path.join(workspaceRoot, "Cargo.toml")];
  for (const m of manifestPaths) {
    const dir = path.dirname(m);
    files.push(m, path.join(dir, "build.rs"), path.join(dir, "src", "lib.rs"));
  }
  return [...new Set(files)];
}

/** The graph from a cache entry, when it is this user's, the question is the same and no stamp changed; else undefined. */
export function graphFromEntry(entry: unknown, question: GraphQuestion, secret: string, stampOf: (file: string) => FileStamp): CrateGraph | undefined {
  if (!isEntry(entry) || entry.version !== GRAPH_CACHE_VERSION || entry.secret !== secret) return undefined;
  if (JSON.stringify(entry.question) !== JSON.stringify(toStored(question))) return undefined;
  for (const [file, stamp] of Object.entries(entry.stamps)) if (stampOf(file) !== stamp) return undefined;
  const crates = entry.graph.crates;
  return { ...entry.graph, crates, byDir: new Map(crates.map((c: GraphCrate) => [c.manifestDir, c])) };
}

/**
 * Whether a stamp's file last changed (modification or change time) more than `slackMs` before
 * `atMs`, or is absent: a change any later may not show in the stamp (a file system's clock is
 * coarse: an edit of the same size within its tick keeps size and times).
 */
export function isSettled(stamp: FileStamp, atMs: number, slackMs = 2000): boolean {
  if (stamp === null) return true;
  const limitNs = BigInt(Math.floor(atMs - slackMs)) * 1_000_000n;
  const [, , , mtimeNs, ctimeNs] = stamp.split(":");
  return BigInt(mtimeNs!) < limitNs && BigInt(ctimeNs!) < limitNs;
}

/**
 * The entry to store for a graph just read, or undefined when a stamped file changed while cargo
 * read it, or so shortly before that the file system's clock may not tell (`askedAtMs`: when the
 * `cargo metadata` started, `slackMs` before it counts as too recent): that graph may be of the
 * old content, and would then be kept under the new stamp.
 */
export function toEntry(
  question: GraphQuestion,
  secret: string,
  graph: CrateGraph,
  files: readonly string[],
  stampOf: (file: string) => FileStamp,
  askedAtMs: number,
  slackMs = 2000,
): GraphCacheEntry | undefined {
  const stamps: Record<string, FileStamp> = {};
  for (const file of files) {
    const stamp = stampOf(file);
    if (!isSettled(stamp, askedAtMs, slackMs)) return undefined;
    stamps[file] = stamp;
  }
  const { byDir: _, ...rest } = graph;
  return { version: GRAPH_CACHE_VERSION, secret, question: toStored(question), stamps, graph: rest };
}

function isEntry(v: unknown): v is GraphCacheEntry {
  if (typeof v !== "object" || v === null) return false;
  const e = v as Partial<GraphCacheEntry>;
  return (
    typeof e.question === "object" &&
    typeof e.stamps === "object" &&
    e.stamps !== null &&
    typeof e.graph === "object" &&
    e.graph !== null &&
    Array.isArray(e.graph.crates) &&
    typeof e.graph.workspaceRoot === "string"
  );
}
