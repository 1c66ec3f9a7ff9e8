/**
 * The cool-off of `cratebox review` (issue 14): a registry release younger than `min-age` fails
 * the review, and the review says when it becomes allowed. Pure; `now` is handed in.
 *
 * - The publication time is the index's `pubtime`. A release whose time is unknown passes,
 *   unless `require-pubtime` is set.
 * - Only registry releases are held back: git and path packages have no publication time.
 * - An exemption names one release: name, exact version and Cargo.lock's checksum, with a reason.
 *   An exemption whose checksum is not the lockfile's does not apply (other bytes under the
 *   same name and version are exactly what a cool-off is for), and the review says so.
 */
import type { CrateSource, ReviewExemption } from "../profile/schema.ts";
import { formatAge, parseTime } from "./age.ts";

export interface CoolOffPolicy {
  /** 0 or null: no cool-off. */
  minAgeMs: number | null;
  requirePubtime: boolean;
  exemptions: readonly ReviewExemption[];
}

export interface Release {
  name: string;
  version: string;
  sourceKind: CrateSource;
  /** Cargo.lock's checksum, bare hex; null when it has none. */
  checksum: string | null;
}

type CoolOffStatus = "passed" | "too-young" | "unknown" | "exempt" | "not-applicable";

export interface CoolOffVerdict {
  status: CoolOffStatus;
  /** True when this verdict fails the review. */
  fails: boolean;
  publishedAt: string | null;
  ageMs: number | null;
  /** When a too-young release becomes allowed. */
  allowedFrom: string | null;
  /** One sentence for the report. */
  message: string;
}

export function decideCoolOff(release: Release, pubtime: string | null, policy: CoolOffPolicy, now: Date): CoolOffVerdict {
  const parsed = pubtime === null ? undefined : parseTime(pubtime);
  const published = parsed?.ok ? parsed.value : undefined;
  const base = {
    publishedAt: published?.toISOString() ?? null,
    ageMs: published ? now.getTime() - published.getTime() : null,
    allowedFrom: null,
  };
  const what = `${release.name} ${release.version}`;
  if (release.sourceKind !== "registry") {
    return {
      ...base,
      status: "not-applicable",
      fails: false,
      message: `${what} comes from ${release.sourceKind === "git" ? "git" : "a path"}: no publication time, no cool-off`,
    };
  }
  const minAge = policy.minAgeMs ?? 0;
  const published_ = published ? `published ${published.toISOString()} (${formatAge(base.ageMs!)} ago)` : undefined;
  if (minAge <= 0) {
    return { ...base, status: "not-applicable", fails: false, message: `${published_ ?? "publication time unknown"}; no min-age set` };
  }
  const exemption = findExemption(release, policy.exemptions);
  if (exemption.kind === "exempt") {
    return { ...base, status: "exempt", fails: false, message: `exempt from the cool-off: ${exemption.reason}` };
  }
  const mismatch =
    exemption.kind === "checksum-mismatch" ? ` (an exemption names ${what}, but with checksum ${exemption.checksum}, not Cargo.lock's: it does not apply)` : "";
  if (!published) {
    const why = pubtime === null ? "the index gives no publication time" : `the index's pubtime ${JSON.stringify(pubtime)} is not a time`;
    return policy.requirePubtime
      ? { ...base, status: "unknown", fails: true, message: `${why} and require-pubtime is set${mismatch}` }
      : { ...base, status: "unknown", fails: false, message: `${why}: passes (require-pubtime = true would fail it)${mismatch}` };
  }
  if (base.ageMs! < minAge) {
    const allowedFrom = new Date(published.getTime() + minAge).toISOString();
    return {
      ...base,
      allowedFrom,
      status: "too-young",
      fails: true,
      message: `${published_}, younger than min-age ${formatAge(minAge)}: allowed from ${allowedFrom}${mismatch}`,
    };
  }
  return { ...base, status: "passed", fails: false, message: `${published_}: older than min-age ${formatAge(minAge)}` };
}

export type ExemptionMatch = { kind: "exempt"; reason: string } | { kind: "checksum-mismatch"; checksum: string } | { kind: "none" };

/** The exemption for exactly this release, if one names it. */
export function findExemption(release: Release, exemptions: readonly ReviewExemption[]): ExemptionMatch {
  const named = exemptions.filter((e) => e.name === release.name && e.version === release.version);
  const lockChecksum = release.checksum === null ? null : `sha256:${release.checksum}`;
  const exact = named.find((e) => e.checksum === lockChecksum);
  if (exact) return { kind: "exempt", reason: exact.reason };
  return named.length > 0 ? { kind: "checksum-mismatch", checksum: named[0]!.checksum } : { kind: "none" };
}

/** Exemptions that let no reviewed release through: left over, to be removed. */
export function unusedExemptions(exemptions: readonly ReviewExemption[], exempted: readonly Release[]): ReviewExemption[] {
  return exemptions.filter((e) => !exempted.some((r) => findExemption(r, [e]).kind === "exempt"));
}
