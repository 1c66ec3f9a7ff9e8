/**
 * The files a build script's compilation read, from the dep-info rustc left in the target
 * directory (`build/<name>-<hash>/build_script_build-<hash>.d`) when the package was built
 * before. Often absent (a CI review runs before any build): the review then follows the
 * build script's source instead (core/review/source-files.ts) and says so.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { depInfoFiles } from "../../core/review/source-files.ts";
import { listDir } from "./read.ts";

export function findDepInfo(targetDir: string, name: string, version: string): string[] | undefined {
  const profiles = [
    ...listDir(targetDir).map((d) => path.join(targetDir, d)),
    ...listDir(targetDir).flatMap((t) => listDir(path.join(targetDir, t)).map((d) => path.join(targetDir, t, d))),
  ];
  for (const profile of profiles) {
    const build = path.join(profile, "build");
    for (const dir of listDir(build).filter((d) => d.startsWith(`${name}-`))) {
      for (const file of listDir(path.join(build, dir)).filter((f) => /^build_script_\w+-[0-9a-f]+\.d$/.test(f))) {
        const files = depInfoFiles(readFileSync(path.join(build, dir, file), "utf8"), `/${name}-${version}/`);
        if (files.length > 0) return files;
      }
    }
  }
  return undefined;
}
