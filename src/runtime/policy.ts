/**
 * Organisation policies at run time (issue #6): read a policy file, evaluate policies over the
 * build graph in isolated-vm, validate what they return. Deciding what the decisions mean for a
 * grant is pure and lives in core/policy/apply.ts.
 *
 * The policy contract (what a policy author writes; README-ready text in docs/policies.md):
 *   A policy is a JavaScript script (not a module) that defines a function `policy(input)`,
 *   declared any way (`function policy(input) {...}`, `const policy = (input) => ...`). cratebox
 *   calls it at most once per run (policy-cache.ts keeps decisions for the same input) with
 *   plain JSON data about the run and every crate of the build graph
 *   (`PolicyInput` in core/policy/schema.ts) and expects an array of decisions back
 *   (`PolicyDecision`): allow, cap, deny or require, each for a crate (or "*"), a phase ("build",
 *   "test" or "*") and optionally an exact version, with an optional `message` and `rule` name
 *   that cratebox cites. Return `[]` when there is nothing to say.
 *   The script runs in an empty V8 isolate: no `require`, `process`, `import()`, timers, file
 *   system or network; `Math.random`, `Date.now()` and `new Date()` without an argument throw;
 *   time zone UTC, fixed locale. It must be synchronous: a returned promise is an error, and
 *   anything still pending when `policy` returns never runs. Its top-level code and the call
 *   each have a time limit (default 1 s) and the isolate a memory limit (default 32 MiB).
 *   Anything else (a throw, a syntax error, an endless loop, running out of memory, returning
 *   something that is not an array of valid decisions) stops the run with an error that names
 *   the file: a broken policy never counts as "allow".
 *
 * The evaluation itself happens in a child process (policy-child.ts explains why), which this
 * module starts, feeds, watches and kills when it overstays.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CrateboxError, internalError } from "../core/errors.ts";
import { formatSize } from "../core/limits.ts";
import { PolicyInputSchema, formatDecisionIssue, validateDecisions, type PolicyDecisions, type PolicyInput } from "../core/policy/schema.ts";
import type { EvaluationResult, EvaluatorEvent, EvaluatorRequest } from "./policy-child.ts";
import { PACKAGE_ROOT } from "./image.ts";
import type { PolicySource } from "./policy-source.ts";

export interface PolicyLimits {
  /** Wall-clock limit of the policy's top-level code, and again of the call to policy(input). */
  timeoutMs: number;
  /** Heap of the policy's isolate (isolated-vm counts in whole MiB; at least 8 MiB). */
  memoryBytes: number;
}

const DEFAULT_POLICY_LIMITS: Readonly<PolicyLimits> = Object.freeze({ timeoutMs: 1000, memoryBytes: 32 * 1024 ** 2 });

const HINT = "a policy that cannot decide stops the run before anything is built; try it on its own with `cratebox policy test <file>`";

/**
 * Runs every policy over `input`, each in a fresh isolate, one after the other, and returns
 * their validated decisions in the same order. The first policy that fails stops the
 * evaluation with a CrateboxError naming its file and what went wrong.
 */
export async function evaluatePolicies(policies: readonly PolicySource[], input: PolicyInput, options: Partial<PolicyLimits> = {}): Promise<PolicyDecisions[]> {
  const limits = validateLimits({ ...DEFAULT_POLICY_LIMITS, ...options });
  const checked = PolicyInputSchema.safeParse(input);
  // The input is built by cratebox itself: a mismatch is a bug, reported with a stack.
  if (!checked.success) throw internalError(`policy input does not fit its schema: ${checked.error.message}`);
  if (policies.length === 0) return [];
  for (const p of policies) {
    // isolated-vm compiles source text only up to an eighth of the isolate's memory limit.
    if (p.source.length > limits.memoryBytes / 8 - 1024) {
      throw new CrateboxError(
        "POLICY_FAILED",
        `policy ${p.file} is too large (${formatSize(p.source.length)}; at most an eighth of the policy memory limit of ${formatSize(limits.memoryBytes)})`,
        HINT,
      );
    }
  }
  const request: EvaluatorRequest = {
    policies: policies.map((p) => ({ file: p.file, source: p.source })),
    input: checked.data,
    timeoutMs: limits.timeoutMs,
    memoryMiB: Math.floor(limits.memoryBytes / 1024 ** 2),
  };
  const results = await runEvaluator(request, limits);
  // In order: the first failure throws; the evaluator stopped there, so nothing after it is read.
  return policies.map((p, i) => ({ file: p.file, decisions: toDecisions(p.file, results[i]!, limits) }));
}

function validateLimits(limits: PolicyLimits): PolicyLimits {
  if (!Number.isSafeInteger(limits.timeoutMs) || limits.timeoutMs <= 0) {
    throw new CrateboxError("POLICY_LIMITS", `policy time limit ${limits.timeoutMs} is not a positive number of milliseconds`);
  }
  if (!Number.isSafeInteger(limits.memoryBytes) || limits.memoryBytes < 8 * 1024 ** 2) {
    throw new CrateboxError("POLICY_LIMITS", `policy memory limit ${limits.memoryBytes} is below the smallest isolate (8 MiB)`);
  }
  return limits;
}

function toDecisions(file: string, result: EvaluationResult, limits: PolicyLimits): PolicyDecisions["decisions"] {
  if (!result.ok) throw new CrateboxError(result.problem === "not-data" ? "POLICY_OUTPUT" : "POLICY_FAILED", describeFailure(file, result, limits), HINT);
  const valid = validateDecisions(JSON.parse(result.output) as unknown);
  if (valid.ok) return valid.value;
  const n = valid.issues.length;
  throw new CrateboxError(
    "POLICY_OUTPUT",
    `policy ${file} returned decisions that do not fit the schema (${n} problem${n === 1 ? "" : "s"}):\n${valid.issues.map((i) => `  - ${formatDecisionIssue(i)}`).join("\n")}`,
    `${HINT}; the decisions are described in docs/policies.md`,
  );
}

function describeFailure(file: string, r: Extract<EvaluationResult, { ok: false }>, limits: PolicyLimits): string {
  const where = r.stage === "load" ? "while loading" : "in policy(input)";
  switch (r.problem) {
    case "syntax":
      return `policy ${file} has a syntax error: ${r.detail}`;
    case "threw":
      return `policy ${file} threw ${where}: ${r.detail}`;
    case "no-policy":
      return `policy ${file} defines no function policy(input) (policy is ${r.detail})`;
    case "not-data":
      return `policy ${file} returned something that is not JSON data: ${r.detail}`;
    case "timeout":
      return `policy ${file} did not finish within its time limit of ${limits.timeoutMs} ms ${where} (an endless loop?)`;
    case "memory":
      return `policy ${file} ran out of memory ${where} (limit ${formatSize(limits.memoryBytes)})`;
    case "rejected":
      return `policy ${file} left a rejected promise behind ${where}: ${r.detail} (policies are synchronous; import() is not supported)`;
  }
}

// ---- the evaluator process --------------------------------------------------------------------

// From the sources (tests) it sits next to this file; in the bundle, at dist/runtime/ (scripts/build.ts).
const EVALUATOR = import.meta.url.endsWith(".ts")
  ? fileURLToPath(new URL("./policy-child.ts", import.meta.url))
  : path.join(PACKAGE_ROOT, "dist/runtime/policy-child.js");
/** Node's start and loading isolated-vm, on a slow CI machine. */
const STARTUP_MS = 15_000;
/** Beyond the policy's own two time limits: context set-up, compiling, copying data. */
const GRACE_MS = 3_000;

/**
 * Starts the evaluator, sends the request, collects one result per policy. Kills it when a
 * policy takes longer than its time limits allow (isolated-vm could not stop it) and turns any
 * early exit (a crash of the native module) into an error naming the policy being evaluated.
 */
function runEvaluator(request: EvaluatorRequest, limits: PolicyLimits): Promise<EvaluationResult[]> {
  const child = spawn(process.execPath, ["--no-node-snapshot", "--disable-warning=ExperimentalWarning", EVALUATOR], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { TZ: "UTC", LC_ALL: "C", LANG: "C" },
    cwd: "/",
  });
  const results: EvaluationResult[] = [];
  let current: number | undefined;
  let stderr = "";
  let buffered = "";
  let timer: NodeJS.Timeout | undefined;
  let killedFor: string | undefined;
  let settled = false;
  const fileOf = (i: number | undefined) => (i === undefined ? undefined : request.policies[i]?.file);
  const arm = (ms: number, why: string) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      killedFor = why;
      child.kill("SIGKILL");
    }, ms);
  };
  arm(STARTUP_MS, `the policy evaluator did not start within ${STARTUP_MS / 1000} s`);

  return new Promise((resolve, reject) => {
    const settle = (outcome: { results: EvaluationResult[] } | { error: Error }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill("SIGKILL");
      if ("error" in outcome) reject(outcome.error);
      else resolve(outcome.results);
    };
    const onEvent = (event: EvaluatorEvent) => {
      if (event.event === "start") {
        current = event.index;
        arm(
          2 * limits.timeoutMs + GRACE_MS,
          `policy ${fileOf(current)} did not finish within its time limit of ${limits.timeoutMs} ms and its evaluator had to be killed`,
        );
        return;
      }
      results[event.index] = event.result;
      current = undefined;
      // A failed policy ends the evaluation: it is what the caller reports.
      if (!event.result.ok || event.index === request.policies.length - 1) settle({ results });
    };
    child.stdin.on("error", () => {
      /* an early exit is reported on "close" */
    });
    child.stderr.setEncoding("utf8").on("data", (s: string) => {
      stderr = (stderr + s).slice(-4000);
    });
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      buffered += s;
      for (let nl = buffered.indexOf("\n"); nl >= 0 && !settled; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          onEvent(JSON.parse(line) as EvaluatorEvent);
        } catch {
          settle({ error: new Error(`the policy evaluator wrote something unexpected: ${line.slice(0, 200)}`) });
        }
      }
    });
    child.on("error", (err) => settle({ error: new CrateboxError("POLICY_FAILED", `the policy evaluator could not start: ${err.message}`, HINT) }));
    child.on("close", (code, signal) => {
      if (settled) return;
      if (killedFor !== undefined) return settle({ error: new CrateboxError("POLICY_FAILED", killedFor, HINT) });
      const file = fileOf(current);
      const how = signal === null ? `exit code ${code}` : `signal ${signal}`;
      const detail = stderr.trim() === "" ? "" : `:\n${stderr.trim()}`;
      settle({
        error: new CrateboxError(
          "POLICY_FAILED",
          file === undefined ? `the policy evaluator stopped (${how})${detail}` : `policy ${file}: its evaluator stopped (${how})${detail}`,
          file === undefined ? "is isolated-vm installed and built for this Node (npm install)?" : HINT,
        ),
      });
    });
    child.stdin.end(JSON.stringify(request));
  });
}
