/**
 * What policies see of a review, and what their answers mean for it (issue 14). Pure.
 *
 * A policy gets the usual input with `crates` empty (a review resolves no build graph) and
 * `review` set: every package new or changed in Cargo.lock with its checksums, build-script and
 * proc-macro flags, age, and the grant cratebox.toml gives it. Of the decisions it returns, a
 * `deny` that applies to a reviewed package (its name or "*", its version if given, phase
 * "build" or "*") fails the review with the policy's message; caps, requirements and allows are
 * about builds and change nothing here.
 */
import { NOT_AUDITED } from "../audits/evaluate.ts";
import { toAuditView } from "../audits/view.ts";
import { decisionApplies } from "../policy/apply.ts";
import type { GrantView, PolicyDecisions, PolicyInput, ReviewCrate } from "../policy/schema.ts";
import type { ReviewReport } from "./report.ts";

export function toReviewPolicyInput(report: ReviewReport, grantOf: (name: string, version: string) => GrantView, ci: boolean): PolicyInput {
  const crates = report.packages.flatMap((p): ReviewCrate[] => {
    if (p.change === "removed" || !p.new) return [];
    return [
      {
        name: p.name,
        version: p.new.version,
        previousVersion: p.old?.version ?? null,
        change: p.change,
        source: p.new.sourceKind,
        sourceChanged: p.sourceChanged,
        checksum: p.new.checksum,
        previousChecksum: p.old?.checksum ?? null,
        checksumChanged: p.change === "checksum-changed",
        hasBuildScript: p.new.manifest ? p.new.manifest.buildScript !== null : null,
        isProcMacro: p.new.manifest ? p.new.manifest.procMacro : null,
        links: p.new.manifest?.links ?? null,
        newBuildScript: p.flags.includes("new-build-script"),
        newProcMacro: p.flags.includes("new-proc-macro"),
        buildOnly: p.buildOnly,
        publishedAt: p.coolOff?.publishedAt ?? null,
        ageMs: p.coolOff?.ageMs ?? null,
        sources: p.new.sources,
        grant: grantOf(p.name, p.new.version),
        audits: p.audits ?? toAuditView(NOT_AUDITED),
      },
    ];
  });
  return {
    run: { command: [], ci },
    crates: [],
    review: { base: report.base.ref, now: report.now, minAgeMs: report.minAgeMs, crates },
  };
}

export interface ReviewRefusal {
  name: string;
  version: string;
  message: string;
}

/** Every `deny` decision that applies to a reviewed package, with the policy's file, rule and message. */
export function toReviewRefusals(input: PolicyInput, policies: readonly PolicyDecisions[]): ReviewRefusal[] {
  const out: ReviewRefusal[] = [];
  for (const crate of input.review?.crates ?? []) {
    for (const policy of policies) {
      policy.decisions.forEach((d, i) => {
        if (d.action !== "deny" || !decisionApplies(d, { name: crate.name, version: crate.version, phase: "build" })) return;
        out.push({
          name: crate.name,
          version: crate.version,
          message: `${crate.name} ${crate.version}: denied by ${policy.file} (rule ${d.rule ?? `decision [${i}]`}): ${d.message ?? "denied by policy"}`,
        });
      });
    }
  }
  return out;
}
