/** A path's real path (symbolic links resolved), or undefined when it does not exist. */
import { realpathSync } from "node:fs";

export function realpathOrUndefined(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
}
