/**
 * `cratebox learn cargo ...`: every step runs traced, with what cratebox.toml grants already
 * (nothing, the first time) and an egress proxy that refuses what is not listed, so that a host
 * asked for by name is seen by name. Afterwards the proposal (core/learn.ts) is written next to
 * cratebox.toml as cratebox.toml.proposed, with the diff printed for review. Nothing is applied.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { CrateGraph } from "../core/crate-graph.ts";
import { PROFILE_FILE } from "../core/grant-decision.ts";
import { proposeGrants } from "../core/learn.ts";
import type { StepOutcome } from "../core/step-outcome.ts";
import { isDirectory } from "./host-facts.ts";

export function learnFromRun(workspaceRoot: string, outcomes: readonly StepOutcome[], graph: CrateGraph | undefined, print: (line: string) => void): void {
  const file = path.join(workspaceRoot, PROFILE_FILE);
  const proposal = proposeGrants({
    current: existsSync(file) ? readFileSync(file, "utf8") : undefined,
    file,
    workspaceRoot,
    outcomes,
    checksumOf: (name, version) => graph?.crates.find((c) => c.name === name && c.version === version)?.checksum,
    isDirectory,
  });
  for (const line of proposal.lines) print(line);
  if (proposal.text === undefined) {
    print("learn: no step failed for want of a grant cratebox.toml can give; nothing to propose");
    return;
  }
  const proposed = `${file}.proposed`;
  writeFileSync(proposed, proposal.text);
  const diff = spawnSync("diff", ["-u", "-N", file, proposed], { encoding: "utf8" });
  print(`learn: proposed grants for ${proposal.tables.map((t) => `[${t}]`).join(", ")} written to ${proposed}; nothing was applied:`);
  for (const line of diff.stdout.trimEnd().split("\n")) print(line);
  print(`learn: review them, then \`mv ${proposed} ${file}\``);
}
