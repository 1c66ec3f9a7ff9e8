/** A path's real path (symbolic links resolved), or undefined when it does not exist. */
import { accessSync, constants, realpathSync, statSync } from "node:fs";
import path from "node:path";

export function realpathOrUndefined(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
}

/**
 * A bare program name as the shell would find it on `searchPath` (cargo passes `rustc` when it
 * runs a toolchain without rustup); a name with a slash, or one not found, as it is.
 */
export function onPath(name: string, searchPath: string | undefined): string {
  if (name.includes("/")) return name;
  for (const dir of (searchPath ?? "").split(":")) {
    if (!path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      /* not here */
    }
  }
  return name;
}
