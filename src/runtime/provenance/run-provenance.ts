/**
 * `cratebox provenance <crate> --repo PATH` (issue 15): is the published package of a crate in
 * Cargo.lock what its repository holds at the commit its `.cargo_vcs_info.json` names?
 *
 *   read:    Cargo.lock; the package's .crate, checked against Cargo.lock's checksum before a byte
 *            is read (the review's sources, runtime/review/obtain.ts); the repository with git
 *            plumbing only (rev-parse, cat-file, ls-tree): nothing in it is written or run
 *   decide:  core/provenance/compare.ts
 *   report:  text or JSON; exit 0 matches, 1 differs or unverifiable, 2 usage and environment
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { runProgram } from "../run-program.ts";
import { parse } from "smol-toml";
import { CrateboxError, EXIT } from "../../core/errors.ts";
import { classifyFiles, type PackageFile } from "../../core/review/classify.ts";
import { parseLockfile, sourceKindOf } from "../../core/review/lockfile.ts";
import { compareWithRepository, parseVcsInfo, type ProvenanceFile, type VcsInfo } from "../../core/provenance/compare.ts";
import { readGitBlob } from "../git-blob.ts";
import { obtainVersion } from "../review/obtain.ts";
import { discoverSources } from "../review/stores.ts";
import { diffVersions } from "../review/tree-diff.ts";
import { readWorkspace } from "../review/workspace.ts";

export interface ProvenanceOptions {
  crate: string;
  version?: string;
  repo?: string;
  index?: string;
  json?: boolean;
}

interface ProvenanceContext {
  cwd: string;
  env: NodeJS.ProcessEnv;
  cargo: string;
  print: (text: string) => void;
}

interface ProvenanceReport {
  crate: string;
  version: string;
  verdict: "matches" | "differs" | "unverifiable";
  /** Why, in one sentence. */
  reason: string;
  /** Where the package's files came from (verified .crate, directory source). */
  sources: string;
  vcs: VcsInfo | null;
  repository: string | null;
  files: (ProvenanceFile & { patch?: string })[];
  notes: string[];
}

/** Lines of diff printed per differing file at most. */
const MAX_PATCH_LINES = 80;

export async function runProvenance(ctx: ProvenanceContext, o: ProvenanceOptions): Promise<number> {
  const report = await provenanceOf(ctx, o);
  if (o.json) ctx.print(`${JSON.stringify(report, null, 2)}\n`);
  else ctx.print(toText(report));
  return report.verdict === "matches" ? EXIT.OK : EXIT.FINDINGS;
}

async function provenanceOf(ctx: ProvenanceContext, o: ProvenanceOptions): Promise<ProvenanceReport> {
  const workspace = await readWorkspace(ctx.cargo, ctx.cwd, ctx.env);
  const lockFile = path.join(workspace.root, "Cargo.lock");
  if (!existsSync(lockFile))
    throw new CrateboxError("USAGE", `${lockFile} does not exist`, "cratebox provenance reads the package Cargo.lock resolved: generate it first");
  const candidates = parseLockfile(readFileSync(lockFile, "utf8"), lockFile).packages.filter(
    (p) => p.name === o.crate && (o.version === undefined || p.version === o.version),
  );
  if (candidates.length === 0) throw new CrateboxError("NO_SUCH_CRATE", `no package ${o.crate}${o.version ? ` ${o.version}` : ""} in ${lockFile}`);
  if (candidates.length > 1)
    throw new CrateboxError(
      "WHICH_CRATE",
      `${o.crate} is in Cargo.lock ${candidates.length} times (${candidates.map((c) => c.version).join(", ")})`,
      "say which with --crate-version",
    );
  const pkg = candidates[0]!;
  const repo = o.repo === undefined ? undefined : path.resolve(ctx.cwd, o.repo);
  if (repo !== undefined && !existsSync(repo))
    throw new CrateboxError("PROVENANCE_REPO", `--repo ${o.repo}: ${repo} does not exist`, "name a clone of the crate's repository");
  const base = { crate: pkg.name, version: pkg.version, vcs: null, repository: repo ?? null, files: [], notes: [] };
  const unverifiable = (reason: string, sources: string, extra: Partial<ProvenanceReport> = {}): ProvenanceReport => ({
    ...base,
    verdict: "unverifiable",
    reason,
    sources,
    ...extra,
  });

  if (sourceKindOf(pkg.source) !== "registry")
    return unverifiable(`${pkg.name} is a ${sourceKindOf(pkg.source)} package: nothing was published to compare`, "none");
  const obtained = await obtainVersion(pkg, discoverSources(workspace.root, ctx.env, o.index), o.index !== undefined && /^https?:/.test(o.index));
  const sources = `${obtained.facts.sources}: ${obtained.facts.detail}`;
  if (!obtained.files) return unverifiable(`the package's files cannot be read (${obtained.facts.sources})`, sources);
  const vcsFile = obtained.files.get(".cargo_vcs_info.json");
  if (!vcsFile) return unverifiable("the package has no .cargo_vcs_info.json: it was not packaged from a git checkout (or the file was left out)", sources);
  const vcs = parseVcsInfo(new TextDecoder().decode(vcsFile.data));
  if (!vcs.ok) return unverifiable(vcs.reason, sources);
  const manifestUrl = repositoryUrl(obtained.files.get("Cargo.toml.orig") ?? obtained.files.get("Cargo.toml"));
  if (repo === undefined)
    return unverifiable(`no repository to compare with: give --repo PATH, a clone of ${manifestUrl ?? "the crate's repository"}`, sources, { vcs: vcs.value });
  const git = gitIn(repo, ctx.env);
  if (!(await git(["rev-parse", "--git-dir"])).ok) return unverifiable(`${repo} is not a git repository`, sources, { vcs: vcs.value });
  if (!(await git(["cat-file", "-e", `${vcs.value.sha1}^{commit}`])).ok)
    return unverifiable(
      `commit ${vcs.value.sha1} is not in ${repo}${manifestUrl ? ` (the crate names ${manifestUrl}; fetch it there)` : ""}: it was never pushed, was rewritten, or this is another repository`,
      sources,
      { vcs: vcs.value },
    );
  const format = (await git(["rev-parse", "--show-object-format"])).stdout.trim() === "sha256" ? "sha256" : "sha1";
  const tree = parseLsTree((await git(["ls-tree", "-r", "-z", "--full-tree", vcs.value.sha1])).stdout);

  const published = new Map([...obtained.files].map(([p, f]) => [p, f.data]));
  const classes = classifyFiles(undefined, { files: obtained.files, manifest: obtained.facts.manifest }, undefined);
  const compared = compareWithRepository({
    published,
    vcs: vcs.value,
    tree,
    format,
    buildScript: classes.buildScript,
    procMacro: classes.procMacro,
    relocated: relocatedFiles(obtained.files.get("Cargo.toml.orig")),
  });
  const files = await withPatches(compared.files, published, repo, ctx.env);
  return {
    ...base,
    vcs: vcs.value,
    verdict: compared.verdict,
    reason:
      compared.verdict === "matches"
        ? `every published file is the one at ${vcs.value.sha1.slice(0, 12)} in ${vcs.value.pathInVcs || "the repository's top"}`
        : `${files.filter((f) => f.status === "differs" || f.status === "not-in-repository").length} published file(s) are not the commit's`,
    sources,
    files,
    notes: compared.notes,
  };
}

/** `repository = "..."` of a manifest, for hints. */
function repositoryUrl(manifest: PackageFile | undefined): string | undefined {
  try {
    const doc = parse(new TextDecoder().decode(manifest?.data ?? new Uint8Array())) as { package?: { repository?: unknown } };
    return typeof doc.package?.repository === "string" ? doc.package.repository : undefined;
  } catch {
    return undefined;
  }
}

/** `readme` and `license-file` outside the package directory: cargo publishes them at its root. */
function relocatedFiles(original: PackageFile | undefined): Map<string, string> {
  const out = new Map<string, string>();
  try {
    const pkg = (parse(new TextDecoder().decode(original?.data ?? new Uint8Array())) as { package?: Record<string, unknown> }).package ?? {};
    for (const key of ["readme", "license-file"]) {
      const written = pkg[key];
      if (typeof written !== "string") continue;
      const normal = path.posix.normalize(written);
      if (normal.startsWith("../")) out.set(path.posix.basename(normal), normal);
    }
  } catch {
    // an unreadable original manifest is compared (and reported) like any other file
  }
  return out;
}

function parseLsTree(out: string): Map<string, string> {
  const tree = new Map<string, string>();
  for (const entry of out.split("\0")) {
    const m = /^\d+ blob ([0-9a-f]+)\t(.+)$/s.exec(entry);
    if (m) tree.set(m[2]!, m[1]!);
  }
  return tree;
}

type Git = (args: string[]) => Promise<{ ok: boolean; stdout: string }>;

/** Read-only git in `repo`: no hooks, no external diff or textconv can run from these commands. */
function gitIn(repo: string, env: NodeJS.ProcessEnv): Git {
  return async (args) => {
    const res = await runProgram("git", ["-C", repo, ...args], { env });
    if (res.spawnError === "ENOENT")
      throw new CrateboxError("USAGE", "git is not installed (or not on PATH)", "cratebox provenance reads the repository with git");
    return { ok: res.exitCode === 0, stdout: res.stdout };
  };
}

/** The diff of each differing file: the repository's blob against the published content. */
async function withPatches(
  files: ProvenanceFile[],
  published: ReadonlyMap<string, Uint8Array>,
  repo: string,
  env: NodeJS.ProcessEnv,
): Promise<ProvenanceReport["files"]> {
  const differing = files.filter((f) => f.status === "differs" && f.repoBlob !== null);
  if (differing.length === 0) return files;
  const before = new Map<string, PackageFile>();
  const after = new Map<string, PackageFile>();
  for (const f of differing) {
    before.set(f.path, { data: (await readGitBlob(repo, f.repoBlob!, env)) ?? new Uint8Array(), executable: false });
    after.set(f.path, { data: published.get(f.path)!, executable: false });
  }
  const dir = mkdtempSync(path.join(tmpdir(), "cratebox-provenance-"));
  try {
    const diffs = await diffVersions(dir, before, after, true);
    return files.map((f) => {
      const patch = diffs.find((d) => d.path === f.path)?.patch;
      return patch ? { ...f, patch } : f;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const STATUS_TEXT: Record<ProvenanceFile["status"], string> = {
  same: "same",
  differs: "DIFFERS",
  "not-in-repository": "NOT IN THE REPOSITORY",
  generated: "generated by cargo package (not compared)",
};

function toText(r: ProvenanceReport): string {
  const out = [`cratebox provenance of ${r.crate} ${r.version}`, `  sources: ${r.sources}`];
  if (r.vcs) out.push(`  packaged from: commit ${r.vcs.sha1}${r.vcs.dirty ? " (dirty)" : ""}, ${r.vcs.pathInVcs || "the repository's top"}`);
  if (r.repository) out.push(`  repository: ${r.repository}`);
  // Where a file was looked for, when it is not simply the same path in the package's directory.
  const elsewhere = (f: ProvenanceFile) => f.repoPath !== null && f.repoPath !== path.posix.join(r.vcs?.pathInVcs ?? "", f.path);
  for (const f of r.files.filter((x) => x.status !== "same" || x.role !== "other")) {
    out.push(`  ${f.role === "other" ? "" : `${f.role}: `}${f.path}: ${STATUS_TEXT[f.status]}${elsewhere(f) ? ` (${f.repoPath})` : ""}`);
  }
  const same = r.files.filter((f) => f.status === "same" && f.role === "other").length;
  if (same) out.push(`  ${same} other file${same === 1 ? "" : "s"}: same`);
  for (const f of r.files) {
    if (!f.patch) continue;
    const lines = f.patch.trimEnd().split("\n");
    out.push("", ...lines.slice(0, MAX_PATCH_LINES), ...(lines.length > MAX_PATCH_LINES ? [`... ${lines.length - MAX_PATCH_LINES} more lines`] : []));
  }
  for (const n of r.notes) out.push(`  note: ${n}`);
  out.push("", `cratebox provenance: ${r.verdict === "matches" ? "matches" : r.verdict === "differs" ? "DIFFERS" : "UNVERIFIABLE"}: ${r.reason}`);
  return `${out.join("\n")}\n`;
}
