/**
 * The git side of a review: which commit is the base, and a file's content at that commit.
 * Only reading commands (`rev-parse`, `merge-base`, `cat-file`): nothing in the repository or
 * its configuration is changed, and no hook or external diff/textconv program can run.
 */
import path from "node:path";
import { runProgram } from "../run-program.ts";
import { reviewError } from "../../core/review/errors.ts";

export interface Repo {
  top: string;
  git(args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }>;
}

export async function openRepo(dir: string, env: NodeJS.ProcessEnv): Promise<Repo> {
  const git = async (args: string[]) => {
    const res = await runProgram("git", args, { cwd: dir, env });
    if (res.spawnError === "ENOENT")
      throw reviewError("REVIEW_GIT", "git is not installed (or not on PATH)", "cratebox review compares Cargo.lock with a git commit");
    return { ok: res.exitCode === 0, stdout: res.stdout, stderr: res.stderr.trim() };
  };
  const top = await git(["rev-parse", "--show-toplevel"]);
  if (!top.ok)
    throw reviewError(
      "REVIEW_GIT",
      `${dir} is not in a git checkout: ${top.stderr}`,
      "cratebox review compares Cargo.lock with a git commit: run it in the repository",
    );
  return { top: top.stdout.trim(), git };
}

export interface Base {
  ref: string;
  commit: string;
  how: string;
}

/** `--base REF`, else the merge base of HEAD with its upstream branch, else HEAD. */
export async function resolveBase(repo: Repo, ref: string | undefined): Promise<Base> {
  const commitOf = async (r: string) => {
    const res = await repo.git(["rev-parse", "--verify", "--quiet", "--end-of-options", `${r}^{commit}`]);
    return res.ok ? res.stdout.trim() : undefined;
  };
  if (ref !== undefined) {
    const commit = await commitOf(ref);
    if (!commit)
      throw reviewError(
        "REVIEW_GIT",
        `--base ${ref} names no commit of this repository`,
        "fetch it first (git fetch origin main), or give a commit, tag or branch that exists",
      );
    return { ref, commit, how: "--base" };
  }
  const upstream = await repo.git(["rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}"]);
  if (upstream.ok && upstream.stdout.trim() !== "") {
    const name = upstream.stdout.trim();
    const mergeBase = await repo.git(["merge-base", "HEAD", name]);
    if (mergeBase.ok) return { ref: name, commit: mergeBase.stdout.trim(), how: `the merge base of HEAD and its upstream branch ${name}` };
  }
  const head = await commitOf("HEAD");
  if (!head)
    throw reviewError("REVIEW_GIT", "this repository has no commit yet, so there is no Cargo.lock to compare with", "commit first, or name a base with --base");
  return { ref: "HEAD", commit: head, how: "HEAD: no upstream branch" };
}

/** A file's content at a commit (path relative to the repository's top), or undefined when it is not there. */
export async function readAtCommit(repo: Repo, commit: string, file: string): Promise<string | undefined> {
  const spec = `${commit}:${file}`;
  const type = await repo.git(["cat-file", "-t", spec]);
  if (!type.ok) return undefined;
  if (type.stdout.trim() !== "blob") throw reviewError("REVIEW_GIT", `${spec} is a ${type.stdout.trim()}, not a file`);
  const blob = await repo.git(["cat-file", "blob", spec]);
  if (!blob.ok) throw reviewError("REVIEW_GIT", `git cannot read ${spec}: ${blob.stderr}`);
  return blob.stdout;
}

/** `dir/file` as a path from the repository's top, with forward slashes (what git and annotations want). */
export function fromTop(repo: Repo, file: string): string {
  return path.relative(repo.top, file).split(path.sep).join("/");
}
