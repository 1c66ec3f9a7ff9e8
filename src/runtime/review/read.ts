/** Reading what may not be there: a missing directory or file is not an error, anything else is. */
import { readdirSync, readFileSync } from "node:fs";
import { reviewError } from "../../core/review/errors.ts";

/** The names in a directory; none when it does not exist or cannot be listed. */
export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** A file's bytes and path, or undefined when it does not exist. */
export function readIfExists(file: string): { bytes: Buffer; where: string } | undefined {
  try {
    return { bytes: readFileSync(file), where: file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
    throw reviewError("REVIEW_INDEX", `${file} cannot be read: ${(err as Error).message}`);
  }
}
