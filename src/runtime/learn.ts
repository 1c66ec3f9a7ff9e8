/**
 * `cratebox learn cargo ...`: every step runs traced, with what cratebox.toml grants already
 * (nothing, the first time) and an egress proxy that refuses what is not listed, so that a
 * host asked for by name is seen by name; afterwards the denials of the steps that FAILED become a proposed
 * cratebox.toml (pinned entries, merged into
 * the current file keeping its comments) written next to it as cratebox.toml.proposed, with the
 * diff printed for review. Nothing is applied. Denials of steps that succeeded anyway are probes
 * that tolerate failure (an optional config file): shown, never proposed.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { isWithin } from "../core/paths.ts";
import { upsertTable, type TomlValue } from "../core/profile/edit.ts";
import { entriesOf, parseProfile } from "../core/profile/parse.ts";
import { defaultSourceOf } from "../core/profile/schema.ts";
import { toGrantPhase } from "../core/phase.ts";
import type { StepOutcome } from "../core/step-outcome.ts";
import { toGrantDirs } from "../core/trace.ts";
import type { CrateGraph } from "../core/crate-graph.ts";
import { PROFILE_FILE } from "./grants.ts";
import { isDirectory } from "./host-facts.ts";

export interface Proposal {
  file: string;
  text: string;
  /** Tables the proposal adds to or changes. */
  tables: string[];
}

export function proposeGrants(
  workspaceRoot: string,
  outcomes: readonly StepOutcome[],
  graph: CrateGraph | undefined,
  print: (line: string) => void,
): Proposal | undefined {
  const current = path.join(workspaceRoot, PROFILE_FILE);
  let text = existsSync(current) ? readFileSync(current, "utf8") : `#:schema ./node_modules/cratebox/profiles/schema.json\nversion = 1\n`;
  const parsed = parseProfile(text, current);
  const existing = parsed.ok ? entriesOf(parsed.value.profile) : [];
  const rel = (p: string) => (isWithin(p, workspaceRoot) ? path.relative(workspaceRoot, p) || "." : p);
  const tables: string[] = [];
  for (const o of outcomes) {
    const d = o.denials;
    const scope = toGrantPhase(o.phase);
    const what = `${o.crate} ${o.version} (${o.phase === "build-script" ? "build script" : o.program})`;
    if (!d) continue;
    // Hosts asked for through the egress proxy (learn mode gives every step one): by name and port.
    const refusedHosts = [...new Set(o.egress.filter((e) => e.decision === "refused" && e.grant).map((e) => e.target))];
    const tried = [
      ...d.reads.map((r) => `read ${r}`),
      ...d.writes.map((w) => `write ${w}`),
      ...refusedHosts.map((h) => `network ${h}`),
      ...d.connects.map((c) => `connect ${c}`),
      ...d.sockets.map((s) => `socket ${s}`),
      ...o.askedWithheld.map((e) => `env ${e}`),
    ];
    const blockedDirectives = o.blockedDirectives.map((b) => b.directive);
    if (tried.length === 0 && blockedDirectives.length === 0) continue;
    if (o.ok) {
      print(`learn: ${what} tolerated (not proposed): ${tried.join(", ")}`);
      continue;
    }
    // A step stopped by the directive firewall ran to its end: the directives are the cause.
    const cause = blockedDirectives.length > 0 || o.askedWithheld.length > 0 || refusedHosts.length > 0 ? undefined : d.sequence.at(-1);
    const proposedWhat =
      blockedDirectives.length > 0
        ? blockedDirectives.map((b) => `directive ${b}`)
        : refusedHosts.length > 0
          ? refusedHosts.map((h) => `network ${h}`)
          : cause
            ? [`${cause.kind} ${cause.value}`]
            : o.askedWithheld.map((e) => `env ${e}`);
    print(
      `learn: ${what} failed; proposing ${proposedWhat.join(", ")}${tried.length > proposedWhat.length ? `; also tried (not proposed): ${tried.filter((t) => !proposedWhat.includes(t)).join(", ")}` : ""}`,
    );
    const had = existing.find((e) => e.scope === scope && e.name === o.crate && e.index === undefined)?.entry;
    const union = (a: readonly string[] | undefined, b: readonly string[]) => [...new Set([...(a ?? []), ...b])];
    const checksum = graph?.crates.find((c) => c.name === o.crate && c.version === o.version)?.checksum;
    const set: Record<string, TomlValue> = { version: `=${o.version}` };
    if (o.source !== defaultSourceOf(scope)) set.source = o.source;
    if (checksum) set.checksum = `sha256:${checksum.replace(/^sha256:/, "")}`;
    const pick = (kind: string) => (cause?.kind === kind ? [cause.value] : []);
    const env = union(
      had?.env?.map((e) => e.text),
      cause || blockedDirectives.length ? [] : o.askedWithheld,
    );
    const directives = union(had?.directives, blockedDirectives);
    const read = union(had?.read, toGrantDirs(pick("read"), isDirectory).map(rel));
    const write = union(had?.write, toGrantDirs(pick("write"), isDirectory).map(rel));
    if (env.length) set.env = env;
    if (read.length) set.read = read;
    if (write.length) set.write = write;
    if (directives.length) set.directives = directives;
    // Named hosts become a list; a direct connect to an address (a client that ignores the proxy
    // variables) can only be served by full access.
    if (blockedDirectives.length === 0 && refusedHosts.length > 0 && had?.network !== true)
      set.network = union(Array.isArray(had?.network) ? had.network : [], refusedHosts);
    else if (cause?.kind === "connect" || had?.network === true) set.network = true;
    const table = `${scope}.${o.crate}`;
    text = upsertTable(text, table, { set, comment: [`proposed by cratebox learn: it failed after trying ${proposedWhat.join(", ")}`] });
    tables.push(table);
  }
  if (tables.length === 0) return undefined;
  return { file: `${current}.proposed`, text, tables };
}

/** Writes the proposal and prints its diff against the current file. */
export function writeProposal(p: Proposal, print: (line: string) => void): void {
  writeFileSync(p.file, p.text);
  const current = p.file.replace(/\.proposed$/, "");
  const diff = spawnSync("diff", ["-u", "-N", current, p.file], { encoding: "utf8" });
  print(`learn: proposed grants for ${p.tables.map((t) => `[${t}]`).join(", ")} written to ${p.file}; nothing was applied:`);
  for (const line of diff.stdout.trimEnd().split("\n")) print(line);
  print(`learn: review them, then \`mv ${p.file} ${current}\``);
}
