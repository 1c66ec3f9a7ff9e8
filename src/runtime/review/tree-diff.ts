/**
 * Two versions of a package unpacked into the review's private directory and compared with GNU
 * diff (`diff -ruN`, in Debian's essential diffutils): one process per package, its output split
 * per file by core/review/file-diff.ts. Files are written 0600 under a 0700 directory; nothing
 * in them is ever run.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { runProgram } from "../run-program.ts";
import type { PackageFiles } from "../../core/review/classify.ts";
import { parseRecursiveDiff, type FileDiff } from "../../core/review/file-diff.ts";

/** `withPatches`: keep each file's patch text (for `--diff`); else only the counts are kept. */
export async function diffVersions(dir: string, before: PackageFiles | undefined, after: PackageFiles, withPatches = true): Promise<FileDiff[]> {
  await unpack(path.join(dir, "a"), before ?? new Map());
  await unpack(path.join(dir, "b"), after);
  const res = await runProgram("diff", ["-ruN", "a", "b"], { cwd: dir, env: { LC_ALL: "C", PATH: "/usr/bin:/bin" }, maxBuffer: 256 * 1024 ** 2 });
  if (res.exitCode !== 0 && res.exitCode !== 1) throw new Error(`diff -ruN failed in ${dir} (exit ${res.exitCode}): ${res.stderr.trim()}`);
  const diffs = parseRecursiveDiff(res.stdout, new Set(before?.keys() ?? []), new Set(after.keys()));
  if (!withPatches) for (const d of diffs) d.patch = "";
  // diff compares contents only: a file that just became executable is a change too.
  for (const [file, f] of after) {
    const old = before?.get(file);
    if (old && !old.executable && f.executable && !diffs.some((d) => d.path === file)) {
      diffs.push({ path: file, status: "modified", binary: false, added: 0, removed: 0, patch: "" });
    }
  }
  return diffs;
}

async function unpack(root: string, files: PackageFiles): Promise<void> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  for (const [rel, f] of files) {
    const target = path.join(root, rel);
    await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    // wx: a path the archive reader let through twice, or through a link, fails instead of overwriting.
    await writeFile(target, f.data, { mode: 0o600, flag: "wx" });
  }
}
