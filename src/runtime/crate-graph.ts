/**
 * Reads the crate graph: `cargo metadata` and Cargo.lock's checksums (core/crate-graph.ts makes
 * the graph of them).
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { parse } from "smol-toml";
import type { CargoInvocation } from "../core/cargo-args.ts";
import { lockKey, toCrateGraph, type CrateGraph, type RawMetadata } from "../core/crate-graph.ts";
import { CrateboxError } from "../core/errors.ts";
import { type GraphCacheEntry, type GraphQuestion, graphFiles, graphFromEntry, isCacheable, questionFiles, relevantEnv, toEntry } from "../core/graph-cache.ts";
import { cacheFile, readCacheFile, type StartCaches, stampOf, writeCacheFile } from "./cache-files.ts";
import { onPath, realpathOrUndefined } from "./realpath.ts";
import { runProgram } from "./run-program.ts";
import { noteStamps, noteUnsettled } from "./start-inputs.ts";

const PASS_THROUGH = ["--offline", "--frozen", "--locked"];

/** The arguments of the `cargo metadata` (with dependencies) the crate graph is read from. */
function graphMetadataArgs(inv: CargoInvocation, cargoArgs: readonly string[]): string[] {
  return [
    ...(inv.toolchain ? [`+${inv.toolchain}`] : []),
    ...inv.globals,
    "metadata",
    "--format-version",
    "1",
    ...(inv.manifestPath ? ["--manifest-path", inv.manifestPath] : []),
    ...PASS_THROUGH.filter((f) => cargoArgs.includes(f)),
  ];
}

/** Cargo.lock checksums by lockKey; only real ones (Debian's directory source writes a placeholder). */
function lockChecksums(workspaceRoot: string): Map<string, string> {
  const file = path.join(workspaceRoot, "Cargo.lock");
  const out = new Map<string, string>();
  if (!existsSync(file)) return out;
  const lock = parse(readFileSync(file, "utf8")) as { package?: { name: string; version: string; source?: string; checksum?: string }[] };
  for (const p of lock.package ?? []) if (p.checksum && /^[0-9a-f]{64}$/.test(p.checksum)) out.set(lockKey(p.name, p.version, p.source), p.checksum);
  return out;
}

/**
 * The crate graph. With `caches` (the run's, runtime/cache-files.ts) an unchanged graph is taken
 * from the cache (core/graph-cache.ts says when), and a graph cargo was asked for is stored;
 * `members` is the workspace as this run's `cargo metadata --no-deps` found it.
 */
export async function readCrateGraph(
  cargo: string,
  inv: CargoInvocation,
  cargoArgs: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  cache?: { caches: StartCaches; members: CrateGraph },
): Promise<CrateGraph> {
  const question: GraphQuestion = {
    program: cargo,
    args: graphMetadataArgs(inv, cargoArgs),
    cwd,
    env: relevantEnv(env),
    members: cache ? [cache.members.workspaceRoot, ...[...cache.members.byDir.keys()].sort()] : [],
  };
  // Where to keep it, under which key: none without caches, a user key or a cacheable question.
  const secret = cache && isCacheable(question) ? cache.caches.secret : undefined;
  const file = cache && secret ? cacheFile(cache.caches, "crate-graph") : undefined;
  if (secret && file) {
    const entry = readCacheFile(file);
    const cached = graphFromEntry(entry, question, secret, stampOf);
    if (cached) {
      noteStamps((entry as GraphCacheEntry).stamps);
      return cached;
    }
  }
  const askedAt = Date.now();
  const res = await runProgram(cargo, question.args, { cwd, env, maxBuffer: 1024 ** 3 });
  if (res.exitCode !== 0) {
    throw new CrateboxError(
      "CARGO_METADATA",
      `\`cargo metadata\` failed, so cratebox cannot tell which crates are in the build:\n${res.stderr.trim()}`,
      undefined,
      res.exitCode ?? 101,
    );
  }
  const meta = JSON.parse(res.stdout) as RawMetadata;
  const graph = toCrateGraph(meta, lockChecksums(meta.workspace_root), realpathOrUndefined);
  if (secret && file) {
    const files = [
      ...questionFiles(question, question.env.HOME ?? homedir(), onPath(cargo, env.PATH)),
      ...graphFiles(
        meta.workspace_root,
        meta.packages.map((p) => p.manifest_path),
      ),
    ];
    const entry = toEntry(question, secret, graph, files, stampOf, askedAt);
    if (entry) writeCacheFile(file, entry);
    if (entry) noteStamps(entry.stamps);
    else noteUnsettled();
  } else noteUnsettled();
  return graph;
}
