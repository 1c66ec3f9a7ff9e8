/**
 * Policy benchmark (issue #6: "evaluating a policy over 1,000 crates takes under a second", a
 * figure for the README, not a timed test): `node bench/policy.ts [--runs N] [--crates N]`.
 *
 * A synthetic build graph shaped like a large real one (test/helpers/policy-input.ts), then the
 * whole path a run takes, end to end: start the evaluator process, a fresh isolate per policy,
 * copy the input in, run the policy, copy the decisions out, validate them with zod, apply them
 * to every step. Once with profiles/policies/strict-ci-baseline.js, once with all three shipped
 * policies composed, once with a heavier per-crate policy, and the fixed cost alone (an empty
 * policy over no crates). Prints the median of N runs (and the fastest and slowest).
 */
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { applyPoliciesToInput } from "../src/core/policy/apply.ts";
import { evaluatePolicies } from "../src/runtime/policy.ts";
import { loadPolicy, type PolicySource } from "../src/runtime/policy-source.ts";
import type { PolicyInput } from "../src/core/policy/schema.ts";
import { policyInput, syntheticInput } from "../test/helpers/policy-input.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "7" }, crates: { type: "string", default: "1000" } } });
const runs = Number(values.runs);
const crates = Number(values.crates);
const dir = path.resolve(import.meta.dirname, "../profiles/policies");
const input = syntheticInput(crates);
const steps = input.crates.reduce((n, c) => n + (c.requested.build ? 1 : 0) + (c.requested.test ? 1 : 0), 0);

/**
 * Heavier than the shipped ones: looks at every crate (who depends on it, its features, its
 * grant) and answers for each: -sys crates with build scripts get a memory and time ceiling and
 * only their own env prefix, proc macros may not have network, the rest are allowed explicitly.
 */
const PER_CRATE = `function policy(input) {
  const members = new Set(input.crates.filter((c) => c.workspaceMember).map((c) => c.name));
  return input.crates.map((c) => {
    const prefix = c.name.toUpperCase().replace(/-/g, "_");
    if (c.name.endsWith("-sys") && c.hasBuildScript) {
      return { crate: c.name, version: c.version, phase: "build", action: "cap", rule: "sys-crates",
        caps: { memoryBytes: 2 * 1024 ** 3, timeoutMs: 20 * 60 * 1000, env: ["CC", "CFLAGS", "PKG_CONFIG*", prefix + "_*"] } };
    }
    if (c.isProcMacro) return { crate: c.name, phase: "*", action: "cap", caps: { network: false }, rule: "proc-macros" };
    const direct = c.dependents.some((d) => members.has(d));
    return { crate: c.name, version: c.version, phase: "*", action: "allow", rule: direct ? "direct-dependency" : "transitive",
      message: c.features.length > 0 ? "features: " + c.features.join(", ") : undefined };
  });
}`;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (x: number) => `${x.toFixed(0)} ms`;

async function measure(label: string, files: string[], extra: PolicySource[] = [], graph: PolicyInput = input): Promise<void> {
  const policies = [...files.map((f) => loadPolicy(path.join(dir, f))), ...extra];
  const total: number[] = [];
  const apply: number[] = [];
  let decisions = 0;
  let refusals = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const evaluated = await evaluatePolicies(policies, graph);
    const t1 = performance.now();
    const outcomes = applyPoliciesToInput(graph, evaluated);
    const t2 = performance.now();
    total.push(t2 - t0);
    apply.push(t2 - t1);
    decisions = evaluated.reduce((n, p) => n + p.decisions.length, 0);
    refusals = outcomes.reduce((n, s) => n + s.outcome.denied.length + s.outcome.unmet.length, 0);
  }
  console.log(
    `${label}: median ${ms(median(total))} (fastest ${ms(Math.min(...total))}, slowest ${ms(Math.max(...total))}); ` +
      `of which applying: ${ms(median(apply))}; ${decisions} decisions, ${refusals} refusals`,
  );
}

console.log(`policy benchmark: ${crates} crates (${steps} sandboxed steps), ${runs} runs each, Node ${process.version}`);
await measure(
  "fixed cost: an empty policy, no crates (evaluator process start)",
  [],
  [{ file: "empty.js", source: "function policy() { return []; }" }],
  policyInput([]),
);
await measure("strict-ci-baseline.js", ["strict-ci-baseline.js"]);
await measure("all three shipped policies", ["strict-ci-baseline.js", "no-network.js", "pins-required.js"]);
await measure("a per-crate policy (a decision for every crate)", [], [{ file: "per-crate.js", source: PER_CRATE }]);
