/**
 * The known errors of `cratebox review`: codes REVIEW_* of core/errors.ts. All exit with 2
 * (usage, configuration, environment); a review that runs and finds problems exits 1 without an
 * error (see report.ts).
 */
import { CrateboxError, type ErrorCode } from "../errors.ts";

type ReviewErrorCode = Extract<ErrorCode, `REVIEW_${string}`>;

export function reviewError(code: ReviewErrorCode, message: string, hint?: string): CrateboxError {
  return new CrateboxError(code, message, hint);
}
