/**
 * The zod schema of what policies and reports are shown of a crate's audits (view.ts has the
 * type and the text). The policy input (core/policy/schema.ts) and the review report
 * (core/review/report.ts) embed it.
 */
import * as z from "zod";

export const AuditViewSchema = z
  .strictObject({
    /** A chain of a full audit and delta audits reaches the resolved version, each certifying a criterion that implies `safe-to-run`. */
    audited: z.boolean(),
    /** The criteria (implying safe-to-run) such chains establish, e.g. ["safe-to-deploy", "safe-to-run"]. */
    criteria: z.array(z.string()),
    /** Who signed the audits on those chains (`who`), distinct: two names are a two-person review. */
    by: z.array(z.string()),
    /** The audit files (and imported sources of imports.lock) those audits came from, distinct. */
    sources: z.array(z.string()),
    /** `violation` entries whose version requirement the resolved version satisfies: the crate is marked red. */
    violations: z.array(
      z.strictObject({
        who: z.array(z.string()),
        criteria: z.array(z.string()),
        violation: z.string(),
        source: z.string(),
        notes: z.string().nullable(),
      }),
    ),
  })
  .describe("cargo-vet audits of the resolved version (from [review] audits): evidence only, an audit grants nothing.");
