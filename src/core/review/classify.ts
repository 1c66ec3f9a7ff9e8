/**
 * Which changed files of a package are build-script code, proc-macro code, or new executables
 * and scripts (file-diff.ts sorts them into sections by this). Pure: the contents are the
 * verified .crate's (or a directory source's), in memory.
 */
import type { Classification } from "./file-diff.ts";
import type { ManifestFacts } from "./manifest.ts";
import { executableReason, moduleFiles } from "./source-files.ts";

export interface PackageFile {
  data: Uint8Array;
  executable: boolean;
}

export type PackageFiles = ReadonlyMap<string, PackageFile>;

export interface Version {
  files: PackageFiles;
  manifest: ManifestFacts | null;
}

const decoder = new TextDecoder();
const reader = (files: PackageFiles) => (p: string) => {
  const f = files.get(p);
  return f === undefined ? undefined : decoder.decode(f.data);
};

/**
 * `depInfo`: files the new version's dep-info lists for its build script, when a build left
 * one; they join the files found by following the source.
 */
export function classifyFiles(before: Version | undefined, after: Version, depInfo: readonly string[] | undefined): Classification {
  const buildScript = new Set<string>(depInfo ?? []);
  const procMacro = new Set<string>();
  for (const v of [before, after]) {
    if (!v?.manifest) continue;
    if (v.manifest.buildScript) for (const f of moduleFiles(v.manifest.buildScript, reader(v.files))) buildScript.add(f);
    if (v.manifest.procMacro && v.manifest.libPath) for (const f of moduleFiles(v.manifest.libPath, reader(v.files))) procMacro.add(f);
  }
  const executables = new Map<string, string>();
  for (const [path, f] of after.files) {
    const old = before?.files.get(path);
    if (old && (old.executable || !f.executable)) continue; // only new files, or newly executable ones
    const why = executableReason(path, f.executable, f.data.subarray(0, 8));
    if (why) executables.set(path, old ? `${why}, newly executable` : why);
  }
  return { buildScript, procMacro, executables };
}
