import { describe, expect, it } from "vitest";
import { PolicyInputSchema, formatDecisionIssue, validateDecisions } from "../../src/core/policy/schema.ts";
import { policyCrate, policyInput, syntheticInput } from "../helpers/policy-input.ts";

describe("policy input", () => {
  it("accepts what cratebox builds, and is plain JSON data", () => {
    const input = syntheticInput(60);
    expect(PolicyInputSchema.parse(input)).toEqual(input);
    expect(JSON.parse(JSON.stringify(input))).toEqual(input);
  });

  it("is strict: an unknown key is a bug, not data a policy silently sees", () => {
    const crate = { ...policyCrate(), extra: 1 };
    expect(PolicyInputSchema.safeParse(policyInput([crate])).success).toBe(false);
  });
});

describe("validateDecisions", () => {
  it("accepts each action with its own keys", () => {
    const decisions = [
      { crate: "*", phase: "*", action: "allow" },
      {
        crate: "openssl-sys",
        version: "0.9.80",
        phase: "build",
        action: "cap",
        rule: "r",
        message: "m",
        caps: { network: false, env: ["OPENSSL_*", "*"], read: ["/opt"], write: [], timeoutMs: 60_000, cpus: 0.5 },
      },
      { crate: "evil", phase: "test", action: "deny", message: "no" },
      { crate: "ring", phase: "build", action: "require", require: ["checksum-pin", "version-pin", "reviewed"] },
    ];
    const r = validateDecisions(decisions);
    expect(r.ok).toBe(true);
    expect(r.ok && r.value).toEqual(decisions);
  });

  it.each([
    ["not an array", { crate: "*" }, "", /expected array/],
    ["an unknown action", [{ crate: "x", phase: "*", action: "permit" }], "[0].action", /allow.*cap.*deny.*require/],
    ["caps on a deny", [{ crate: "x", phase: "*", action: "deny", caps: { pids: 1 } }], "[0].caps", /unknown key "caps"/],
    ["a misspelt cap", [{ crate: "x", phase: "*", action: "cap", caps: { timeout: 1 } }], "[0].caps.timeout", /unknown key "timeout"/],
    ["an empty cap", [{ crate: "x", phase: "*", action: "cap", caps: {} }], "[0].caps", /at least one ceiling/],
    ["a cap that grants network", [{ crate: "x", phase: "*", action: "cap", caps: { network: true } }], "[0].caps.network", /false/],
    ["a limit given as text", [{ crate: "x", phase: "*", action: "cap", caps: { timeoutMs: "30m" } }], "[0].caps.timeoutMs", /expected number/],
    ["a negative limit", [{ crate: "x", phase: "*", action: "cap", caps: { pids: -1 } }], "[0].caps.pids", /Too small|>0/],
    ["a bad env ceiling", [{ crate: "x", phase: "*", action: "cap", caps: { env: ["A*B"] } }], "[0].caps.env[0]", /variable name or a pattern/],
    ["no requirement", [{ crate: "x", phase: "*", action: "require", require: [] }], "[0].require", /Too small|>=1/],
    ["an unknown requirement", [{ crate: "x", phase: "*", action: "require", require: ["signed"] }], "[0].require[0]", /checksum-pin/],
    ["a missing phase", [{ crate: "x", action: "allow" }], "[0].phase", /build.*test/],
    ["a bad crate name", [{ crate: "../etc", phase: "*", action: "allow" }], "[0].crate", /crate name or "\*"/],
  ])("reports %s with its path", (_what, raw, path, message) => {
    const r = validateDecisions(raw);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const issue = r.issues.find((i) => i.path === path);
    expect(issue, JSON.stringify(r.issues)).toBeDefined();
    expect(issue!.message).toMatch(message);
  });

  it("reports every problem at once, each on its own line", () => {
    const r = validateDecisions([
      { crate: "x", phase: "*", action: "cap", caps: { pids: "many" } },
      { crate: "y", phase: "all", action: "allow" },
    ]);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues.map(formatDecisionIssue)).toEqual([expect.stringMatching(/^\[0\]\.caps\.pids: /), expect.stringMatching(/^\[1\]\.phase: /)]);
    expect(formatDecisionIssue({ path: "", message: "m" })).toBe("the returned value: m");
  });
});
