/**
 * A policy file as a run reads it: its path (as the user named it; messages cite it) and its text.
 * Apart from the evaluator (policy.ts): a run whose decisions come from the cache
 * (policy-cache.ts) reads the files without loading it.
 */
import { readFileSync } from "node:fs";
import { CrateboxError } from "../core/errors.ts";
import { noteInput } from "./start-inputs.ts";

/** A policy file's path (as the user named it: messages cite it) and its text. */
export interface PolicySource {
  file: string;
  source: string;
}

/** Reads a policy file; a missing or unreadable one is a configuration error (exit 2). */
export function loadPolicy(file: string): PolicySource {
  noteInput(file);
  try {
    return { file, source: readFileSync(file, "utf8") };
  } catch (err) {
    throw new CrateboxError(
      "POLICY_READ",
      `policy ${file} cannot be read: ${(err as Error).message}`,
      "check the path given with --policy, CRATEBOX_POLICY or policy = [...] in cratebox.toml",
    );
  }
}
