/** The one place errors become text and exit codes. */
import { CrateboxError, EXIT } from "../core/errors.ts";

export function renderError(err: unknown, write: (s: string) => void): number {
  if (err instanceof CrateboxError && err.code !== "INTERNAL") {
    write(`cratebox: error: ${err.message}\n`);
    if (err.hint) write(`${err.hint}\n`);
    return err.exitCode;
  }
  write(`cratebox: internal error (please report it with the command you ran):\n${(err as Error)?.stack ?? String(err)}\n`);
  return EXIT.INTERNAL;
}
