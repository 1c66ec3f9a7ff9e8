/**
 * The changes between two versions of a package, file by file, sorted into the sections a
 * reviewer reads first to last. Pure: the runtime runs GNU `diff -ruN a b` over the two unpacked
 * trees and hands its output in.
 *
 * Sections, in order (issue 14): the build script and the files it uses, the procedural macro's
 * code (both run on the build machine), the manifest (Cargo.toml and the original
 * Cargo.toml.orig), new executables and scripts, and the rest.
 */

export const SECTIONS = ["build-script", "proc-macro", "manifest", "executables", "other"] as const;
export type Section = (typeof SECTIONS)[number];

export const SECTION_TITLE: Record<Section, string> = {
  "build-script": "build script",
  "proc-macro": "proc-macro code",
  manifest: "manifest",
  executables: "new executables and scripts",
  other: "the rest",
};

export interface FileDiff {
  /** Path inside the package. */
  path: string;
  status: "added" | "removed" | "modified";
  binary: boolean;
  added: number;
  removed: number;
  /** The unified diff of this file ("" for a binary file). */
  patch: string;
}

/**
 * Splits `diff -ruN a b` output (run in the directory holding `a` and `b`) into one entry per
 * file. `-N` shows added and removed files as diffs against an empty file; whether a file was
 * added or removed is read from the two file lists, and so are files diff cannot show (an empty
 * file added or removed).
 */
export function parseRecursiveDiff(output: string, before: ReadonlySet<string>, after: ReadonlySet<string>): FileDiff[] {
  const out: FileDiff[] = [];
  let current: FileDiff | undefined;
  let oldPath: string | undefined;
  const statusOf = (file: string): FileDiff["status"] => (!before.has(file) ? "added" : !after.has(file) ? "removed" : "modified");
  for (const line of output.split("\n")) {
    const binary = /^Binary files a\/(.+) and b\/(.+) differ$/.exec(line);
    if (binary) {
      current = undefined;
      out.push({ path: binary[2]!, status: statusOf(binary[2]!), binary: true, added: 0, removed: 0, patch: "" });
      continue;
    }
    if (line.startsWith("diff -ruN ")) {
      current = undefined;
      oldPath = undefined;
      continue;
    }
    const header = current === undefined ? /^(---|\+\+\+) [ab]\/(.*?)\t/.exec(line) : null;
    if (header?.[1] === "---") {
      oldPath = header[2]!;
      continue;
    }
    if (header?.[1] === "+++") {
      const file = header[2]!;
      current = { path: file, status: statusOf(file), binary: false, added: 0, removed: 0, patch: `--- a/${oldPath ?? file}\n+++ b/${file}\n` };
      out.push(current);
      continue;
    }
    if (!current) continue;
    current.patch += `${line}\n`;
    if (line.startsWith("+")) current.added++;
    else if (line.startsWith("-")) current.removed++;
  }
  for (const f of out) f.patch = f.patch.replace(/\n+$/, "\n");
  const shown = new Set(out.map((f) => f.path));
  for (const file of [...before, ...after]) {
    if (shown.has(file) || (before.has(file) && after.has(file))) continue;
    shown.add(file);
    out.push({ path: file, status: statusOf(file), binary: false, added: 0, removed: 0, patch: "" });
  }
  return out;
}

/**
 * A new package's files as diffs against nothing: line counts, and the patch only when asked
 * (`--diff`), without running diff. Binary as GNU diff decides it: a NUL in the first 32 KiB.
 */
export function toAddedFileDiffs(files: ReadonlyMap<string, { data: Uint8Array }>, withPatch: boolean): FileDiff[] {
  const out: FileDiff[] = [];
  for (const [file, { data }] of files) {
    const binary = data.subarray(0, 32 * 1024).includes(0);
    let added = 0;
    for (const b of data) if (b === 0x0a) added++;
    if (data.length > 0 && data[data.length - 1] !== 0x0a) added++;
    if (binary) added = 0;
    let patch = "";
    if (withPatch && !binary && added > 0) {
      const text = new TextDecoder().decode(data);
      const lines = text
        .replace(/\n$/, "")
        .split("\n")
        .map((l) => `+${l}\n`)
        .join("");
      patch = `--- a/${file}\n+++ b/${file}\n@@ -0,0 +1${added === 1 ? "" : `,${added}`} @@\n${lines}${text.endsWith("\n") ? "" : "\\ No newline at end of file\n"}`;
    }
    out.push({ path: file, status: "added", binary, added, removed: 0, patch });
  }
  return out;
}

export interface Classification {
  buildScript: ReadonlySet<string>;
  procMacro: ReadonlySet<string>;
  /** New (or newly executable) files that are executables or scripts, with why. */
  executables: ReadonlyMap<string, string>;
}

export function sectionOf(file: string, c: Classification): Section {
  if (c.buildScript.has(file)) return "build-script";
  if (c.procMacro.has(file)) return "proc-macro";
  if (file === "Cargo.toml" || file === "Cargo.toml.orig") return "manifest";
  if (c.executables.has(file)) return "executables";
  return "other";
}

export interface SectionStat {
  section: Section;
  files: { path: string; status: FileDiff["status"]; binary: boolean; added: number; removed: number; note: string | null }[];
  added: number;
  removed: number;
}

/** The diff stat by section, sections in reading order, empty ones left out. */
export function toSectionStats(diffs: readonly FileDiff[], c: Classification): SectionStat[] {
  return SECTIONS.map((section): SectionStat => {
    const files = diffs
      .filter((d) => sectionOf(d.path, c) === section)
      .sort((a, b) => a.path.localeCompare(b.path))
      .map((d) => ({ path: d.path, status: d.status, binary: d.binary, added: d.added, removed: d.removed, note: c.executables.get(d.path) ?? null }));
    return { section, files, added: files.reduce((n, f) => n + f.added, 0), removed: files.reduce((n, f) => n + f.removed, 0) };
  }).filter((s) => s.files.length > 0);
}

/** "build.rs +12 -3", "libfoo.so (binary, added)". */
export function describeFileStat(f: SectionStat["files"][number]): string {
  const change = f.binary ? `binary, ${f.status}` : `${f.status === "modified" ? "" : `${f.status}, `}+${f.added} -${f.removed}`;
  return `${f.path} (${change}${f.note ? `; ${f.note}` : ""})`;
}
