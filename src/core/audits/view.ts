/**
 * What policies and reports are shown of the audits of one crate (issue 15), and its text for
 * `profiles ls`, `explain` and `review`. Pure. The zod schema (view-schema.ts, apart so that a build
 * does not load zod) is the one definition: the policy input and the review report embed it.
 */
import type * as z from "zod";
import type { AuditVerdict } from "./evaluate.ts";
import type { AuditViewSchema } from "./view-schema.ts";

export type AuditView = z.infer<typeof AuditViewSchema>;

export function toAuditView(v: AuditVerdict): AuditView {
  return { audited: v.audited, criteria: v.criteria, by: v.by, sources: v.sources, violations: v.violations };
}

/** `audited (safe-to-deploy) by Alice, Bob` / `VIOLATION: ...` / `not audited`, for one line. */
export function describeAudits(v: AuditView): string {
  const red = v.violations.map((x) => `VIOLATION ${x.violation} (${x.criteria.join(", ")}) by ${x.who.join(", ") || "(no one named)"}, ${x.source}`);
  const status = v.audited ? `audited (${v.criteria.join(", ")}) by ${v.by.join(", ") || "(no one named)"}` : "not audited";
  return [...red, status].join("; ");
}
