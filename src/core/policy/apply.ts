/**
 * Several policies' decisions applied to one step's grant. Pure.
 *
 * Policies compose and the strictest wins, whatever their order:
 * - limits: the lowest ceiling (a ceiling above the request changes nothing; `cpus` null, all
 *   the host's, is above any ceiling),
 * - network: off if any applicable decision caps it to false (the host list and fetch grants
 *   go with it); a `hosts` ceiling keeps only listed hosts it covers, and turns full access off,
 * - cargo (a nested cargo): off if any applicable decision caps it to false,
 * - fetch grants stay unless network is capped to false: each names one file by its hash,
 * - env, read, write: a granted item stays only if every applicable ceiling keeps it
 *   (ceilings.ts), so allowed lists intersect,
 * - any applicable `deny` denies, any unmet `require` refuses; `allow` records that a policy saw
 *   the request and had nothing against it, it never undoes another policy's deny or cap.
 * A policy can only take away: caps lower, never raise, and nothing here adds to a grant.
 *
 * Requirements are checked against the requested grant (caps do not change pins):
 * `checksum-pin`: the table has `checksum`; `version-pin`: its `version` is exact (`=1.2.3`);
 * `reviewed`: it says `reviewed = true`. A step no table selects meets none of them.
 */
import { formatLimit, LIMIT_FIELDS } from "../limits.ts";
import { GRANT_PHASES, type GrantPhase } from "../phase.ts";
import { envPatternCovers, hostCovers, isExactVersionPin, pathCovers } from "./ceilings.ts";
import type { GrantView, LimitCap, PolicyDecision, PolicyDecisions, PolicyInput, Requirement } from "./schema.ts";

/** The step decisions are applied to. */
export interface PolicyTarget {
  name: string;
  version: string;
  phase: GrantPhase;
  /** As cratebox.toml resolves it, before any policy. */
  grant: GrantView;
}

/** Which rule of which file: every outcome cites one. */
interface PolicyCitation {
  file: string;
  /** The decision's `rule`, or `decision [i]` (its index in what the policy returned). */
  rule: string;
}

interface PolicyRefusal extends PolicyCitation {
  message: string;
}

interface UnmetRequirement extends PolicyCitation {
  requirement: Requirement;
  message: string;
}

type ShapedCapability = PolicyCitation & {
  capability: "network" | "hosts" | "fetch" | "cargo" | "env" | "read" | "write" | LimitCap;
  /** What the ceiling changed: `timeoutMs 1h -> 30m`, `OPENSSL_DIR removed (ceiling: CC, CFLAGS)`. */
  detail: string;
};

export interface PolicyOutcome {
  /** The grant with every ceiling applied. */
  grant: GrantView;
  /** Explicit `allow` decisions (for `policy test` and explain). */
  allowed: (PolicyCitation & { message: string | undefined })[];
  denied: PolicyRefusal[];
  unmet: UnmetRequirement[];
  /** Each ceiling that changed the grant: the rules `profiles explain` cites. */
  shapedBy: ShapedCapability[];
}

/** Does this decision speak about this step? */
export function decisionApplies(d: PolicyDecision, target: Pick<PolicyTarget, "name" | "version" | "phase">): boolean {
  return (
    (d.crate === "*" || d.crate === target.name) && (d.version === undefined || d.version === target.version) && (d.phase === "*" || d.phase === target.phase)
  );
}

interface Matched<A extends PolicyDecision["action"]> extends PolicyCitation {
  d: Extract<PolicyDecision, { action: A }>;
}

export function applyPolicies(target: PolicyTarget, policies: readonly PolicyDecisions[]): PolicyOutcome {
  const requested = target.grant;
  const grant: GrantView = {
    ...requested,
    hosts: [...requested.hosts],
    fetch: requested.fetch.map((f) => ({ ...f })),
    pinned: { ...requested.pinned },
    profiles: [...requested.profiles],
    limits: { ...requested.limits },
  };
  const out: PolicyOutcome = { grant, allowed: [], denied: [], unmet: [], shapedBy: [] };
  const caps: Matched<"cap">[] = [];

  for (const policy of policies) {
    policy.decisions.forEach((d, i) => {
      if (!decisionApplies(d, target)) return;
      const cite = { file: policy.file, rule: d.rule ?? `decision [${i}]` };
      switch (d.action) {
        case "allow":
          out.allowed.push({ ...cite, message: d.message });
          break;
        case "deny":
          out.denied.push({ ...cite, message: d.message ?? "denied by policy" });
          break;
        case "cap":
          caps.push({ ...cite, d });
          break;
        case "require":
          for (const requirement of d.require) {
            if (!meets(requested, requirement)) out.unmet.push({ ...cite, requirement, message: d.message ?? describeUnmet(requested, requirement) });
          }
          break;
      }
    });
  }

  const shaped = (c: Matched<"cap">, capability: ShapedCapability["capability"], detail: string) =>
    out.shapedBy.push({ file: c.file, rule: c.rule, capability, detail });

  const off = caps.filter((c) => c.d.caps.network === false);
  if (requested.network) {
    // Full access is wider than any host list: a hosts ceiling takes it away too.
    const narrowed = caps.filter((c) => c.d.caps.hosts !== undefined);
    if (off.length + narrowed.length > 0) grant.network = false;
    for (const c of off) shaped(c, "network", "network on -> off");
    for (const c of narrowed) shaped(c, "network", `network on -> off (ceiling: hosts ${describeList(c.d.caps.hosts!)})`);
  }
  if (off.length > 0) {
    for (const c of off) {
      for (const h of requested.hosts) shaped(c, "hosts", `${h} removed (network = false)`);
      for (const f of requested.fetch) shaped(c, "fetch", `${f.url} removed (network = false)`);
    }
    grant.hosts = [];
    grant.fetch = [];
  } else {
    const ceilings = caps.filter((c) => c.d.caps.hosts !== undefined);
    grant.hosts = requested.hosts.filter((item) => {
      const excluding = ceilings.filter((c) => !c.d.caps.hosts!.some((ceiling) => hostCovers(ceiling, item)));
      for (const c of excluding) shaped(c, "hosts", `${item} removed (ceiling: ${describeList(c.d.caps.hosts!)})`);
      return excluding.length === 0;
    });
  }

  if (requested.cargo) {
    const noCargo = caps.filter((c) => c.d.caps.cargo === false);
    if (noCargo.length > 0) grant.cargo = false;
    for (const c of noCargo) shaped(c, "cargo", "cargo (nested cargo) on -> off");
  }

  for (const key of LIMIT_FIELDS) {
    const ceilings = caps.filter((c) => c.d.caps[key] !== undefined);
    if (ceilings.length === 0) continue;
    const lowest = Math.min(...ceilings.map((c) => c.d.caps[key]!));
    const current = requested.limits[key];
    if (current !== null && current <= lowest) continue;
    grant.limits[key] = lowest;
    for (const c of ceilings) if (c.d.caps[key] === lowest) shaped(c, key, `${key} ${formatLimit(key, current)} -> ${formatLimit(key, lowest)}`);
  }

  for (const key of ["env", "read", "write"] as const) {
    const covers = key === "env" ? envPatternCovers : pathCovers;
    const ceilings = caps.filter((c) => c.d.caps[key] !== undefined);
    if (ceilings.length === 0) continue;
    grant[key] = requested[key].filter((item) => {
      const excluding = ceilings.filter((c) => !c.d.caps[key]!.some((ceiling) => covers(ceiling, item)));
      for (const c of excluding) shaped(c, key, `${item} removed (ceiling: ${describeList(c.d.caps[key]!)})`);
      return excluding.length === 0;
    });
  }
  return out;
}

/** Every step of the input (each crate's build and test grants that exist), with its outcome. */
export function applyPoliciesToInput(input: PolicyInput, policies: readonly PolicyDecisions[]): (PolicyTarget & { outcome: PolicyOutcome })[] {
  const out: (PolicyTarget & { outcome: PolicyOutcome })[] = [];
  for (const crate of input.crates) {
    for (const phase of GRANT_PHASES) {
      const grant = crate.requested[phase];
      if (grant === null) continue;
      const target = { name: crate.name, version: crate.version, phase, grant };
      out.push({ ...target, outcome: applyPolicies(target, policies) });
    }
  }
  return out;
}

function meets(grant: GrantView, requirement: Requirement): boolean {
  switch (requirement) {
    case "checksum-pin":
      return grant.pinned.checksum !== null;
    case "version-pin":
      return isExactVersionPin(grant.pinned.version);
    case "reviewed":
      return grant.reviewed === true;
  }
}

function describeUnmet(grant: GrantView, requirement: Requirement): string {
  if (grant.table === null) return `no table of cratebox.toml selects it, so nothing is ${requirement === "reviewed" ? "reviewed" : "pinned"}`;
  switch (requirement) {
    case "checksum-pin":
      return `[${grant.table}] must pin Cargo.lock's checksum: checksum = "sha256:..."`;
    case "version-pin":
      return grant.pinned.version === null
        ? `[${grant.table}] must pin an exact version: version = "=x.y.z"`
        : `[${grant.table}] must pin an exact version (version = "=x.y.z"), not ${JSON.stringify(grant.pinned.version)}`;
    case "reviewed":
      return `[${grant.table}] must say reviewed = true`;
  }
}

/** `checksum-pin` -> "a checksum pin", for messages. */
function describeRequirement(requirement: Requirement): string {
  switch (requirement) {
    case "checksum-pin":
      return "a checksum pin";
    case "version-pin":
      return "an exact version pin";
    case "reviewed":
      return "reviewed = true";
  }
}

/**
 * One line per refusal, citing the policy's own message and file:
 * `foo 1.2.3 build script: denied by org.js (rule no-writes): write grants are not allowed`.
 */
export function describeRefusals(target: Pick<PolicyTarget, "name" | "version" | "phase">, outcome: PolicyOutcome): string[] {
  const step = `${target.name} ${target.version} ${target.phase === "build" ? "build script" : "test binaries"}`;
  return [
    ...outcome.denied.map((d) => `${step}: denied by ${d.file} (rule ${d.rule}): ${d.message}`),
    ...outcome.unmet.map((u) => `${step}: ${u.file} (rule ${u.rule}) requires ${describeRequirement(u.requirement)}: ${u.message}`),
  ];
}

function describeList(items: readonly string[]): string {
  return items.length === 0 ? "none" : items.join(", ");
}
