/** The one place errors become text and exit codes. */
import { CrateboxError } from "../core/errors.ts";
import { LimitSyntaxError } from "../core/limits.ts";

export function renderError(err: unknown, write: (s: string) => void): number {
  if (err instanceof CrateboxError) {
    write(`cratebox: error: ${err.message}\n`);
    if (err.hint) write(`${err.hint}\n`);
    return err.exitCode;
  }
  if (err instanceof LimitSyntaxError) {
    write(`cratebox: error: ${err.message}\n`);
    return 2;
  }
  write(`cratebox: internal error (please report it with the command you ran):\n${(err as Error)?.stack ?? String(err)}\n`);
  return 70;
}
