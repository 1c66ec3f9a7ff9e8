/**
 * The review report (`cratebox review --json`): what changed in Cargo.lock, riskiest first, and
 * why the review passed or failed. The zod schema is the single definition: the types come from
 * it, docs/review.schema.json is generated from it (scripts/gen-review-schema.ts), and the tests
 * validate real reports with it. Pure. A change that removes or renames a field bumps
 * REVIEW_REPORT_VERSION.
 */
import * as z from "zod";
import { AuditViewSchema } from "../audits/view-schema.ts";
import { SOURCES } from "../profile/schema.ts";
import { SECTIONS } from "./file-diff.ts";

export const REVIEW_REPORT_VERSION = 1;

export const SOURCE_STATUSES = ["verified", "unverified", "unavailable", "refused"] as const;
export type SourceStatus = (typeof SOURCE_STATUSES)[number];

const RISK_FLAGS = [
  "checksum-changed",
  "index-checksum-mismatch",
  "sources-refused",
  "new-build-script",
  "new-proc-macro",
  "build-script-changed",
  "proc-macro-changed",
  "source-changed",
  "links",
  "new-executables",
  "audit-violation",
  "build-only",
  "unverified",
  "sources-unavailable",
] as const;
export type RiskFlag = (typeof RISK_FLAGS)[number];

const FAILURE_KINDS = ["checksum-changed", "index-checksum-mismatch", "sources-refused", "too-young", "no-pubtime", "audit-violation", "policy"] as const;

const sideSchema = z
  .strictObject({
    version: z.string(),
    source: z.string().nullable().describe("Cargo.lock's source string; null for a path package."),
    sourceKind: z.enum(SOURCES),
    checksum: z.string().nullable().describe("Cargo.lock's checksum as sha256:<hex>; null when it has none or only a placeholder (a directory source)."),
    line: z.number().int().positive().nullable().describe("Line of the package in that side's Cargo.lock."),
    sources: z
      .enum(SOURCE_STATUSES)
      .describe(
        "verified: read from a .crate whose SHA-256 is the lockfile's (or the index's) checksum; unverified: from a directory source or without a checksum to check; unavailable: not found; refused: a .crate whose bytes do not match.",
      ),
    sourcesDetail: z.string().describe("Where the sources came from, or why there are none."),
    manifest: z
      .strictObject({
        buildScript: z.string().nullable().describe("Path of the build script in the package; null: none."),
        procMacro: z.boolean(),
        links: z.string().nullable(),
      })
      .nullable()
      .describe("What the package's manifest says about build-time code; null when its sources could not be read."),
  })
  .meta({ id: "PackageVersion", description: "One side of a change: the package as one lockfile has it, and what the review could read of it." });

const depSchema = z.strictObject({ package: z.string(), kind: z.enum(["normal", "build", "dev"]) });
const changeOf = <T extends z.ZodType>(t: T) => z.strictObject({ from: t, to: t }).nullable();

const fileStatSchema = z.strictObject({
  path: z.string(),
  status: z.enum(["added", "removed", "modified"]),
  binary: z.boolean(),
  added: z.number().int().nonnegative(),
  removed: z.number().int().nonnegative(),
  note: z.string().nullable().describe("Why the file counts as an executable or script."),
});

const coolOffSchema = z.strictObject({
  status: z.enum(["passed", "too-young", "unknown", "exempt", "not-applicable"]),
  fails: z.boolean(),
  publishedAt: z.string().nullable().describe("The index's pubtime."),
  ageMs: z.number().int().nullable().describe("Age at the review's time, milliseconds."),
  allowedFrom: z.string().nullable().describe("When a release that is too young becomes allowed."),
  message: z.string(),
});

const reviewedPackageSchema = z.strictObject({
  name: z.string(),
  change: z.enum(["added", "removed", "updated", "checksum-changed"]),
  old: sideSchema.nullable().describe("The package at the base; null when added."),
  new: sideSchema.nullable().describe("The package in the working tree; null when removed."),
  sourceChanged: z.boolean().describe("Another registry, or registry to git and back."),
  buildOnly: z
    .boolean()
    .nullable()
    .describe("Arrives only as a build dependency (runs at build time, not linked into the workspace's products); null when removed."),
  rank: z.number().int().nonnegative().describe("0 is the riskiest; the packages are sorted by it."),
  flags: z.array(z.enum(RISK_FLAGS)),
  grant: z.string().nullable().describe("The cratebox.toml table that selects the new version's build script, if any."),
  coolOff: coolOffSchema.nullable(),
  manifestChange: z
    .strictObject({
      addedDependencies: z.array(depSchema),
      removedDependencies: z.array(depSchema),
      links: changeOf(z.string().nullable()),
      build: changeOf(z.string().nullable()),
      procMacro: changeOf(z.boolean()),
    })
    .nullable()
    .describe("Changes of the manifest that decide what runs at build time; null without both manifests (or the new one, for an added package)."),
  diff: z
    .strictObject({
      available: z.boolean(),
      reason: z.string().nullable().describe("Why there is no diff."),
      buildScriptFiles: z
        .enum(["dep-info", "parsed", "none"])
        .describe(
          "How the build script's files were found: its dep-info from a previous build, or by following mod and include! in the source (an approximation).",
        ),
      sections: z.array(
        z.strictObject({
          section: z.enum(SECTIONS),
          added: z.number().int().nonnegative(),
          removed: z.number().int().nonnegative(),
          files: z.array(fileStatSchema),
        }),
      ),
    })
    .describe("The diff stat by section, riskiest section first (`cratebox review --diff <crate>` prints the full diff)."),
  audits: AuditViewSchema.nullable().describe(
    "cargo-vet audits of the new version ([review] audits, issue 15); null when no audit files are configured or the package was removed.",
  ),
  problems: z.array(z.strictObject({ kind: z.enum(FAILURE_KINDS), message: z.string() })).describe("What fails the review for this package."),
});

const grantTransitionSchema = z.strictObject({
  kind: z.enum(["goes-stale", "starts-to-match", "matches-nothing"]),
  table: z.string(),
  crate: z.string(),
  before: z.array(z.string()),
  after: z.array(z.string()),
  message: z.string(),
});

export const reviewReportSchema = z.strictObject({
  version: z.literal(REVIEW_REPORT_VERSION),
  workspace: z.string().describe("The workspace root."),
  lockfile: z.string().describe("Cargo.lock's path from the repository's top directory (annotations point there)."),
  base: z.strictObject({
    ref: z.string().describe("The git ref the lockfile was compared with."),
    commit: z.string().describe("The commit it named."),
    how: z.string().describe("How the base was chosen (--base, the merge base with the upstream branch, HEAD)."),
  }),
  now: z.string().describe("The time the review used (RFC 3339)."),
  nowFrom: z.enum(["--now", "clock"]),
  minAgeMs: z.number().int().nonnegative().nullable().describe("The cool-off; null or 0: none."),
  requirePubtime: z.boolean(),
  ok: z.boolean().describe("True when the review passed (exit 0); false: exit 1."),
  counts: z.strictObject({
    added: z.number().int().nonnegative(),
    removed: z.number().int().nonnegative(),
    updated: z.number().int().nonnegative(),
    checksumChanged: z.number().int().nonnegative(),
    unchanged: z.number().int().nonnegative(),
  }),
  failures: z.array(z.strictObject({ name: z.string(), version: z.string(), kind: z.enum(FAILURE_KINDS), message: z.string() })),
  packages: z.array(reviewedPackageSchema).describe("Every changed package, riskiest first."),
  grants: z.array(grantTransitionSchema).describe("cratebox.toml tables that go stale, start to match, or match nothing any more."),
  unusedExemptions: z
    .array(z.strictObject({ name: z.string(), version: z.string(), checksum: z.string(), reason: z.string() }))
    .describe("[[review.exempt]] entries that exempted nothing in this review."),
  policies: z.array(z.string()).describe("Policy files that judged the review."),
  notes: z.array(z.string()).describe("What the review could not do, and what it approximated."),
});

export type ReviewReport = z.infer<typeof reviewReportSchema>;
export type ReviewedPackage = z.infer<typeof reviewedPackageSchema>;
export type ReviewSide = z.infer<typeof sideSchema>;

/** The JSON Schema of the report (docs/review.schema.json). */
export function toReviewJsonSchema(): Record<string, unknown> {
  return { ...z.toJSONSchema(reviewReportSchema), title: "cratebox review report" };
}
