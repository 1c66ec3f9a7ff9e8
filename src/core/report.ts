/**
 * The run report (`--report FILE`): versioned JSON of every sandboxed execution, for CI and for
 * audits. The zod schema is the single definition: the types come from it, docs/report.schema.json
 * is generated from it (scripts/gen-report-schema.ts), and the tests validate real reports with it.
 * Pure. A change that removes or renames a field bumps REPORT_VERSION.
 */
import * as z from "zod";
import { limitsSchema } from "./limits-schema.ts";
import { PHASES } from "./phase.ts";
import type { StepOutcome } from "./step-outcome.ts";

const REPORT_VERSION = 1;

const stepSchema = z.strictObject({
  phase: z.enum(PHASES).describe("What ran: a build script, or a binary cargo ran through its runner hook."),
  crate: z.string().describe("Package name, as cargo resolved it."),
  version: z.string().describe("Package version."),
  program: z.string().describe("File name of the program (a test binary's name tells the test target; rust_out is a doctest)."),
  manifestDir: z.string().describe("The package's source directory."),
  image: z.string().describe("The sandbox image (content-addressed tag)."),
  containerId: z.string().describe("The sandbox's id: a container's, or bwrap-... (removed after the step)."),
  backend: z.string().describe("What ran the sandbox: docker (a container on the engine) or bwrap (bubblewrap)."),
  ok: z.boolean().describe("True when the program exited 0 and no limit was hit."),
  cause: z
    .enum(["exit", "signal", "memory", "pids", "timeout", "interrupted", "fallback-timeout", "directive"])
    .describe("How the step ended (directive: the firewall blocked a build-script directive)."),
  exitCode: z.number().int().describe("Exit code of the container's process (128+n for signal n)."),
  signal: z.number().int().nullable().describe("Signal number when the process died of one."),
  limitHit: z.enum(["memory", "pids", "timeout"]).nullable().describe("The limit that ended or broke the step, if any."),
  durationMs: z.number().int().nonnegative().describe("Wall time from the shim's start to the exit, milliseconds."),
  runMs: z.number().int().nonnegative().nullable().describe("Time the program ran inside the container, as the engine measured it."),
  overheadMs: z.number().int().nonnegative().nullable().describe("durationMs - runMs: what the sandbox cost this step."),
  limits: limitsSchema,
  grant: z
    .strictObject({
      table: z.string().nullable().describe("The cratebox.toml table that selected the crate; null: none, the default (deny) applied."),
      items: z
        .array(z.strictObject({ key: z.string(), value: z.string(), from: z.string() }))
        .describe(
          "Every capability and limit of the step, with where it came from (cratebox default, [defaults], the crate's table, a built-in profile, the command line).",
        ),
    })
    .describe("The grant applied."),
  withheld: z.strictObject({
    env: z.array(z.string()).describe("Names (never values) of variables in the environment cargo gave the step that did not cross into the container."),
    paths: z
      .array(z.strictObject({ path: z.string(), reason: z.string() }))
      .describe("Paths the step was handed (DEP_* values) that were not mounted, and why."),
    directives: z
      .array(z.strictObject({ directive: z.string(), reason: z.string() }))
      .describe("Build-script directives the firewall kept from cargo, and why."),
    askedEnv: z.array(z.string()).describe("Withheld variables the build script declared it reads (rerun-if-env-changed): the likely grant when it fails."),
  }),
  network: z
    .enum(["none", "full", "proxy"])
    .describe("The step's network: none; full (network = true); proxy (only through cratebox's egress proxy, to the listed hosts and fetch URLs)."),
  egress: z
    .array(
      z.strictObject({
        at: z.string().describe("ISO 8601 time of the decision."),
        method: z.string().describe("CONNECT (a tunnel, usually TLS) or the HTTP method of a plain request."),
        target: z.string().describe("host:port asked for."),
        url: z.string().optional().describe("The URL of a plain-HTTP request."),
        decision: z.enum(["allowed", "refused"]),
        reason: z.string().describe("The grant that allowed it, or why it was refused."),
        address: z.string().optional().describe("The address the proxy connected to."),
        error: z.string().optional().describe("An allowed connection that then failed."),
        grant: z.string().optional().describe("For a refusal: the grant that would allow it."),
      }),
    )
    .describe("Every connection and request the step's egress proxy allowed or refused, in order (the first 500)."),
  egressOmitted: z.number().int().nonnegative().describe("Egress events beyond the 500 kept."),
});

export const reportSchema = z.strictObject({
  version: z.literal(REPORT_VERSION).describe("Report format version."),
  runId: z.string().describe("The run's id; every container of the run carries it as label cratebox.run."),
  command: z.array(z.string()).describe("The cargo command line, starting with cargo."),
  exitCode: z.number().int().describe("cratebox's exit code (cargo's own, 2 for configuration/environment errors, 130 interrupted)."),
  startedAt: z.string().describe("ISO 8601 start time."),
  finishedAt: z.string().describe("ISO 8601 end time."),
  summary: z.string().describe("The summary line printed at the end of the run."),
  engineWarnings: z.array(z.string()).describe("Warnings about limits the engine does not enforce."),
  backend: z
    .enum(["bwrap", "docker"])
    .nullable()
    .describe("The run's primary backend (null: no step ran, so none was chosen); a step bwrap cannot run goes to docker."),
  peakRssBytes: z
    .number()
    .int()
    .nonnegative()
    .describe("Peak resident memory of cratebox's own process during the run, in bytes (cargo, the compilers and the sandboxes not included)."),
  cpuMs: z
    .number()
    .int()
    .nonnegative()
    .describe("CPU time (user and system) of cratebox's own process during the run, in milliseconds (cargo, the compilers and the sandboxes not included)."),
  steps: z.array(stepSchema).describe("Every sandboxed execution, in the order they finished."),
});

export type Report = z.infer<typeof reportSchema>;
type ReportStep = z.infer<typeof stepSchema>;

const LIMIT_CAUSES = new Set(["memory", "pids", "timeout"]);

function toReportStep(o: StepOutcome): ReportStep {
  return {
    phase: o.phase,
    crate: o.crate,
    version: o.version,
    program: o.program,
    manifestDir: o.manifestDir,
    image: o.image,
    containerId: o.containerId,
    backend: o.backend,
    ok: o.ok,
    cause: o.cause,
    exitCode: o.exitCode,
    signal: o.signal ?? null,
    limitHit: LIMIT_CAUSES.has(o.cause) ? (o.cause as "memory" | "pids" | "timeout") : null,
    durationMs: Math.max(0, Math.round(o.durationMs)),
    runMs: o.runMs === undefined ? null : Math.round(o.runMs),
    overheadMs: o.runMs === undefined ? null : Math.max(0, Math.round(o.durationMs - o.runMs)),
    limits: { ...o.limits, cpus: o.limits.cpus ?? null },
    grant: o.grant,
    withheld: { env: o.withheldEnv, paths: o.withheldPaths, directives: o.blockedDirectives, askedEnv: o.askedWithheld },
    network: o.network,
    egress: o.egress,
    egressOmitted: o.egressOmitted ?? 0,
  };
}

export interface ReportInput {
  runId: string;
  command: string[];
  exitCode: number;
  startedAt: Date;
  finishedAt: Date;
  summary: string;
  engineWarnings: string[];
  backend: "bwrap" | "docker" | null;
  peakRssBytes: number;
  cpuMs: number;
  outcomes: readonly StepOutcome[];
}

export function toReport(r: ReportInput): Report {
  return {
    version: REPORT_VERSION,
    runId: r.runId,
    command: r.command,
    exitCode: r.exitCode,
    startedAt: r.startedAt.toISOString(),
    finishedAt: r.finishedAt.toISOString(),
    summary: r.summary,
    engineWarnings: r.engineWarnings,
    backend: r.backend,
    peakRssBytes: r.peakRssBytes,
    cpuMs: Math.max(0, Math.round(r.cpuMs)),
    steps: r.outcomes.map(toReportStep),
  };
}
