/**
 * Everything the review needs to know about the changed packages, read from the index, verified
 * .crate files, directory sources and dep-info: the facts core/review/assemble.ts judges.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { createHash } from "node:crypto";
import { parse } from "smol-toml";
import type { DiffFacts, PackageFacts } from "../../core/review/assemble.ts";
import { toBuildOnly } from "../../core/review/build-only.ts";
import { classifyFiles, type Version } from "../../core/review/classify.ts";
import { toAddedFileDiffs, toSectionStats, type Classification, type FileDiff } from "../../core/review/file-diff.ts";
import { toIdentity } from "../../core/review/grant-transitions.ts";
import type { PackageChange } from "../../core/review/lock-diff.ts";
import { packageKey, sourceKindOf, type Lockfile, type LockPackage } from "../../core/review/lockfile.ts";
import { toManifestFacts, type ManifestDep } from "../../core/review/manifest.ts";
import type { ParsedProfile } from "../../core/profile/parse.ts";
import { selectEntry } from "../../core/profile/select.ts";
import { findDepInfo } from "./dep-info.ts";
import { obtainVersion, type ObtainedVersion } from "./obtain.ts";
import type { CrateSources } from "./stores.ts";
import { readCrateArchive } from "./tar.ts";
import { diffVersions } from "./tree-diff.ts";
import type { ReviewWorkspace } from "./workspace.ts";

interface FullDiff {
  files: FileDiff[];
  classification: Classification;
}

export interface Gathered {
  packages: PackageFacts[];
  /** Per changed package (same order as `packages`): its file diffs (patches only for `--diff`'s package). */
  fullDiffs: (FullDiff | undefined)[];
  notes: string[];
}

export interface GatherContext {
  sources: CrateSources;
  /** The review's private directory (0700), removed afterwards. */
  workDir: string;
  targetDir: string;
  /** The package whose patches `--diff` prints; the others keep only their diff stat. */
  patchesOf: string | undefined;
  after: Lockfile;
  workspace: ReviewWorkspace;
  profile: ParsedProfile;
}

/** At most this many packages are read (and downloaded) at once. */
const CONCURRENCY = 4;

export async function gatherPackages(changes: readonly PackageChange[], ctx: GatherContext): Promise<Gathered> {
  const results = await mapLimit(changes, CONCURRENCY, (change, i) => gatherOne(change, path.join(ctx.workDir, String(i)), ctx));
  const buildOnly = await buildOnlyKeys(ctx, results);
  const packages = results.map(({ facts }) => ({ ...facts, buildOnly: facts.change.new ? buildOnly.has(packageKey(facts.change.new)) : null }));
  return { packages, fullDiffs: results.map((r) => r.full), notes: notesOf(packages) };
}

interface One {
  facts: PackageFacts;
  full: FullDiff | undefined;
  newVersion: ObtainedVersion | undefined;
}

async function gatherOne(change: PackageChange, dir: string, ctx: GatherContext): Promise<One> {
  const oldV = change.old ? await obtainVersion(change.old, ctx.sources, true) : undefined;
  const newV = change.new ? await obtainVersion(change.new, ctx.sources, true) : undefined;
  let diff: DiffFacts;
  let full: FullDiff | undefined;
  if (!change.new || !newV) diff = noDiff("the package left the lockfile");
  else if (!newV.files) diff = noDiff(`the new version's sources are ${newV.facts.sources}`);
  else if (change.old && !oldV?.files) diff = noDiff(`the old version's sources are ${oldV?.facts.sources ?? "unavailable"}`);
  else {
    const depInfo = newV.facts.manifest?.buildScript ? findDepInfo(ctx.targetDir, change.name, change.new.version) : undefined;
    const before: Version | undefined = oldV?.files ? { files: oldV.files, manifest: oldV.facts.manifest } : undefined;
    const classification = classifyFiles(before, { files: newV.files, manifest: newV.facts.manifest }, depInfo);
    const withPatches = ctx.patchesOf === change.name;
    // A new package needs no diff process: every line of it is new.
    const files = before ? await diffVersions(dir, before.files, newV.files, withPatches) : toAddedFileDiffs(newV.files, withPatches);
    const hasBuildScript = Boolean(newV.facts.manifest?.buildScript || oldV?.facts.manifest?.buildScript);
    full = { files, classification };
    diff = {
      available: true,
      reason: null,
      buildScriptFiles: hasBuildScript ? (depInfo ? "dep-info" : "parsed") : "none",
      sections: toSectionStats(files, classification),
    };
  }
  const selection = change.new ? selectEntry(ctx.profile, toIdentity(change.new), "build") : undefined;
  return {
    facts: {
      change,
      old: oldV?.facts ?? null,
      new: newV?.facts ?? null,
      pubtime: newV?.record?.pubtime ?? null,
      indexChecksum: newV?.record?.checksum ?? null,
      buildOnly: null,
      diff,
      grant: selection?.kind === "selected" ? selection.entry.table : null,
    },
    full,
    newVersion: newV,
  };
}

function noDiff(reason: string): DiffFacts {
  return { available: false, reason, buildScriptFiles: "none", sections: [] };
}

/**
 * Build-only packages of the new lockfile. Edge kinds come from the members' manifests (cargo
 * metadata), the changed packages' manifests read above, and, for unchanged packages, local
 * sources only: the index line, the verified .crate's manifest, or a directory source's.
 */
async function buildOnlyKeys(ctx: GatherContext, results: One[]): Promise<Set<string>> {
  const deps = new Map<string, ManifestDep[] | undefined>();
  const members = ctx.after.packages.filter((p) => p.source === null && ctx.workspace.members.some((m) => m.name === p.name && m.version === p.version));
  for (const p of members) deps.set(packageKey(p), ctx.workspace.members.find((m) => m.name === p.name && m.version === p.version)!.deps);
  for (const r of results) {
    const p = r.facts.change.new;
    if (p) deps.set(packageKey(p), r.newVersion?.facts.manifest?.deps ?? r.newVersion?.record?.deps);
  }
  await mapLimit(
    ctx.after.packages.filter((p) => !deps.has(packageKey(p))),
    CONCURRENCY,
    async (p) => {
      deps.set(packageKey(p), await localDeps(p, ctx.sources));
    },
  );
  const roots = members.length > 0 ? members : ctx.after.packages.filter((p) => p.source === null);
  return toBuildOnly(ctx.after, roots, (from, to) =>
    deps
      .get(packageKey(from))
      ?.filter((d) => d.package === to.name)
      .map((d) => d.kind),
  );
}

async function localDeps(p: LockPackage, sources: CrateSources): Promise<ManifestDep[] | undefined> {
  if (sourceKindOf(p.source) !== "registry") return undefined;
  const record = await sources.indexRecord(p, false);
  if (record) return record.deps;
  const found = await sources.crateFile(p, undefined, false);
  if (found && p.checksum && createHash("sha256").update(found.bytes).digest("hex") === p.checksum) {
    try {
      const files = readCrateArchive(found.bytes, `${p.name}-${p.version}`);
      const manifest = files.get("Cargo.toml");
      return manifest ? toManifestFacts(parse(new TextDecoder().decode(manifest.data)), new Set(files.keys())).deps : undefined;
    } catch {
      return undefined;
    }
  }
  const dir = sources.directory(p);
  if (!dir) return undefined;
  try {
    return toManifestFacts(parse(readFileSync(path.join(dir, "Cargo.toml"), "utf8")), new Set()).deps;
  } catch {
    return undefined;
  }
}

function notesOf(packages: readonly PackageFacts[]): string[] {
  const notes: string[] = [];
  const count = (test: (p: PackageFacts) => boolean) => packages.filter(test).length;
  if (packages.some((p) => p.diff.buildScriptFiles === "parsed")) {
    notes.push(
      "no dep-info from an earlier build: build scripts' files were found by following mod and include! in their source, an approximation (a path built by a macro, or a file read at run time, is missed)",
    );
  }
  const unverified = count((p) => p.new?.sources === "unverified" || p.old?.sources === "unverified");
  if (unverified)
    notes.push(
      `${unverified} package${unverified === 1 ? "'s" : "s'"} sources are unverified: a directory source (or a .crate without a checksum) has nothing to check it against`,
    );
  const unavailable = count(
    (p) => p.change.new !== null && sourceKindOf(p.change.new.source) === "registry" && (p.new?.sources === "unavailable" || p.old?.sources === "unavailable"),
  );
  if (unavailable)
    notes.push(
      `${unavailable} registry package${unavailable === 1 ? "'s" : "s'"} sources were not found: name an index with --index (a local registry, a sparse-index mirror, or https://index.crates.io/)`,
    );
  return notes;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!, i);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
