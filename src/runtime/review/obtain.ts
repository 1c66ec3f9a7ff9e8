/**
 * One version of a package, as the review may read it: from a `.crate` whose SHA-256 is the
 * lockfile's checksum (or, when the lockfile has none, the index's), else from a directory
 * source (shown as unverified), else not at all. A .crate that does not match is refused
 * before a byte of it is unpacked.
 */
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "smol-toml";
import type { SideFacts } from "../../core/review/assemble.ts";
import type { PackageFile, PackageFiles } from "../../core/review/classify.ts";
import type { IndexRecord } from "../../core/review/index-entry.ts";
import { sourceKindOf, type LockPackage } from "../../core/review/lockfile.ts";
import { toManifestFacts } from "../../core/review/manifest.ts";
import type { CrateSources } from "./stores.ts";
import { CrateArchiveError, MAX_UNPACKED_BYTES, readCrateArchive } from "./tar.ts";

export interface ObtainedVersion {
  facts: SideFacts;
  /** The package's files, when they could be read (verified or not: see facts.sources). */
  files: PackageFiles | undefined;
  record: IndexRecord | undefined;
}

export async function obtainVersion(p: LockPackage, sources: CrateSources, network: boolean): Promise<ObtainedVersion> {
  const kind = sourceKindOf(p.source);
  if (kind !== "registry") {
    const detail =
      kind === "git"
        ? "a git package: cratebox review does not fetch git sources"
        : "a path package: its sources are in or next to the workspace, reviewed as your own code";
    return { facts: { sources: "unavailable", detail, manifest: null }, files: undefined, record: undefined };
  }
  const record = await sources.indexRecord(p, network);
  const found = await sources.crateFile(p, record, network);
  if (found) {
    const expected = p.checksum ?? record?.checksum ?? null;
    const whence = p.checksum ? "Cargo.lock's checksum" : "the index's checksum";
    const actual = createHash("sha256").update(found.bytes).digest("hex");
    if (expected !== null && actual !== expected) {
      return refused(`${found.where}: its SHA-256 is ${actual}, but ${whence} is ${expected}; refused, nothing of it was unpacked`, record);
    }
    let files: PackageFiles;
    try {
      files = readCrateArchive(found.bytes, `${p.name}-${p.version}`);
    } catch (err) {
      if (!(err instanceof CrateArchiveError)) throw err;
      return refused(`${found.where}: ${expected === null ? "" : "its checksum matches, but "}it is not a plain .crate archive: ${err.message}`, record);
    }
    const detail =
      expected === null
        ? `${found.where}, not verified: no checksum to check it against (Cargo.lock ${p.checksumPlaceholder ? `says ${JSON.stringify(p.checksumPlaceholder)}` : "has none"} and the index gives none)`
        : `${found.where}, its SHA-256 is ${whence}`;
    return withManifest({ sources: expected === null ? "unverified" : "verified", detail }, files, record);
  }
  const dir = sources.directory(p);
  if (dir) {
    const placeholder = p.checksumPlaceholder ? `; Cargo.lock's checksum is a placeholder, ${JSON.stringify(p.checksumPlaceholder)}` : "";
    return withManifest(
      { sources: "unverified", detail: `directory source ${dir}: an unpacked tree, no .crate to check against a checksum${placeholder}` },
      readDirectory(dir),
      record,
    );
  }
  return { facts: { sources: "unavailable", detail: `no .crate file found (looked at: ${sources.describe(p)})`, manifest: null }, files: undefined, record };
}

function refused(detail: string, record: IndexRecord | undefined): ObtainedVersion {
  return { facts: { sources: "refused", detail, manifest: null }, files: undefined, record };
}

function withManifest(facts: Omit<SideFacts, "manifest">, files: PackageFiles, record: IndexRecord | undefined): ObtainedVersion {
  const text = files.get("Cargo.toml");
  let raw: unknown;
  try {
    raw = text === undefined ? undefined : parse(new TextDecoder().decode(text.data));
  } catch {
    raw = undefined;
  }
  const manifest = raw === undefined ? null : toManifestFacts(raw, new Set(files.keys()));
  return { facts: { ...facts, manifest, ...(manifest ? {} : { detail: `${facts.detail}; its Cargo.toml could not be read` }) }, files, record };
}

/** A directory source's package, read without following symbolic links (its metadata file left out). */
function readDirectory(root: string): PackageFiles {
  const files = new Map<string, PackageFile>();
  let total = 0;
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(root, rel)).sort()) {
      const relPath = rel ? `${rel}/${name}` : name;
      const st = lstatSync(path.join(root, relPath));
      if (st.isDirectory()) walk(relPath);
      else if (st.isFile() && relPath !== ".cargo-checksum.json") {
        total += st.size;
        if (total > MAX_UNPACKED_BYTES) return;
        files.set(relPath, { data: readFileSync(path.join(root, relPath)), executable: (st.mode & 0o111) !== 0 });
      }
    }
  };
  walk("");
  return files;
}
