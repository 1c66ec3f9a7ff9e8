/**
 * The one error type cratebox throws, its codes, and its exit codes. Pure.
 *
 * A known error carries a code from ERROR_CODES, a message and a hint, and prints without a
 * stack (cli/render-error.ts is the one place errors become text). A broken invariant is
 * `internalError(...)` (code INTERNAL, exit 70): it prints with its stack and a "please
 * report". Anything thrown that is not a CrateboxError is treated like INTERNAL.
 */

/** Exit codes of the cratebox command (cargo's own code passes through as it is). */
export const EXIT = {
  OK: 0,
  /** `cratebox review` found something that fails the review; `policy test` found a stop; doctor found a problem. */
  FINDINGS: 1,
  /** Usage, configuration and environment errors: nothing was built. */
  USAGE: 2,
  /** What cargo itself exits with when a build or a test fails; the shims use it too. */
  CARGO_FAILED: 101,
  /** A bug in cratebox (sysexits' EX_SOFTWARE). */
  INTERNAL: 70,
  /** Interrupted (Ctrl-C): 128 + SIGINT. */
  INTERRUPTED: 130,
} as const;

/**
 * Every code a CrateboxError may carry, and what it means. Codes are stable: scripts and tests
 * may switch on them; the type checker refuses a code that is not listed here.
 */
const ERROR_CODES = {
  USAGE: "a command line cratebox cannot run",
  INTERRUPTED: "the run was interrupted (Ctrl-C) while a step was asked for",
  INTERNAL: "a broken invariant: a bug in cratebox",
  PROTOCOL: "a shim spoke another protocol version than this run (a target/ written by another cratebox)",
  // environment
  ENGINE_UNAVAILABLE: "no container engine answers",
  BACKEND_UNAVAILABLE: "the sandbox backend asked for cannot run on this host",
  TOOLCHAIN: "the Rust toolchain cannot be asked or mounted",
  CARGO_METADATA: "`cargo metadata` failed",
  IMAGE_UNKNOWN: "no sandbox image of that name ships with cratebox",
  IMAGE_MISSING: "an image a grant names is not in the engine",
  IMAGE_BUILD_FAILED: "building the sandbox image failed",
  RUNTIME_MISSING: "an OCI runtime a grant names is not registered with the engine",
  ENGINE_CANNOT_SEE_HOST: "the engine's bind mounts do not show this machine's files (a remote engine, or a VM without the path shared)",
  RUNTIME_REFUSED: "a step asks for what its OCI runtime, as the engine registers it, cannot give (runsc: network)",
  // configuration
  PROFILE_INVALID: "cratebox.toml or a built-in profile does not validate",
  PROFILE_UNCOMMITTED: "in CI, cratebox.toml differs from the committed one",
  GRANT_PATH: "a granted path does not exist or leads somewhere it may not",
  GRANTS_STOP: "the grants do not fit the build (stale pins, ambiguity, strict mode, policies)",
  LIMIT_SYNTAX: "a limit's value cannot be read",
  POLICY_READ: "a policy file cannot be read",
  POLICY_FAILED: "a policy threw, overran its limits or returned something invalid",
  POLICY_LIMITS: "the policy limits asked for are out of range",
  POLICY_OUTPUT: "a policy returned decisions that do not validate",
  // profile commands
  NO_SUCH_CRATE: "no crate of that name in the build graph",
  WHICH_CRATE: "a crate name matches several packages",
  NO_STALE_PIN: "`profiles diff` on a crate whose pin holds",
  APPROVE_INVALID: "the table approve would write does not validate",
  APPROVE_CONFLICT: "approve options that exclude each other",
  // content pins, audits, provenance (issue 15)
  CONTENT_PIN: "the code a build script or proc macro was compiled from cannot be read (its dep-info is missing)",
  CARRY_UNKNOWN: "`approve --carry` cannot tell whether the pinned code changed (no table, pin, record or dep-info)",
  AUDITS_INVALID: "an audit file named in [review] audits cannot be read or is not a cargo-vet audit file",
  PROVENANCE_REPO: "`cratebox provenance --repo` names a path that does not exist",
  // cratebox review (all exit 2; a review that runs and finds problems exits 1 without an error)
  REVIEW_USAGE: "an option of `cratebox review` has a wrong value (--format, --now, --min-age, --index, --diff)",
  REVIEW_GIT: "not a git checkout, git failed, or the base ref does not exist",
  REVIEW_LOCKFILE: "a Cargo.lock (at the base or in the working tree) is missing or cannot be read",
  REVIEW_WORKSPACE: "cargo cannot tell where the workspace and its members are",
  REVIEW_INDEX: "the index or a .crate file named by --index or [review] index cannot be read",
  REVIEW_NO_SUCH_CRATE: "--diff names a package the review did not find changed",
  // a step
  SPEC_REFUSED: "a step's request the sandbox refuses to run (never run, never partly exposed)",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class CrateboxError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, hint?: string, exitCode: number = code === "INTERNAL" ? EXIT.INTERNAL : EXIT.USAGE) {
    super(message);
    this.name = "CrateboxError";
    this.code = code;
    this.hint = hint;
    this.exitCode = exitCode;
  }
}

/** A broken invariant: a bug, rendered with its stack. */
export function internalError(message: string): CrateboxError {
  return new CrateboxError("INTERNAL", message);
}
