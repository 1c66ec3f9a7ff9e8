/**
 * Which tables of cratebox.toml select no crate of the build graph (`cratebox profiles prune`),
 * and why. Pure: the graph comes in.
 */
import type { GraphCrate } from "../crate-graph.ts";
import type { GrantPhase } from "../phase.ts";
import type { GrantEntry } from "./schema.ts";

/**
 * Why `[scope.name]` selects no crate, or undefined when it selects one: a `[build.*]` table
 * needs a build script (or a proc macro, for its `proc-macro` pin), a `[test.*]` table a
 * workspace member (cargo runs only members' tests, benches and programs), a `[rustc.*]` table
 * only the crate (every crate is compiled).
 */
export function unmatchedReason(
  scope: GrantPhase,
  name: string,
  entry: Pick<GrantEntry, "source" | "proc-macro">,
  crates: readonly GraphCrate[],
): string | undefined {
  const named = crates.filter((c) => c.name === name && c.source === entry.source);
  if (named.length === 0) {
    const other = crates.find((c) => c.name === name);
    return other
      ? `the build graph's ${name} is a ${other.source} crate, the table selects ${entry.source} crates`
      : `no crate named ${name} in the build graph`;
  }
  switch (scope) {
    case "build":
      return named.some((c) => c.hasBuildScript || (c.isProcMacro && entry["proc-macro"] !== undefined)) ? undefined : `${name} has no build script`;
    case "test":
      return named.some((c) => c.isWorkspaceMember) ? undefined : `${name} is not a workspace member (cargo runs only members' tests, benches and programs)`;
    case "rustc":
      return undefined;
  }
}
