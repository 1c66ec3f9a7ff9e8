/**
 * `cratebox profiles ls|explain|check|prune|diff`, `cratebox approve` and `cratebox deny`:
 * reading and writing the workspace's cratebox.toml against the crate graph cargo resolves.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseCargoInvocation } from "../core/cargo-args.ts";
import type { CrateGraph, GraphCrate } from "../core/crate-graph.ts";
import { CrateboxError, EXIT } from "../core/errors.ts";
import { PINS_FILE } from "../core/pins/records.ts";
import { capGrant, describeGrantStatus, grantPhasesOf, PROFILE_FILE } from "../core/grant-decision.ts";
import { toGrantSummary } from "../core/grant-summary.ts";
import { GRANT_PHASE_TEXT, GRANT_PHASES, type GrantPhase } from "../core/phase.ts";
import { describeRefusals } from "../core/policy/apply.ts";
import { applyTableEdit, currentEntry, type GrantRequest, NEW_PROFILE_TEXT, toApprovedTable } from "../core/profile/approve.ts";
import { removeTable } from "../core/profile/edit.ts";
import { entriesOf } from "../core/profile/parse.ts";
import { unmatchedReason } from "../core/profile/prune.ts";
import { describeAmbiguity, describePinMismatch, resolveGrant } from "../core/profile/resolve.ts";
import { readCrateGraph } from "./crate-graph.ts";
import { buildScriptDiff, GrantBook, policySources } from "./grants.ts";
import { loadBuiltins, loadProfile } from "./profile-files.ts";
import { evaluatePolicies } from "./policy.ts";
import { loadPolicy } from "./policy-source.ts";
import { auditSuffix, evidenceLines, procMacroStatus } from "./evidence.ts";
import { checkCarry, planContentPins, toRecordsFile } from "./pins/approve.ts";

interface Workspace {
  graph: CrateGraph;
  book: GrantBook;
  file: string;
  /** Pin records that could not be used. */
  warnings: string[];
}

export interface CommandContext {
  cwd: string;
  env: NodeJS.ProcessEnv;
  cargo: string;
  print: (line: string) => void;
  /** --policy files (CRATEBOX_POLICY and cratebox.toml's `policy` are added). */
  policies?: string[];
}

async function openWorkspace(ctx: CommandContext): Promise<Workspace> {
  const graph = await readCrateGraph(ctx.cargo, parseCargoInvocation([]), [], ctx.cwd, ctx.env);
  const profile = loadProfile(graph.workspaceRoot);
  const book = new GrantBook(profile, loadBuiltins(), graph, {}, [], ctx.env);
  await book.readAudits();
  const warnings = await book.observeContent();
  const files = policySources(ctx.policies ?? [], ctx.env, profile.parsed.profile.policy ?? [], graph.workspaceRoot, ctx.cwd);
  if (files.length > 0) book.setPolicies(await evaluatePolicies(files.map(loadPolicy), book.toPolicyInput([], Boolean(ctx.env.CI))));
  return { graph, book, file: path.join(graph.workspaceRoot, PROFILE_FILE), warnings };
}

const LS_LABEL: Record<GrantPhase | "proc-macro", string> = {
  build: "build script",
  test: "tests       ",
  rustc: "compilation ",
  "proc-macro": "proc macro  ",
};

/** Every crate with a build script or test binaries and its effective grant. */
export async function profilesLs(ctx: CommandContext): Promise<number> {
  const ws = await openWorkspace(ctx);
  // Proc macros run inside the compilations of the crates that use them: listed for their content pins and audits.
  const rows = ws.graph.crates
    .flatMap((c) =>
      [...grantPhasesOf(c, ws.book.context.parsed), ...(c.isProcMacro && !c.hasBuildScript ? (["proc-macro"] as const) : [])].map((phase) => ({ c, phase })),
    )
    .sort((a, b) => a.c.name.localeCompare(b.c.name) || a.phase.localeCompare(b.phase));
  ctx.print(`${ws.book.profile.exists ? ws.file : `no ${PROFILE_FILE} in ${ws.graph.workspaceRoot}: everything runs with the default (deny)`}`);
  for (const w of ws.warnings) ctx.print(`warning: ${w}`);
  for (const { c, phase } of rows)
    ctx.print(
      `${LS_LABEL[phase]}  ${c.name} ${c.version} (${c.source})  ${phase === "proc-macro" ? procMacroStatus(ws.book, c) : describeGrantStatus(ws.book.context, c, phase)}${phase === "build" || phase === "proc-macro" ? auditSuffix(ws.book, c) : ""}`,
    );
  return 0;
}

/** Each effective capability of a crate and where it came from. */
export async function profilesExplain(ctx: CommandContext, name: string): Promise<number> {
  const ws = await openWorkspace(ctx);
  const crates = ws.graph.crates.filter((c) => c.name === name);
  if (crates.length === 0) throw new CrateboxError("NO_SUCH_CRATE", `no crate named ${name} in this build graph`, "`cratebox profiles ls` lists them");
  for (const c of crates) {
    const phases = grantPhasesOf(c, ws.book.context.parsed);
    if (phases.length === 0)
      ctx.print(
        `${c.name} ${c.version} (${c.source}): ${c.isProcMacro ? "a proc macro (it runs in the compiler's sandbox of each crate that uses it)" : "no build script"} and not a workspace member: no step of its own`,
      );
    for (const phase of phases) {
      ctx.print(
        `${c.name} ${c.version} (${c.source}), ${phase === "build" ? "build script" : "test/bench/run binaries"}${c.dependents.length ? `, used by ${c.dependents.join(", ")}` : ""}`,
      );
      const r = resolveGrant(ws.book.context.parsed, ws.book.context.builtins, c, phase);
      if (r.kind !== "granted")
        ctx.print(`  ${r.kind === "pin-mismatch" ? describePinMismatch(r) : describeAmbiguity(r)}\n  until then it gets only what follows:`);
      const { effective: g, outcome } = r.kind === "granted" ? capGrant(ws.book.context, c, phase) : { effective: r.withoutEntry, outcome: undefined };
      const summary = toGrantSummary(g);
      ctx.print(`  table: ${summary.table ?? "none (default: deny)"}`);
      for (const item of summary.items) ctx.print(`  ${item.key.padEnd(8)} ${item.value.padEnd(28)} from ${item.from}`);
      for (const s of g.skipped) ctx.print(`  not applied: [${s.entry.table}]: ${s.reason}`);
      for (const s of outcome?.shapedBy ?? []) ctx.print(`  policy   ${s.capability}: ${s.detail}  (rule ${s.rule}, ${s.file})`);
      if (outcome) for (const line of describeRefusals({ name: c.name, version: c.version, phase }, outcome)) ctx.print(`  STOPS THE RUN: ${line}`);
      if (c.requests !== undefined) ctx.print(`  the crate's manifest requests (shown, never applied): ${JSON.stringify(c.requests)}`);
    }
    for (const line of evidenceLines(ws.book, c)) ctx.print(`  ${line}`);
  }
  return 0;
}

/** Validates cratebox.toml and its fit with the build graph; non-zero on any problem (for CI). */
export async function profilesCheck(ctx: CommandContext, strict: boolean): Promise<number> {
  const ws = await openWorkspace(ctx); // throws ProfileInvalidError (exit 2) with every problem
  for (const w of ws.book.profile.warnings) ctx.print(`warning: ${w}`);
  for (const w of await ws.book.preflight(strict || ws.book.profile.parsed.profile.strict === true)) ctx.print(`warning: ${w}`);
  ctx.print(ws.book.profile.exists ? `${ws.file}: ok` : `no ${PROFILE_FILE}: every step runs with the default (deny)`);
  return 0;
}

export interface ApproveOptions extends GrantRequest {
  crate: string;
  version?: string;
  phase: GrantPhase;
  deny?: boolean;
  /** Move the table's version pin to the resolved version only if its content pins still hold (issue 15). */
  carry?: boolean;
}

function pick(ws: Workspace, name: string, version: string | undefined): GraphCrate {
  const all = ws.graph.crates.filter((c) => c.name === name && (version === undefined || c.version === version));
  if (all.length === 0)
    throw new CrateboxError("NO_SUCH_CRATE", `no crate named ${name}${version ? ` ${version}` : ""} in this build graph`, "`cratebox profiles ls` lists them");
  if (all.length > 1)
    throw new CrateboxError(
      "WHICH_CRATE",
      `${name} is in the graph ${all.length} times (${all.map((c) => `${c.version} ${c.source}`).join(", ")})`,
      "say which with --crate-version",
    );
  return all[0]!;
}

/**
 * Writes a grant pinned to what cargo resolved now (exact version, source, Cargo.lock checksum)
 * into cratebox.toml, keeping comments and layout (core/profile/approve.ts). `deny` writes the
 * same pins with `reviewed = true` and no capabilities.
 */
export async function approve(ctx: CommandContext, o: ApproveOptions): Promise<number> {
  const ws = await openWorkspace(ctx);
  const crate = pick(ws, o.crate, o.version);
  const table = `${o.phase}.${crate.name}`;
  const text = existsSync(ws.file) ? readFileSync(ws.file, "utf8") : NEW_PROFILE_TEXT;
  const current = ws.book.profile.exists ? currentEntry(ws.book.profile.parsed.profile, o.phase, crate.name) : undefined;
  const when = new Date().toISOString().slice(0, 10);
  if (o.carry) {
    if (o.phase !== "build" || o.deny) throw new CrateboxError("APPROVE_CONFLICT", "--carry moves the content pins of a [build.*] table", "drop --test");
    const carry = await checkCarry(ws.book.pins, crate, current);
    if (!carry.carried) {
      ctx.print(carry.message);
      return EXIT.FINDINGS;
    }
    const next = applyTableEdit(text, ws.file, table, toApprovedTable(crate, "build", current, {}, { comment: `carried on ${when}`, pinSource: true }));
    writeFileSync(ws.file, next);
    for (const l of carry.lines) ctx.print(l);
    ctx.print(`carried: [${table}] now pinned to ${crate.name} ${crate.version} (${crate.source}) in ${ws.file}`);
    return 0;
  }
  const pins = o.phase === "build" ? planContentPins(ws.book.pins, crate, current) : undefined;
  const edit = toApprovedTable(
    crate,
    o.phase,
    current,
    { ...o, ...(pins ? { contentPins: pins.contentPins } : {}) },
    {
      comment: `${o.deny ? "reviewed, default deny" : "approved"} with cratebox ${o.deny ? "deny" : "approve"} on ${when}`,
      pinSource: true,
    },
  );
  const next = applyTableEdit(text, ws.file, table, edit);
  writeFileSync(ws.file, next);
  ctx.print(
    `${o.deny ? "denied" : "approved"}: [${table}] pinned to ${crate.name} ${crate.version} (${crate.source})${crate.checksum ? ", checksum from Cargo.lock" : ""} in ${ws.file}`,
  );
  if (pins) {
    const recordsFile = path.join(ws.graph.workspaceRoot, PINS_FILE);
    const records = toRecordsFile(ws.book.pins, next, ws.file, pins.records, existsSync(recordsFile));
    if (records !== undefined) writeFileSync(recordsFile, records);
    for (const l of pins.lines) ctx.print(l);
  }
  const who = `${crate.name}'s ${GRANT_PHASE_TEXT[o.phase]}`;
  for (const w of o.write ?? []) ctx.print(`WARNING: ${who} may now WRITE to ${w}`);
  if (o.network) ctx.print(`WARNING: ${who} now get full network access; --connect host:port grants only the hosts it needs`);
  return 0;
}

/** Removes tables that select no crate of the build graph (no crate of that name and source). */
export async function profilesPrune(ctx: CommandContext): Promise<number> {
  const ws = await openWorkspace(ctx);
  if (!ws.book.profile.exists) {
    ctx.print(`no ${PROFILE_FILE}: nothing to prune`);
    return 0;
  }
  let text = readFileSync(ws.file, "utf8");
  // A table goes only when none of its entries (`[[build.x]]` may have several) selects a crate.
  const reasons = new Map<string, (string | undefined)[]>();
  for (const e of entriesOf(ws.book.profile.parsed.profile)) {
    const table = `${e.scope}.${e.name}`;
    reasons.set(table, [...(reasons.get(table) ?? []), unmatchedReason(e.scope, e.name, e.entry, ws.graph.crates)]);
  }
  const gone = new Map<string, string>();
  for (const [table, whys] of reasons) {
    if (whys.some((w) => w === undefined)) continue;
    gone.set(table, whys[0]!);
    text = removeTable(text, table);
  }
  if (gone.size === 0) {
    ctx.print("every table selects a crate of this build graph: nothing to prune");
    return 0;
  }
  writeFileSync(ws.file, text);
  for (const [table, why] of gone) ctx.print(`pruned [${table}]: ${why}`);
  return 0;
}

/** The diff of a crate's build script (and files it include!s) between the reviewed and the resolved version. */
export async function profilesDiff(ctx: CommandContext, name: string): Promise<number> {
  const ws = await openWorkspace(ctx);
  const crate = pick(ws, name, undefined);
  const r = resolveGrant(ws.book.context.parsed, ws.book.context.builtins, crate, "build");
  if (r.kind !== "pin-mismatch") throw new CrateboxError("NO_STALE_PIN", `${name}'s grant has no stale pin: nothing to compare`);
  for (const stale of r.stale) {
    // A content pin (issue 15) says what changed in the code itself, whatever the version.
    if (!stale.failed.includes("version")) {
      ctx.print(ws.book.pins.describeStale(crate, [stale]).trimStart());
      continue;
    }
    const diff = buildScriptDiff(crate, stale.version);
    ctx.print(diff ?? `the reviewed version ${stale.version ?? "?"} of ${name} is not on disk next to ${crate.manifestDir}: compare it by hand`);
  }
  return 0;
}

/** `cratebox policy test <file>`: the decisions of a policy for a workspace, without building. */
export async function policyTest(ctx: CommandContext, file: string): Promise<number> {
  const ws = await openWorkspace({ ...ctx, policies: [file] });
  const input = ws.book.toPolicyInput([], Boolean(ctx.env.CI));
  let stops = 0;
  ctx.print(`policies: ${ws.book.context.policies.map((p) => `${p.file} (${p.decisions.length} decision${p.decisions.length === 1 ? "" : "s"})`).join(", ")}`);
  for (const crate of input.crates) {
    for (const phase of GRANT_PHASES) {
      if (crate.requested[phase] === null) continue;
      const graphCrate = ws.graph.crates.find((c) => c.name === crate.name && c.version === crate.version)!;
      const { outcome } = capGrant(ws.book.context, graphCrate, phase);
      if (!outcome) continue;
      const refusals = describeRefusals({ name: crate.name, version: crate.version, phase }, outcome);
      stops += refusals.length;
      const shaped = outcome.shapedBy.map((s) => `${s.capability}: ${s.detail} (rule ${s.rule})`);
      const verdict = refusals.length ? "STOPS THE RUN" : shaped.length ? "capped" : "as granted";
      ctx.print(`${phase === "build" ? "build script" : "tests       "}  ${crate.name} ${crate.version}  ${verdict}`);
      for (const line of [...shaped, ...refusals]) ctx.print(`    ${line}`);
    }
  }
  return stops > 0 ? 1 : 0;
}
