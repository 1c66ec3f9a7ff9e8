/** The policies shipped in profiles/policies/, run for real on sample build graphs. */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { applyPoliciesToInput } from "../../src/core/policy/apply.ts";
import type { PolicyDecisions, PolicyInput } from "../../src/core/policy/schema.ts";
import { evaluatePolicies } from "../../src/runtime/policy.ts";
import { loadPolicy } from "../../src/runtime/policy-source.ts";
import { toReviewRefusals } from "../../src/core/review/policy-view.ts";
import { grantView, noAudits, policyCrate, policyInput, reviewCrate, reviewInput } from "../helpers/policy-input.ts";

const DIR = path.resolve(import.meta.dirname, "../../profiles/policies");
const TESTED = ["no-network.js", "pins-required.js", "review-build-scripts.js", "strict-ci-baseline.js", "two-person-review.js"];
const CHECKSUM = `sha256:${"ab".repeat(32)}`;
const MIN = 60_000;

async function outcomes(files: string[], input: PolicyInput) {
  const decisions: PolicyDecisions[] = await evaluatePolicies(
    files.map((f) => loadPolicy(path.join(DIR, f))),
    input,
  );
  const steps = applyPoliciesToInput(input, decisions);
  return (name: string, phase: "build" | "test") => {
    const step = steps.find((s) => s.name === name && s.phase === phase);
    if (!step) throw new Error(`no step ${name} ${phase}`);
    return step.outcome;
  };
}

/** A graph with one of each kind of grant. */
const graph = policyInput([
  policyCrate({ name: "plain-build", requested: { build: grantView(), test: null, rustc: null } }),
  policyCrate({
    name: "openssl-sys",
    version: "0.9.80",
    requested: {
      build: grantView({
        table: "build.openssl-sys",
        pinned: { version: "=0.9.80", checksum: CHECKSUM, buildScript: null, procMacro: null },
        env: ["OPENSSL_*"],
        network: true,
        limits: { ...grantView().limits, timeoutMs: 60 * MIN },
      }),
      test: null,
      rustc: null,
    },
  }),
  policyCrate({
    name: "loose",
    version: "1.4.0",
    requested: {
      build: grantView({ table: "build.loose", pinned: { version: "1", checksum: null, buildScript: null, procMacro: null }, env: ["CC"] }),
      test: null,
      rustc: null,
    },
  }),
  policyCrate({
    name: "codegen",
    version: "0.1.0",
    source: "path",
    checksum: null,
    workspaceMember: true,
    requested: {
      build: grantView({ table: "build.codegen", pinned: { version: "=0.1.0", checksum: null, buildScript: null, procMacro: null }, write: ["generated"] }),
      test: grantView({ table: "test.codegen", network: true }),
      rustc: null,
    },
  }),
  policyCrate({
    name: "forked",
    version: "2.0.0",
    source: "git",
    checksum: null,
    requested: { build: grantView({ table: "build.forked", env: ["FORKED_*"] }), test: null, rustc: null },
  }),
]);

describe("shipped policies", () => {
  it("are the ones tested here, each with a header comment", () => {
    const files = readdirSync(DIR)
      .filter((f) => f.endsWith(".js"))
      .sort();
    expect(files).toEqual(TESTED);
    for (const f of files) expect(readFileSync(path.join(DIR, f), "utf8")).toMatch(/^\/\*\*\n \* [a-z-]+: /);
  });

  it("strict-ci-baseline: no build network, 30 minute ceiling, exact pins, no write grants", async () => {
    const of = await outcomes(["strict-ci-baseline.js"], graph);
    const file = path.join(DIR, "strict-ci-baseline.js");

    const openssl = of("openssl-sys", "build");
    expect(openssl.grant.network).toBe(false);
    expect(openssl.grant.limits.timeoutMs).toBe(30 * MIN);
    expect(openssl.grant.env).toEqual(["OPENSSL_*"]);
    expect(openssl.shapedBy.map((s) => [s.rule, s.capability, s.file])).toEqual([
      ["no-build-network", "network", file],
      ["timeout-30m", "timeoutMs", file],
    ]);
    expect(openssl.denied).toEqual([]);
    expect(openssl.unmet).toEqual([]);

    // Granted but not pinned to one version.
    expect(of("loose", "build").unmet).toEqual([
      {
        file,
        rule: "pinned-grants",
        requirement: "version-pin",
        message: '[build.loose] grants loose something, so it must be pinned to the reviewed version: version = "=1.4.0"',
      },
    ]);
    expect(of("forked", "build").unmet.map((u) => u.requirement)).toEqual(["version-pin"]);
    // A write grant is refused, with the policy's own message.
    expect(of("codegen", "build").denied).toEqual([
      { file, rule: "no-write-grants", message: "[build.codegen] makes generated writable; write grants are not allowed in CI" },
    ]);
    // Test binaries keep their network; the 15 minute default stays under the ceiling.
    const tests = of("codegen", "test");
    expect(tests.grant.network).toBe(true);
    expect(tests.grant.limits.timeoutMs).toBe(15 * MIN);
    expect(tests.unmet.map((u) => u.requirement)).toEqual(["version-pin"]);
    // No table, nothing to pin.
    expect(of("plain-build", "build")).toMatchObject({ denied: [], unmet: [], shapedBy: [] });
  });

  it("no-network: no step keeps network, build or test", async () => {
    const of = await outcomes(["no-network.js"], graph);
    expect(of("openssl-sys", "build").grant.network).toBe(false);
    expect(of("codegen", "test").grant.network).toBe(false);
    expect(of("codegen", "test").shapedBy).toEqual([
      { file: path.join(DIR, "no-network.js"), rule: "no-network", capability: "network", detail: "network on -> off" },
    ]);
    expect(of("loose", "build").shapedBy).toEqual([]);
  });

  it("pins-required: granted registry crates need a checksum pin; path and git crates are left alone", async () => {
    const of = await outcomes(["pins-required.js"], graph);
    expect(of("openssl-sys", "build").unmet).toEqual([]);
    const loose = of("loose", "build").unmet;
    expect(loose.map((u) => [u.requirement, u.rule])).toEqual([["checksum-pin", "checksum-pin"]]);
    expect(loose[0]!.message).toContain(`add checksum = "${CHECKSUM}"`);
    expect(of("codegen", "build").unmet).toEqual([]);
    expect(of("forked", "build").unmet).toEqual([]);
    expect(of("plain-build", "build").unmet).toEqual([]);
  });

  it("compose: the strictest of all three wins", async () => {
    const of = await outcomes(TESTED, graph);
    const tests = of("codegen", "test");
    expect(tests.grant.network).toBe(false);
    const loose = of("loose", "build");
    expect(loose.unmet.map((u) => u.requirement).sort()).toEqual(["checksum-pin", "version-pin"]);
    expect(
      of("openssl-sys", "build")
        .shapedBy.filter((s) => s.capability === "network")
        .map((s) => s.rule)
        .sort(),
    ).toEqual(["no-build-network", "no-network"]);
  });

  it("say nothing about a graph without grants", async () => {
    const bare = policyInput([
      policyCrate({ name: "a" }),
      policyCrate({ name: "b", hasBuildScript: false, requested: { build: null, test: null, rustc: null } }),
    ]);
    const of = await outcomes(TESTED, bare);
    expect(of("a", "build")).toMatchObject({ grant: bare.crates[0]!.requested.build, denied: [], unmet: [], shapedBy: [] });
  });

  it("review-build-scripts: a new build script fails the review until a table says reviewed = true; silent in builds", async () => {
    const file = path.join(DIR, "review-build-scripts.js");
    const input = reviewInput([
      reviewCrate({ name: "fresh-sys" }),
      reviewCrate({ name: "known-sys", grant: grantView({ table: "build.known-sys", reviewed: true }) }),
      reviewCrate({ name: "granted-sys", grant: grantView({ table: "build.granted-sys", env: ["GRANTED_DIR"] }) }),
      reviewCrate({ name: "old-sys", change: "updated", previousVersion: "0.9.0", newBuildScript: false }),
    ]);
    const decisions = await evaluatePolicies([loadPolicy(file)], input);
    expect(toReviewRefusals(input, decisions).map((r) => r.name)).toEqual(["fresh-sys", "granted-sys"]);
    expect(decisions[0]!.decisions[0]!.message).toBe(
      'fresh-sys 1.0.0 brings a new build script: read it (cratebox review --diff fresh-sys), then record the review in cratebox.toml: [build.fresh-sys] version = "=1.0.0" reviewed = true',
    );
    expect((await evaluatePolicies([loadPolicy(file)], graph))[0]!.decisions).toEqual([]);
  });

  it("two-person-review: a new build script or proc macro needs audits by two people; an audit violation denies, in reviews and builds", async () => {
    const file = path.join(DIR, "two-person-review.js");
    const audited = (...by: string[]) => noAudits({ audited: true, criteria: ["safe-to-run"], by, sources: ["supply-chain/audits.toml"] });
    const red = noAudits({
      violations: [{ who: ["Grace"], criteria: ["safe-to-run"], violation: ">=0.3.1", source: "supply-chain/audits.toml", notes: "phones home" }],
    });
    const input = reviewInput([
      reviewCrate({ name: "unaudited-sys" }),
      reviewCrate({ name: "one-person-sys", audits: audited("Alice <alice@example.org>", "alice") }),
      reviewCrate({ name: "two-people-sys", audits: audited("Alice <alice@example.org>", "Bob <bob@example.org>") }),
      reviewCrate({ name: "derive-it", hasBuildScript: false, newBuildScript: false, isProcMacro: true, newProcMacro: true, audits: audited("Carol") }),
      reviewCrate({ name: "old-sys", change: "updated", previousVersion: "0.9.0", newBuildScript: false }),
      reviewCrate({ name: "bad", version: "0.3.5", newBuildScript: false, audits: red }),
    ]);
    const decisions = await evaluatePolicies([loadPolicy(file)], input);
    expect(toReviewRefusals(input, decisions).map((r) => r.name)).toEqual(["unaudited-sys", "one-person-sys", "derive-it", "bad"]);
    const messages = decisions[0]!.decisions.map((d) => d.message);
    expect(messages).toContain(
      "one-person-sys 1.0.0 brings a new build script, audited by Alice <alice@example.org>, alice: two people must audit it (cargo vet certify), in an audit file of [review] audits",
    );
    expect(messages).toContain("bad 0.3.5: supply-chain/audits.toml records a violation >=0.3.1 (safe-to-run) by Grace: phones home");
    // In a build: only the violation counts, and it stops the run (a deny), for every phase of the crate.
    const build = policyInput([policyCrate({ name: "bad", version: "0.3.5", audits: red }), policyCrate({ name: "fine" })]);
    const of = await outcomes(["two-person-review.js"], build);
    expect(of("bad", "build").denied).toEqual([{ file, rule: "audit-violation", message: expect.stringMatching(/^bad 0\.3\.5: .* records a violation/) }]);
    expect(of("fine", "build").denied).toEqual([]);
  });
});
