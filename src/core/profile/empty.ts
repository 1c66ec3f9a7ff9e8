/**
 * The profile of a workspace without cratebox.toml: nothing granted, every step the defaults.
 * Written out rather than parsed so that a build without a profile does not load the schema
 * (test/unit checks it equals what parseProfile makes of `version = 1`).
 */
import type { ParsedProfile } from "./parse.ts";

/** `file`: where the workspace's cratebox.toml would be (messages name it as the place to grant). */
export function emptyProfile(file: string): ParsedProfile {
  return { file, profile: { version: 1, strict: false }, lines: {} };
}
