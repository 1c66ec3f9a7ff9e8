/**
 * Provenance (issue 15): is a published package what its repository holds at the commit it
 * names? Pure: the runtime reads the verified .crate and lists the repository with git plumbing.
 *
 * `cargo package` writes `.cargo_vcs_info.json`: `{"git": {"sha1": "<commit>", "dirty": bool},
 * "path_in_vcs": "crates/foo"}`. Every published file is compared, by git blob id, with the file
 * at `<path_in_vcs>/<path>` in that commit, except what cargo generates: the vcs file itself,
 * `Cargo.toml` (normalised; its original is `Cargo.toml.orig`, compared with the repository's
 * Cargo.toml) and `Cargo.lock` (resolved for the package). A `readme` or `license-file` outside
 * the package directory is published at the package root and compared with where it really is.
 * Build-script and proc-macro files come first: they run on the building machine.
 *
 * "unverifiable" (nothing to compare with) is a different answer from "differs" (compared, and
 * not the same): the first asks for a repository or a vcs file, the second for a reviewer.
 */
import { createHash } from "node:crypto";
import path from "node:path";

export interface VcsInfo {
  sha1: string;
  dirty: boolean;
  /** The package directory inside the repository ("" for its top). */
  pathInVcs: string;
}

export function parseVcsInfo(text: string): { ok: true; value: VcsInfo } | { ok: false; reason: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, reason: ".cargo_vcs_info.json is not JSON" };
  }
  const git = (raw as { git?: { sha1?: unknown; dirty?: unknown } } | null)?.git;
  const where = (raw as { path_in_vcs?: unknown }).path_in_vcs;
  if (typeof git?.sha1 !== "string" || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(git.sha1))
    return { ok: false, reason: ".cargo_vcs_info.json names no git commit (git.sha1)" };
  const pathInVcs = typeof where === "string" ? where.replace(/^\/+|\/+$/g, "") : "";
  if (pathInVcs.split("/").includes("..")) return { ok: false, reason: `.cargo_vcs_info.json's path_in_vcs ${JSON.stringify(where)} leaves the repository` };
  return { ok: true, value: { sha1: git.sha1, dirty: git.dirty === true, pathInVcs } };
}

/** git's object id of a blob with this content (`git hash-object`), SHA-1 or SHA-256 repositories. */
export function gitBlobId(data: Uint8Array, format: "sha1" | "sha256"): string {
  return createHash(format).update(`blob ${data.length}\0`).update(data).digest("hex");
}

type FileStatus = "same" | "differs" | "not-in-repository" | "generated";
type FileRole = "build-script" | "proc-macro" | "other";

export interface ProvenanceFile {
  /** Path in the package. */
  path: string;
  /** Where it was looked for in the repository (from its top); null for a generated file. */
  repoPath: string | null;
  status: FileStatus;
  role: FileRole;
  /** The repository's blob id, when the file is there. */
  repoBlob: string | null;
}

export interface Comparison {
  verdict: "matches" | "differs";
  files: ProvenanceFile[];
  notes: string[];
}

export interface CompareInput {
  /** Published files (path in the package -> content). */
  published: ReadonlyMap<string, Uint8Array>;
  vcs: VcsInfo;
  /** Blob ids of the commit's files, by path from the repository's top. */
  tree: ReadonlyMap<string, string>;
  format: "sha1" | "sha256";
  /** Files of the build script / proc macro (core/review/source-files.ts). */
  buildScript: ReadonlySet<string>;
  procMacro: ReadonlySet<string>;
  /** Published path -> path in the package directory it was copied from (`README.md` -> `../../README.md`). */
  relocated: ReadonlyMap<string, string>;
}

const GENERATED = new Set([".cargo_vcs_info.json", "Cargo.toml", "Cargo.lock"]);
const ROLE_ORDER: Record<FileRole, number> = { "build-script": 0, "proc-macro": 1, other: 2 };

export function compareWithRepository(input: CompareInput): Comparison {
  const files: ProvenanceFile[] = [];
  const notes: string[] = [];
  for (const [file, data] of input.published) {
    const role: FileRole = input.buildScript.has(file) ? "build-script" : input.procMacro.has(file) ? "proc-macro" : "other";
    if (GENERATED.has(file)) {
      files.push({ path: file, repoPath: null, status: "generated", role, repoBlob: null });
      continue;
    }
    // Cargo.toml.orig is the manifest as written in the repository.
    const inPackage = file === "Cargo.toml.orig" ? "Cargo.toml" : (input.relocated.get(file) ?? file);
    const repoPath = path.posix.normalize(input.vcs.pathInVcs ? `${input.vcs.pathInVcs}/${inPackage}` : inPackage);
    if (repoPath.startsWith("../")) {
      files.push({ path: file, repoPath, status: "not-in-repository", role, repoBlob: null });
      continue;
    }
    const blob = input.tree.get(repoPath);
    const status: FileStatus = blob === undefined ? "not-in-repository" : blob === gitBlobId(data, input.format) ? "same" : "differs";
    files.push({ path: file, repoPath, status, role, repoBlob: blob ?? null });
  }
  files.sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const differs = files.some((f) => f.status === "differs" || f.status === "not-in-repository");
  if (input.vcs.dirty)
    notes.push(
      differs
        ? "the package was made from a working tree with uncommitted changes (git.dirty): the commit is not what was published"
        : "the package says it was made from a working tree with uncommitted changes (git.dirty), but every published file is the commit's",
    );
  return { verdict: differs ? "differs" : "matches", files, notes };
}
