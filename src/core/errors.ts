/**
 * Known errors carry a stable code, a hint and an exit code; they print without a stack
 * (rendered in cli/render-error.ts). Anything else is a bug and prints with its stack.
 * Exit codes: cargo's own code passes through; 2 for usage, configuration and environment
 * errors; 130 when interrupted.
 */
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

export class CrateboxError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(code: string, message: string, hint?: string, exitCode: number = EXIT_USAGE) {
    super(message);
    this.name = "CrateboxError";
    this.code = code;
    this.hint = hint;
    this.exitCode = exitCode;
  }
}
