import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyPolicies, applyPoliciesToInput, decisionApplies, describeRefusals, type PolicyTarget } from "../../src/core/policy/apply.ts";
import { envPatternCovers, isExactVersionPin, pathCovers } from "../../src/core/policy/ceilings.ts";
import type { Caps, PolicyDecision, PolicyDecisions } from "../../src/core/policy/schema.ts";
import { grantView, policyCrate, policyInput } from "../helpers/policy-input.ts";

const MIN = 60_000;
const GiB = 1024 ** 3;

const target = (grant = grantView(), over: Partial<PolicyTarget> = {}): PolicyTarget => ({ name: "foo", version: "1.0.0", phase: "build", grant, ...over });
const cap = (caps: Caps, rule?: string): PolicyDecision => ({ crate: "*", phase: "*", action: "cap", caps, ...(rule ? { rule } : {}) });
const policy = (file: string, ...decisions: PolicyDecision[]): PolicyDecisions => ({ file, decisions });

describe("applyPolicies: the strictest wins", () => {
  it("changes nothing without policies", () => {
    const grant = grantView({ network: true, env: ["CC"], read: ["/opt/sdk"], write: ["gen"] });
    const out = applyPolicies(target(grant), []);
    expect(out).toEqual({ grant, allowed: [], denied: [], unmet: [], shapedBy: [] });
    expect(out.grant).not.toBe(grant);
  });

  it("takes the lowest limit of all policies, whatever their order", () => {
    const grant = grantView({ limits: { memoryBytes: 8 * GiB, pids: 512, timeoutMs: 60 * MIN, cpus: null, tmpBytes: GiB } });
    const a = policy("a.js", cap({ timeoutMs: 30 * MIN, memoryBytes: 2 * GiB }, "a-rule"));
    const b = policy("b.js", cap({ timeoutMs: 20 * MIN, cpus: 2, pids: 1024 }, "b-rule"));
    const ab = applyPolicies(target(grant), [a, b]);
    const ba = applyPolicies(target(grant), [b, a]);
    expect(ab.grant).toEqual(ba.grant);
    expect(ab.grant.limits).toEqual({ memoryBytes: 2 * GiB, pids: 512, timeoutMs: 20 * MIN, cpus: 2, tmpBytes: GiB });
    // Only the binding ceilings shape: b's pids 1024 is above the request, a's 30m above b's 20m.
    expect(ab.shapedBy).toEqual([
      { file: "a.js", rule: "a-rule", capability: "memoryBytes", detail: "memoryBytes 8 GiB -> 2 GiB" },
      { file: "b.js", rule: "b-rule", capability: "timeoutMs", detail: "timeoutMs 1h -> 20m" },
      { file: "b.js", rule: "b-rule", capability: "cpus", detail: "cpus all -> 2" },
    ]);
  });

  it("never raises a limit", () => {
    const out = applyPolicies(target(grantView()), [policy("a.js", cap({ timeoutMs: 60 * MIN, pids: 4096 }))]);
    expect(out.grant.limits).toEqual(grantView().limits);
    expect(out.shapedBy).toEqual([]);
  });

  it("turns network off when any policy says so, and says who", () => {
    const grant = grantView({ network: true });
    const out = applyPolicies(target(grant), [policy("a.js", cap({ pids: 100 })), policy("b.js", cap({ network: false }, "no-net"))]);
    expect(out.grant.network).toBe(false);
    expect(out.shapedBy).toContainEqual({ file: "b.js", rule: "no-net", capability: "network", detail: "network on -> off" });
    expect(applyPolicies(target(grantView()), [policy("b.js", cap({ network: false }))]).shapedBy).toEqual([]);
  });

  it("intersects allowed lists: an item stays only if every ceiling keeps it", () => {
    const grant = grantView({ env: ["CC", "CFLAGS", "OPENSSL_DIR", "OPENSSL_*", "*_STATIC"], read: ["/opt/sdk/include", "/opt/sdk-extra", "vendor/x"] });
    const out = applyPolicies(target(grant), [
      policy("a.js", cap({ env: ["C*", "OPENSSL_*"], read: ["/opt/sdk", "vendor"] }, "a")),
      policy("b.js", cap({ env: ["CC", "OPENSSL_DIR", "OPENSSL_*"] }, "b")),
    ]);
    expect(out.grant.env).toEqual(["CC", "OPENSSL_DIR", "OPENSSL_*"]);
    expect(out.grant.read).toEqual(["/opt/sdk/include", "vendor/x"]);
    expect(out.shapedBy).toContainEqual({ file: "b.js", rule: "b", capability: "env", detail: "CFLAGS removed (ceiling: CC, OPENSSL_DIR, OPENSSL_*)" });
    expect(out.shapedBy).toContainEqual({ file: "a.js", rule: "a", capability: "env", detail: "*_STATIC removed (ceiling: C*, OPENSSL_*)" });
    expect(out.shapedBy).toContainEqual({ file: "b.js", rule: "b", capability: "env", detail: "*_STATIC removed (ceiling: CC, OPENSSL_DIR, OPENSSL_*)" });
    expect(out.shapedBy).toContainEqual({ file: "a.js", rule: "a", capability: "read", detail: "/opt/sdk-extra removed (ceiling: /opt/sdk, vendor)" });
  });

  it("an empty ceiling removes everything of that kind", () => {
    const out = applyPolicies(target(grantView({ write: ["gen", "/srv/out"] })), [policy("a.js", cap({ write: [] }))]);
    expect(out.grant.write).toEqual([]);
    expect(out.shapedBy.map((s) => s.detail)).toEqual(["gen removed (ceiling: none)", "/srv/out removed (ceiling: none)"]);
  });

  it("any deny denies; an allow elsewhere does not undo it", () => {
    const out = applyPolicies(target(), [
      policy("a.js", { crate: "foo", phase: "build", action: "allow", rule: "ok", message: "fine" }),
      policy("b.js", { crate: "*", phase: "*", action: "deny", message: "nothing runs today" }, { crate: "foo", phase: "*", action: "deny" }),
    ]);
    expect(out.allowed).toEqual([{ file: "a.js", rule: "ok", message: "fine" }]);
    expect(out.denied).toEqual([
      { file: "b.js", rule: "decision [0]", message: "nothing runs today" },
      { file: "b.js", rule: "decision [1]", message: "denied by policy" },
    ]);
  });

  it("checks requirements against the table's pins", () => {
    const requiring = (...r: ("checksum-pin" | "version-pin" | "reviewed")[]): PolicyDecision => ({
      crate: "*",
      phase: "*",
      action: "require",
      require: r,
      rule: "pins",
    });
    const pinned = grantView({
      table: "build.foo",
      reviewed: true,
      pinned: { version: "=1.0.0", checksum: `sha256:${"ab".repeat(32)}`, buildScript: null, procMacro: null },
    });
    expect(applyPolicies(target(pinned), [policy("p.js", requiring("checksum-pin", "version-pin", "reviewed"))]).unmet).toEqual([]);

    const loose = grantView({ table: "build.foo", pinned: { version: "1.0", checksum: null, buildScript: null, procMacro: null } });
    const unmet = applyPolicies(target(loose), [policy("p.js", requiring("checksum-pin", "version-pin", "reviewed"))]).unmet;
    expect(unmet.map((u) => u.requirement)).toEqual(["checksum-pin", "version-pin", "reviewed"]);
    expect(unmet[1]!.message).toBe('[build.foo] must pin an exact version (version = "=x.y.z"), not "1.0"');

    const none = applyPolicies(target(grantView()), [policy("p.js", { ...requiring("version-pin"), message: "pin it" })]).unmet;
    expect(none).toEqual([{ file: "p.js", rule: "pins", requirement: "version-pin", message: "pin it" }]);
  });

  it("applies a decision only to its crate, version and phase", () => {
    const d = (over: Partial<PolicyDecision>): PolicyDecision => ({ crate: "*", phase: "*", action: "allow", ...over }) as PolicyDecision;
    const step = { name: "foo", version: "1.0.0", phase: "build" as const };
    expect(decisionApplies(d({}), step)).toBe(true);
    expect(decisionApplies(d({ crate: "foo", version: "1.0.0", phase: "build" }), step)).toBe(true);
    expect(decisionApplies(d({ crate: "bar" }), step)).toBe(false);
    expect(decisionApplies(d({ version: "1.0.1" }), step)).toBe(false);
    // An exact version, not a requirement.
    expect(decisionApplies(d({ version: "1" }), step)).toBe(false);
    expect(decisionApplies(d({ phase: "test" }), step)).toBe(false);
  });

  it("describes each refusal with the policy's file, rule and message", () => {
    const out = applyPolicies(target(grantView({ table: "build.foo" })), [
      policy(
        "/org/ci.js",
        { crate: "foo", phase: "build", action: "deny", rule: "no-writes", message: "write grants are not allowed" },
        { crate: "foo", phase: "build", action: "require", require: ["checksum-pin"], rule: "pins" },
      ),
    ]);
    expect(describeRefusals(target(), out)).toEqual([
      "foo 1.0.0 build script: denied by /org/ci.js (rule no-writes): write grants are not allowed",
      'foo 1.0.0 build script: /org/ci.js (rule pins) requires a checksum pin: [build.foo] must pin Cargo.lock\'s checksum: checksum = "sha256:..."',
    ]);
  });

  it("applies to every step of an input", () => {
    const input = policyInput([
      policyCrate({ name: "a", requested: { build: grantView({ network: true }), test: null, rustc: null } }),
      policyCrate({ name: "app", source: "path", workspaceMember: true, requested: { build: null, test: grantView({ network: true }), rustc: null } }),
      policyCrate({ name: "plain", hasBuildScript: false, requested: { build: null, test: null, rustc: null } }),
    ]);
    const steps = applyPoliciesToInput(input, [policy("n.js", { crate: "*", phase: "test", action: "cap", caps: { network: false } })]);
    expect(steps.map((s) => [s.name, s.phase, s.outcome.grant.network])).toEqual([
      ["a", "build", true],
      ["app", "test", false],
    ]);
  });
});

describe("ceilings", () => {
  it.each([
    ["OPENSSL_*", "OPENSSL_DIR", true],
    ["OPENSSL_*", "OPENSSL_LIB_*", true],
    ["OPENSSL_*", "OPENSSL*", false],
    ["OPENSSL_*", "*_DIR", false],
    ["*_DIR", "OPENSSL_DIR", true],
    ["*_DIR", "*_LIB_DIR", true],
    ["*_DIR", "OPENSSL_*", false],
    ["*SSL*", "OPENSSL_*", true],
    ["*SSL*", "*_SSL_*", true],
    ["*SSL*", "CC", false],
    ["CC", "CC", true],
    ["CC", "CC*", false],
    ["*", "*_ANYTHING", true],
  ])("env ceiling %s keeps %s: %s", (ceiling, granted, kept) => expect(envPatternCovers(ceiling, granted)).toBe(kept));

  it("a kept env pattern never passes a name outside the ceiling (property)", () => {
    const lit = fc.stringMatching(/^[A-C_]{1,4}$/);
    const pattern = fc.tuple(fc.boolean(), lit, fc.boolean()).map(([l, s, t]) => `${l ? "*" : ""}${s}${t ? "*" : ""}`);
    const matches = (p: string, name: string) => {
      const lead = p.startsWith("*");
      const trail = p.length > 1 && p.endsWith("*");
      const core = p.slice(lead ? 1 : 0, trail ? -1 : undefined);
      return lead && trail ? name.includes(core) : lead ? name.endsWith(core) : trail ? name.startsWith(core) : name === core;
    };
    fc.assert(
      fc.property(pattern, pattern, fc.array(fc.stringMatching(/^[A-C_]{0,7}$/), { maxLength: 30 }), (ceiling, granted, names) => {
        if (!envPatternCovers(ceiling, granted)) return;
        for (const name of names) if (matches(granted, name)) expect(matches(ceiling, name)).toBe(true);
      }),
    );
  });

  it.each([
    ["/opt/vendor", "/opt/vendor", true],
    ["/opt/vendor", "/opt/vendor/sdk", true],
    ["/opt/vendor/", "/opt/vendor/sdk", true],
    ["/opt/vendor", "/opt/vendor-sdk", false],
    ["/opt/vendor", "/opt/vendor/../etc", false],
    ["/", "/srv", true],
    ["schemas", "schemas/v1", true],
    ["./schemas", "schemas", true],
    ["schemas", "schemas-old", false],
    [".", "anything/below", true],
    [".", "/abs", false],
    ["/work/ws/schemas", "schemas", false],
  ])("path ceiling %s keeps %s: %s", (ceiling, granted, kept) => expect(pathCovers(ceiling, granted)).toBe(kept));

  it.each([
    ["=1.2.3", true],
    ["= 1.2.3", true],
    ["=1.2.3-rc.1", true],
    ["1.2.3", false],
    ["=1.2", false],
    [">=1, <2", false],
    [null, false],
  ])("version %s is an exact pin: %s", (req, exact) => expect(isExactVersionPin(req)).toBe(exact));
});

describe("composition (property)", () => {
  const limitCaps = fc
    .record({
      memoryBytes: fc.option(fc.integer({ min: 1, max: 8 * GiB }), { nil: undefined }),
      pids: fc.option(fc.integer({ min: 1, max: 4096 }), { nil: undefined }),
      timeoutMs: fc.option(fc.integer({ min: 1, max: 120 * MIN }), { nil: undefined }),
      cpus: fc.option(fc.double({ min: 0.1, max: 64, noNaN: true }), { nil: undefined }),
      network: fc.option(fc.constant(false as const), { nil: undefined }),
      env: fc.option(fc.subarray(["CC", "C*", "*FLAGS", "OPENSSL_*", "*SSL*"]), { nil: undefined }),
      read: fc.option(fc.subarray(["/opt", "/opt/sdk", "vendor", "."]), { nil: undefined }),
    })
    .filter((c) => Object.values(c).some((v) => v !== undefined)) as fc.Arbitrary<Caps>;
  const policies = fc
    .array(fc.array(limitCaps, { maxLength: 3 }), { maxLength: 4 })
    .map((sets) => sets.map((caps, i) => policy(`p${i}.js`, ...caps.map((c) => cap(c)))));
  const grant = grantView({
    network: true,
    env: ["CC", "CFLAGS", "OPENSSL_DIR", "*_STATIC"],
    read: ["/opt/sdk/include", "vendor/a", "/srv"],
    limits: { memoryBytes: 4 * GiB, pids: 512, timeoutMs: 60 * MIN, cpus: null, tmpBytes: GiB },
  });

  it("only ever takes away, and the order of policies does not matter", () => {
    fc.assert(
      fc.property(policies, (sets) => {
        const out = applyPolicies(target(grant), sets).grant;
        const reversed = applyPolicies(target(grant), [...sets].reverse()).grant;
        expect(out).toEqual(reversed);
        for (const key of ["memoryBytes", "pids", "timeoutMs", "tmpBytes"] as const) expect(out.limits[key]).toBeLessThanOrEqual(grant.limits[key]);
        for (const key of ["env", "read", "write"] as const) for (const item of out[key]) expect(grant[key]).toContain(item);
        // Equal to applying the policies one after the other, each to the previous result.
        const chained = sets.reduce((g, p) => applyPolicies(target(g), [p]).grant, grant);
        expect(out).toEqual(chained);
      }),
    );
  });
});
