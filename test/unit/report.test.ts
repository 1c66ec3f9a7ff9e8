import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../src/core/limits.ts";
import { reportSchema, toReport } from "../../src/core/report.ts";
import { toReportJsonSchema } from "../../src/core/report-json-schema.ts";
import type { StepOutcome } from "../../src/core/step-outcome.ts";

const outcome: StepOutcome = {
  phase: "build-script",
  crate: "foo",
  version: "1.0.0",
  program: "build-script-build",
  manifestDir: "/src/foo",
  image: "cratebox/sandbox:0123456789abcdef",
  containerId: "abc",
  backend: "docker",
  ok: false,
  cause: "memory",
  exitCode: 137,
  signal: 9,
  durationMs: 812.4,
  runMs: 600,
  limits: DEFAULT_LIMITS,
  grant: { table: null, items: [] },
  withheldEnv: ["GITHUB_TOKEN"],
  withheldPaths: [],
  blockedDirectives: [],
  askedWithheld: [],
  source: "registry",
  network: "none",
  egress: [],
};

describe("the run report", () => {
  it("is valid against its own schema, names the limit hit and the overhead", () => {
    const r = toReport({
      runId: "r",
      command: ["cargo", "build"],
      exitCode: 101,
      startedAt: new Date(0),
      finishedAt: new Date(1000),
      summary: "s",
      engineWarnings: [],
      backend: "docker",
      peakRssBytes: 80 << 20,
      cpuMs: 1234.4,
      outcomes: [outcome],
    });
    expect(reportSchema.parse(r)).toEqual(r);
    expect(r.cpuMs).toBe(1234);
    expect(r.steps[0]).toMatchObject({ limitHit: "memory", overheadMs: 212, durationMs: 812, limits: { cpus: null } });
    expect(r.steps[0]!.withheld.env).toEqual(["GITHUB_TOKEN"]);
  });

  it("rejects a report with unknown fields (strict)", () => {
    const r = toReport({
      runId: "r",
      command: [],
      exitCode: 0,
      startedAt: new Date(0),
      finishedAt: new Date(0),
      summary: "",
      engineWarnings: [],
      backend: "docker",
      peakRssBytes: 80 << 20,
      cpuMs: 1234.4,
      outcomes: [],
    });
    expect(() => reportSchema.parse({ ...r, extra: 1 })).toThrow();
  });

  it("docs/report.schema.json is the one generated from the zod schema (node scripts/gen-report-schema.ts)", () => {
    const committed = JSON.parse(readFileSync(path.resolve(import.meta.dirname, "../../docs/report.schema.json"), "utf8"));
    expect(committed).toEqual(JSON.parse(JSON.stringify(toReportJsonSchema())));
  });
});
