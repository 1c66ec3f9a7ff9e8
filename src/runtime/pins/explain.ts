/**
 * What changed in pinned code, as a reviewer reads it: for each file that changed since the
 * review, the reviewed content against the file now (GNU diff -u), and each new file whole.
 *
 * The reviewed content is taken only where its SHA-256 is the one the pin's record holds, so it
 * is exactly what was reviewed wherever it comes from: the reviewed version's unpacked directory
 * next to this one (a registry cache or vendor directory), that version's .crate (the sources of
 * `cratebox review`, runtime/review/stores.ts), or git's HEAD for a crate inside a checkout.
 * Nothing is written but a private temporary directory, removed afterwards.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { runProgram } from "../run-program.ts";
import type { GraphCrate } from "../../core/crate-graph.ts";
import type { ContentObservation } from "../../core/pins/check.ts";
import { ABSENT, diffContent, sha256Hex } from "../../core/pins/content.ts";
import type { StoredRecord } from "../../core/pins/records.ts";
import { sourceKindOf } from "../../core/review/lockfile.ts";
import { readGitBlob } from "../git-blob.ts";
import { obtainVersion } from "../review/obtain.ts";
import { discoverSources } from "../review/stores.ts";
import { readIfPresent } from "./observe.ts";

export interface DiffSettings {
  workspaceRoot: string;
  env: NodeJS.ProcessEnv;
  /** Lines of diff shown at most (the rest is counted). */
  maxLines: number;
}

/** The diff of the pinned files, indented for a message; "" when no old content could be had. */
export async function contentDiff(crate: GraphCrate, record: StoredRecord, seen: ContentObservation, s: DiffSettings): Promise<string> {
  const change = diffContent(record, seen.record);
  const old = reviewedContent(crate, record, s);
  const dir = mkdtempSync(path.join(tmpdir(), "cratebox-pins-"));
  try {
    const parts: string[] = [];
    const missing: string[] = [];
    for (const f of change.changed) {
      if (f.path.startsWith("$OUT_DIR/")) continue;
      const now = path.resolve(crate.manifestDir, f.path);
      const before = await old(f.path, f.before);
      if (before === undefined) missing.push(f.path);
      else parts.push(await unifiedDiff(dir, f.path, before, f.after === ABSENT ? undefined : now));
    }
    for (const f of change.added) {
      if (f.path.startsWith("$OUT_DIR/") || f.sha256 === ABSENT) continue;
      parts.push(await unifiedDiff(dir, f.path, new Uint8Array(), path.resolve(crate.manifestDir, f.path)));
    }
    const lines = parts
      .join("")
      .trimEnd()
      .split("\n")
      .filter((l) => l !== "");
    const shown = lines.slice(0, s.maxLines).map((l) => `      ${l}`);
    if (lines.length > s.maxLines) shown.push(`      ... ${lines.length - s.maxLines} more lines`);
    if (missing.length) shown.push(`      (the reviewed content of ${missing.join(", ")} is not on this machine: compare by hand)`);
    return shown.length ? `\n    what changed:\n${shown.join("\n")}` : "";
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A lookup of reviewed bytes by path and SHA-256, trying each place once. */
function reviewedContent(crate: GraphCrate, record: StoredRecord, s: DiffSettings): (file: string, sha256: string) => Promise<Uint8Array | undefined> {
  const sibling = path.join(path.dirname(crate.manifestDir), `${crate.name}-${record.version}`);
  let archive: Promise<ReadonlyMap<string, { data: Uint8Array }> | undefined> | undefined;
  const fromArchive = () => {
    archive ??= (async () => {
      const source = crate.sourceId ?? null;
      if (sourceKindOf(source) !== "registry") return undefined;
      const p = { name: crate.name, version: record.version, source, checksum: null, checksumPlaceholder: null, dependencies: [], line: undefined };
      return (await obtainVersion(p, discoverSources(s.workspaceRoot, s.env, undefined), false).catch(() => undefined))?.files;
    })();
    return archive;
  };
  return async (file, sha256) => {
    const match = (b: Uint8Array | undefined) => (b !== undefined && sha256Hex(b) === sha256 ? b : undefined);
    return (
      match(record.version === crate.version ? undefined : readIfPresent(path.join(sibling, file))) ??
      match((await fromArchive())?.get(file)?.data) ??
      match(await fromGitHead(path.resolve(crate.manifestDir, file), s.env))
    );
  };
}

/** The file's content at HEAD of the git checkout it is in (read-only plumbing), if any. */
async function fromGitHead(file: string, env: NodeJS.ProcessEnv): Promise<Uint8Array | undefined> {
  const dir = path.dirname(file);
  const top = await runProgram("git", ["rev-parse", "--show-toplevel"], { cwd: dir, env });
  if (top.exitCode !== 0) return undefined;
  const rel = path.relative(top.stdout.trim(), file).split(path.sep).join("/");
  return readGitBlob(dir, `HEAD:${rel}`, env);
}

async function unifiedDiff(dir: string, file: string, before: Uint8Array, now: string | undefined): Promise<string> {
  const old = path.join(dir, `old-${sha256Hex(file).slice(0, 16)}`);
  writeFileSync(old, before, { mode: 0o600 });
  const res = await runProgram("diff", ["-u", "--label", `reviewed/${file}`, "--label", now ? `now/${file}` : "/dev/null", old, now ?? "/dev/null"], {
    env: { LC_ALL: "C", PATH: "/usr/bin:/bin" },
  });
  return res.exitCode === 1 ? res.stdout : "";
}
