/**
 * `cratebox learn`: from the traced outcomes of a run to a proposed cratebox.toml. Pure: the
 * runtime (runtime/learn.ts) hands in the current file, the outcomes and the host facts, and
 * writes what this returns.
 *
 * Only steps that FAILED get a proposal, for the likeliest cause: a directive the firewall kept
 * back, a host the egress proxy refused, else the last thing the trace saw denied, else a
 * variable the script declared it reads and was withheld. Denials of steps that succeeded are
 * probes that tolerate failure (an optional config file): shown, never proposed. Each table is
 * pinned like approve's and checked like approve's (core/profile/approve.ts) before anything
 * is written; a denial no key of cratebox.toml can grant (a Unix socket: none is ever mounted)
 * is said as such instead of becoming a table that grants nothing.
 */
import path from "node:path";
import { isWithin } from "./paths.ts";
import { toGrantPhase } from "./phase.ts";
import { applyTableEdit, currentEntry, type GrantRequest, NEW_PROFILE_TEXT, toApprovedTable } from "./profile/approve.ts";
import { parseProfile } from "./profile/parse.ts";
import type { StepOutcome } from "./step-outcome.ts";
import { toGrantPaths, toLikelyCauses } from "./trace.ts";

export interface LearnInput {
  /** cratebox.toml as it is (undefined: there is none), and its path. */
  current: string | undefined;
  file: string;
  workspaceRoot: string;
  outcomes: readonly StepOutcome[];
  /** Cargo.lock's checksum of a crate, for the pin. */
  checksumOf: (name: string, version: string) => string | undefined;
  isDirectory: (p: string) => boolean;
}

export interface Proposal {
  /** The whole proposed file; undefined when nothing could be proposed. */
  text: string | undefined;
  /** Tables the proposal adds to or changes. */
  tables: string[];
  /** What learn says about each step, for the user. */
  lines: string[];
}

export function proposeGrants(input: LearnInput): Proposal {
  let text = input.current ?? NEW_PROFILE_TEXT;
  const parsed = parseProfile(text, input.file);
  const profile = parsed.ok ? parsed.value.profile : undefined;
  const rel = (p: string) => (isWithin(p, input.workspaceRoot) ? path.relative(input.workspaceRoot, p) || "." : p);
  const tables: string[] = [];
  const lines: string[] = [];
  for (const o of input.outcomes) {
    const d = o.denials;
    if (!d) continue;
    const phase = toGrantPhase(o.phase);
    const what = `${o.crate} ${o.version} (${o.phase === "build-script" ? "build script" : o.program})`;
    // Hosts asked for through the egress proxy (learn mode gives every step one): by name and port.
    const refusedHosts = [...new Set(o.egress.filter((e) => e.decision === "refused" && e.grant).map((e) => e.target))];
    // A compilation says itself what it missed (rustc's diagnostics: env!, include_str!).
    const compiled = {
      env: (o.compileMissing?.envMissing ?? []).filter((n) => o.withheldEnv.includes(n)),
      read: o.compileMissing?.unreadable ?? [],
    };
    const tried = [
      ...d.reads.map((r) => `read ${r}`),
      ...d.writes.map((w) => `write ${w}`),
      ...refusedHosts.map((h) => `network ${h}`),
      ...d.connects.map((c) => `connect ${c}`),
      ...d.sockets.map((s) => `socket ${s}`),
      ...o.askedWithheld.map((e) => `env ${e}`),
      ...compiled.env.map((e) => `env ${e}`),
      ...compiled.read.map((r) => `read ${r}`),
    ];
    const blocked = o.blockedDirectives.map((b) => b.directive);
    // A nested cargo (trybuild) that failed: what it missed is cargo's configuration, which one key grants.
    const nestedCargo = !o.ok && o.nestedCargoSeen === true && phase === "test" && !o.grant.items.some((i) => i.key === "cargo" && i.value === "true");
    if (nestedCargo) {
      const also = tried.length > 0 ? `; also tried (not proposed): ${tried.join(", ")}` : "";
      const had = currentEntry(profile, phase, o.crate);
      const crate = { name: o.crate, version: o.version, source: o.source, checksum: input.checksumOf(o.crate, o.version) };
      const edit = toApprovedTable(
        crate,
        phase,
        had,
        { cargo: true },
        { comment: "proposed by cratebox learn: a nested cargo (trybuild) in it failed", pinSource: false },
      );
      lines.push(`learn: ${what} failed after a nested cargo in it failed; proposing cargo = true${also}`);
      text = applyTableEdit(text, input.file, `${phase}.${o.crate}`, edit);
      tables.push(`${phase}.${o.crate}`);
      continue;
    }
    if (tried.length === 0 && blocked.length === 0) continue;
    if (o.ok) {
      lines.push(`learn: ${what} tolerated (not proposed): ${tried.join(", ")}`);
      continue;
    }
    // A step stopped by the directive firewall ran to its end: the directives are the cause.
    const told = blocked.length > 0 || o.askedWithheld.length > 0 || refusedHosts.length > 0 || compiled.env.length + compiled.read.length > 0;
    const causes = told ? [] : toLikelyCauses(d.sequence, input.workspaceRoot);
    const cause = causes.at(-1);
    const proposed =
      blocked.length > 0
        ? blocked.map((b) => `directive ${b}`)
        : refusedHosts.length > 0
          ? refusedHosts.map((h) => `network ${h}`)
          : compiled.env.length + compiled.read.length > 0
            ? [...compiled.env.map((e) => `env ${e}`), ...compiled.read.map((r) => `read ${r}`)]
            : causes.length > 0
              ? causes.map((c) => `${c.kind} ${c.value}`)
              : o.askedWithheld.map((e) => `env ${e}`);
    const also = tried.filter((t) => !proposed.includes(t));
    const alsoText = also.length > 0 ? `; also tried (not proposed): ${also.join(", ")}` : "";
    if (cause?.kind === "socket") {
      lines.push(
        `learn: ${what} failed after trying to reach the Unix socket ${cause.value}; no key of cratebox.toml grants a host socket (the sandbox never mounts one), so nothing is proposed for it${alsoText}`,
      );
      continue;
    }
    const had = currentEntry(profile, phase, o.crate);
    const pick = (kind: "read" | "write") =>
      toGrantPaths(
        causes.filter((c) => c.kind === kind).map((c) => c.value),
        kind,
        input.isDirectory,
      ).map(rel);
    const request: GrantRequest = {
      env: compiled.env.length ? compiled.env : causes.length || blocked.length ? [] : o.askedWithheld,
      read: compiled.read.length ? compiled.read.map(rel) : pick("read"),
      write: pick("write"),
      directives: blocked,
    };
    // Named hosts become a list; a direct connect to an address (a client that ignores the proxy
    // variables) can only be served by full access.
    if (blocked.length === 0 && refusedHosts.length > 0 && had?.network !== true) request.connect = refusedHosts;
    else if (cause?.kind === "connect" || had?.network === true) request.network = true;
    const checksum = input.checksumOf(o.crate, o.version);
    const table = `${phase}.${o.crate}`;
    const crate = { name: o.crate, version: o.version, source: o.source, checksum };
    const edit = toApprovedTable(crate, phase, had, request, {
      comment: `proposed by cratebox learn: it failed after trying ${proposed.join(", ")}`,
      pinSource: false,
    });
    lines.push(`learn: ${what} failed; proposing ${proposed.join(", ")}${alsoText}`);
    text = applyTableEdit(text, input.file, table, edit);
    tables.push(table);
  }
  return { text: tables.length > 0 ? text : undefined, tables, lines };
}
