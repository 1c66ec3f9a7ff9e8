/**
 * Every known error of `cratebox review`, in one place: its code and what it means. All exit
 * with 2 (usage, configuration, environment); a review that runs and finds problems exits 1
 * without an error (see report.ts).
 */
import { CrateboxError } from "../errors.ts";

export const REVIEW_ERROR_CODES = {
  REVIEW_USAGE: "an option of `cratebox review` has a wrong value (--format, --now, --min-age, --index, --diff)",
  REVIEW_GIT: "not a git checkout, git failed, or the base ref does not exist",
  REVIEW_LOCKFILE: "a Cargo.lock (at the base or in the working tree) is missing or cannot be read",
  REVIEW_WORKSPACE: "cargo cannot tell where the workspace and its members are",
  REVIEW_INDEX: "the index or a .crate file named by --index or [review] index cannot be read",
  REVIEW_NO_SUCH_CRATE: "--diff names a package the review did not find changed",
} as const;

export type ReviewErrorCode = keyof typeof REVIEW_ERROR_CODES;

export function reviewError(code: ReviewErrorCode, message: string, hint?: string): CrateboxError {
  return new CrateboxError(code, message, hint);
}
