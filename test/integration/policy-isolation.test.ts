/**
 * Hostile and broken policies against the real evaluator (isolated-vm in its own process): each
 * ends in a CrateboxError (exit 2) that names the policy file and what went wrong, never in a
 * crash, a hang, or decisions treated as "allow".
 */
import { describe, expect, it } from "vitest";
import { CrateboxError } from "../../src/core/errors.ts";
import { evaluatePolicies } from "../../src/runtime/policy.ts";
import { loadPolicy, type PolicySource } from "../../src/runtime/policy-source.ts";
import { grantView, policyCrate, policyInput, syntheticInput } from "../helpers/policy-input.ts";

const input = policyInput([
  policyCrate({
    name: "openssl-sys",
    version: "0.9.80",
    requested: { build: grantView({ table: "build.openssl-sys", network: true, env: ["OPENSSL_*"] }), test: null, rustc: null },
  }),
  policyCrate({ name: "app", source: "path", checksum: null, workspaceMember: true, requested: { build: null, test: grantView(), rustc: null } }),
]);
const LIMITS = { timeoutMs: 250 };

/**
 * For what must end at the memory limit (or a V8 limit below it): a time limit no loaded machine
 * reaches first, so that the test sees the limit it is about, not a race between the two.
 */
const MEMORY_BOUND = { timeoutMs: 20_000 };

const run = (source: string, file = "/org/hostile.js", limits: { timeoutMs: number } = LIMITS) => evaluatePolicies([{ file, source }], input, limits);

async function failure(source: string, file = "/org/hostile.js", limits: { timeoutMs: number } = LIMITS): Promise<CrateboxError> {
  const err = await run(source, file, limits).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CrateboxError);
  const e = err as CrateboxError;
  expect(e.exitCode).toBe(2);
  expect(e.message).toContain(file);
  return e;
}

/** A policy that reports values through a decision's message. */
const report = (expr: string) => `function policy(input) { return [{ crate: "*", phase: "*", action: "allow", message: JSON.stringify(${expr}) }]; }`;
async function observe(expr: string): Promise<unknown> {
  const [result] = await run(report(expr));
  return JSON.parse(result!.decisions[0]!.message!);
}

describe("a working policy", () => {
  it("sees the input and returns validated decisions", async () => {
    const source = `function policy(input) {
      return input.crates.filter((c) => c.requested.build && c.requested.build.network)
        .map((c) => ({ crate: c.name, version: c.version, phase: "build", action: "cap", caps: { network: false }, rule: "no-net" }));
    }`;
    expect(await run(source, "/org/ok.js")).toEqual([
      { file: "/org/ok.js", decisions: [{ crate: "openssl-sys", version: "0.9.80", phase: "build", action: "cap", caps: { network: false }, rule: "no-net" }] },
    ]);
  });

  it("may declare policy with const, in strict code", async () => {
    expect(await run(`"use strict"; const policy = () => [];`)).toEqual([{ file: "/org/hostile.js", decisions: [] }]);
  });

  it("works on a copy: what it does to the input stays in the isolate", async () => {
    const before = structuredClone(input);
    await run(`function policy(input) { input.crates.length = 0; input.run.ci = false; return []; }`);
    expect(input).toEqual(before);
  });

  it("evaluates several policies in order, each in a fresh isolate", async () => {
    const a: PolicySource = { file: "a.js", source: `globalThis.leak = 1; function policy() { return []; }` };
    const b: PolicySource = { file: "b.js", source: report("typeof globalThis.leak").replace('crate: "*"', 'crate: "app"') };
    const [ra, rb] = await evaluatePolicies([a, b], input, LIMITS);
    expect(ra).toEqual({ file: "a.js", decisions: [] });
    expect(rb!.decisions[0]!.message).toBe('"undefined"');
  });

  it("evaluates nothing when there is no policy", async () => {
    expect(await evaluatePolicies([], input)).toEqual([]);
  });

  it("handles a large build graph under the default limits", async () => {
    const big = syntheticInput(2000);
    const [r] = await evaluatePolicies(
      [
        {
          file: "all.js",
          source: `function policy(input) { return input.crates.map((c) => ({ crate: c.name, version: c.version, phase: "*", action: "allow" })); }`,
        },
      ],
      big,
    );
    expect(r!.decisions).toHaveLength(2000);
  });
});

describe("isolation: nothing of the host is inside", () => {
  it("has no require, process, timers, Node globals or escape hatches", async () => {
    expect(
      await observe(`[typeof require, typeof process, typeof module, typeof Buffer, typeof setTimeout, typeof setImmediate,
      typeof queueMicrotask, typeof fetch, typeof globalThis.process, typeof WebAssembly, typeof SharedArrayBuffer, typeof Atomics,
      typeof Intl, typeof WeakRef, typeof FinalizationRegistry]`),
    ).toEqual(Array(15).fill("undefined"));
  });

  it("a constructor escape reaches the isolate's own Function, which finds no process", async () => {
    expect(await observe(`this.constructor.constructor("return typeof process")()`)).toBe("undefined");
    expect(await observe(`input.constructor.constructor("return typeof require")()`)).toBe("undefined");
    const e = await failure(`function policy() { return this.constructor.constructor("return process")().exit(1); }`);
    expect(e.message).toMatch(/threw in policy\(input\): ReferenceError: process is not defined/);
  });

  it("globalThis.process is not there to call", async () => {
    const e = await failure(`function policy() { globalThis.process.exit(0); }`);
    expect(e.message).toMatch(/TypeError: Cannot read properties of undefined/);
    expect(e.message).toMatch(/hostile\.js:1/);
  });

  it("import() fails, awaited or not", async () => {
    const e = await failure(`function policy() { import("node:fs").then((fs) => fs.writeFileSync("/tmp/pwned", "")); return []; }`);
    expect(e.message).toMatch(/left a rejected promise behind in policy\(input\): Not supported/);
    const top = await failure(`import("node:child_process"); function policy() { return []; }`);
    expect(top.message).toMatch(/while loading: Not supported/);
    const stat = await failure(`import fs from "node:fs"; function policy() { return []; }`);
    expect(stat.message).toMatch(/syntax error: Cannot use import statement outside a module/);
  });

  it("nothing pending outlives the call", async () => {
    // A microtask queued by the policy still runs under the time limit, and then nothing is left.
    const e = await failure(`function policy() { Promise.resolve().then(() => { for (;;) {} }); return []; }`);
    expect(e.message).toMatch(/time limit of 250 ms in policy\(input\)/);
  });
});

describe("hostile and broken policies end in clean errors", () => {
  it.each([
    [
      "an endless loop in policy(input)",
      `function policy() { for (;;) {} }`,
      /did not finish within its time limit of 250 ms in policy\(input\) \(an endless loop\?\)/,
    ],
    ["an endless loop at the top level", `for (;;) {} function policy() { return []; }`, /did not finish within its time limit of 250 ms while loading/],
    [
      "an allocation bomb",
      `function policy() { const a = []; for (;;) a.push(new Array(1e6).fill(a.length)); }`,
      /ran out of memory in policy\(input\) \(limit 32 MiB\)/,
    ],
    [
      "a throw",
      `function policy() {\n  throw new Error("no decisions today");\n}`,
      /threw in policy\(input\): Error: no decisions today \(at policy \(\/org\/hostile\.js:2:9\)\)/,
    ],
    ["a thrown string", `function policy() { throw "nope"; }`, /threw in policy\(input\): "nope"/],
    ["a thrown object", `function policy() { throw { code: 1 }; }`, /threw in policy\(input\): a thrown object that is not an Error/],
    ["a throw at the top level", `throw new TypeError("bad config");`, /threw while loading: TypeError: bad config/],
    ["a syntax error", `function policy(input) {\n  return [\n}`, /has a syntax error: .*\[\/org\/hostile\.js:3:1\]/],
    ["no policy function", `const rules = [];`, /defines no function policy\(input\) \(policy is undefined\)/],
    ["policy that is not a function", `var policy = [];`, /defines no function policy\(input\) \(policy is object\)/],
    ["a stack overflow", `function policy() { return policy(); }`, /RangeError: Maximum call stack size exceeded/],
    ["a string bomb", `function policy() { let s = "x"; for (;;) s += s; }`, /RangeError: Invalid string length/],
  ])("%s", async (what, source, message) => {
    const e = await failure(source, undefined, /bomb|overflow/.test(what) ? MEMORY_BOUND : LIMITS);
    expect(e.code).toBe("POLICY_FAILED");
    expect(e.message).toMatch(message);
  });

  it.each([
    [
      "a promise (an async policy)",
      `async function policy() { return []; }`,
      /a promise at the returned value: policy\(input\) must return its decisions, not a promise/,
    ],
    ["a function", `function policy() { return policy; }`, /a function at the returned value/],
    ["a nested function", `function policy() { return [{ crate: "x", phase: "*", action: "allow", check() {} }]; }`, /a function at \[0\]\.check/],
    [
      "a cyclic object",
      `function policy() { const d = { crate: "x", phase: "*", action: "allow" }; d.self = [d]; return [d]; }`,
      /a cyclic reference at \[0\]\.self\[0\]/,
    ],
    ["a Map", `function policy() { return [new Map()]; }`, /a Map at \[0\]: only plain objects/],
    ["NaN", `function policy() { return [{ crate: "x", phase: "*", action: "cap", caps: { pids: 0 / 0 } }]; }`, /NaN at \[0\]\.caps\.pids/],
    ["undefined", `function policy() { }`, /undefined at the returned value/],
    ["a hole", `function policy() { return [, { crate: "x", phase: "*", action: "allow" }]; }`, /undefined at \[0\]/],
    ["a deep structure", `function policy() { let d = []; for (let i = 0; i < 100; i++) d = [d]; return d; }`, /nested deeper than 64 levels/],
  ])("returning %s", async (_what, source, message) => {
    const e = await failure(source);
    expect(e.code).toBe("POLICY_OUTPUT");
    expect(e.message).toMatch(message);
  });

  it("malformed decisions: every problem with its zod path", async () => {
    const e = await failure(`function policy() { return [
      { crate: "x", phase: "build", action: "cap", caps: { timeoutMs: "30m", network: true } },
      { crate: "y", phase: "*", action: "allow", extra: 1 },
      { crate: "z", phase: "*", action: "maybe" },
    ]; }`);
    expect(e.code).toBe("POLICY_OUTPUT");
    expect(e.message).toMatch(/^policy \/org\/hostile\.js returned decisions that do not fit the schema \(4 problems\):/);
    expect(e.message).toContain("  - [0].caps.timeoutMs: ");
    expect(e.message).toContain("  - [0].caps.network: ");
    expect(e.message).toContain('  - [1].extra: unknown key "extra"');
    expect(e.message).toContain("  - [2].action: ");
  });

  it("a thrown error whose message getter never returns is stopped by the time limit", async () => {
    // isolated-vm would read `message` outside the time limit and hang; the realm reads it inside.
    const e = await failure(`function policy() { const e = new Error("x"); Object.defineProperty(e, "message", { get() { for (;;) {} } }); throw e; }`);
    expect(e.message).toMatch(/time limit of 250 ms in policy\(input\)/);
  });

  it("a rejected promise whose reason never lets go is stopped by killing the evaluator", async () => {
    // isolated-vm reads an unhandled rejection's reason after the call, outside any limit.
    const t = performance.now();
    const e = await failure(`function policy() { Promise.reject(new Proxy({}, { get() { for (;;) {} } })); return []; }`);
    expect(e.message).toMatch(/did not finish within its time limit of 250 ms and its evaluator had to be killed/);
    expect(performance.now() - t).toBeLessThan(10_000);
  }, 20_000);

  it("the first failing policy stops the evaluation and no decisions are returned", async () => {
    const ok: PolicySource = { file: "/org/fine.js", source: `function policy() { return [{ crate: "*", phase: "*", action: "allow" }]; }` };
    const bad: PolicySource = { file: "/org/broken.js", source: `function policy() { throw new Error("oops"); }` };
    const never: PolicySource = { file: "/org/later.js", source: `function policy() { for (;;) {} }` };
    await expect(evaluatePolicies([ok, bad, never], input, LIMITS)).rejects.toThrow(/^policy \/org\/broken\.js threw in policy\(input\): Error: oops/);
  });

  it("a policy too large for the isolate is refused before it runs", async () => {
    const e = await evaluatePolicies([{ file: "huge.js", source: `// ${"x".repeat(9 * 1024 ** 2)}\nfunction policy() { return []; }` }], input).catch(
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(CrateboxError);
    expect((e as Error).message).toMatch(/policy huge\.js is too large/);
  });

  it("a policy file that cannot be read is a configuration error", () => {
    expect(() => loadPolicy("/nonexistent/org-policy.js")).toThrow(
      expect.objectContaining({
        code: "POLICY_READ",
        exitCode: 2,
        message: expect.stringMatching(/^policy \/nonexistent\/org-policy\.js cannot be read: ENOENT/),
      }),
    );
  });

  it("limits are validated", async () => {
    await expect(evaluatePolicies([{ file: "a.js", source: "" }], input, { timeoutMs: 0 })).rejects.toThrow(/not a positive number of milliseconds/);
    await expect(evaluatePolicies([{ file: "a.js", source: "" }], input, { memoryBytes: 1024 })).rejects.toThrow(/below the smallest isolate/);
  });
});

describe("determinism: same input, same decisions", () => {
  it("gives the same decisions on every evaluation", async () => {
    const source = `function policy(input) {
      const seen = new Set();
      return input.crates.flatMap((c, i) => seen.has(c.name) ? [] : (seen.add(c.name), [{ crate: c.name, phase: "*", action: "allow", message: String(i * 31 % 7) + new Date(1e12).toISOString() + (1234.5).toLocaleString() + new Date(0).getHours() }]));
    }`;
    const big = syntheticInput(200);
    const first = await evaluatePolicies([{ file: "d.js", source }], big);
    const second = await evaluatePolicies([{ file: "d.js", source }], big);
    expect(second).toEqual(first);
    expect(first[0]!.decisions[0]!.message).toBe("02001-09-09T01:46:40.000Z1,234.50");
  });

  it.each([
    ["Math.random()", /Math\.random is not available in a policy/],
    ["Date.now()", /Date\.now is not available in a policy: decisions may depend on the input only, not on the clock/],
    ["new Date()", /new Date\(\) without an argument reads the clock/],
    ["Date()", /Date\(\) reads the clock/],
    ["new Date().constructor.now()", /new Date\(\) without an argument/],
    ["new Date(0).constructor.now()", /Date\.now is not available/],
  ])("%s throws instead of reading the clock or chance", async (expr, message) => {
    const e = await failure(report(expr));
    expect(e.message).toMatch(message);
  });

  it("time zone and locale do not depend on the host", async () => {
    expect(
      await observe(`[new Date(0).getTimezoneOffset(), new Date(Date.UTC(2024, 0, 1)).getHours(), (1234567.891).toLocaleString(), "a".localeCompare("b")]`),
    ).toEqual([0, 0, "1,234,567.891", -1]);
  });
});
