/**
 * The policies' decisions of the last run (issue 13). Evaluating policies starts a Node process
 * for isolated-vm (policy-child.ts): about 0.2 s of every run that has a policy, a no-op too. A
 * policy is a pure function of its input by contract (no clock, no randomness, no I/O: policy.ts),
 * so its decisions are kept with everything they came from: every policy file's path and text,
 * the whole input (the crates of the graph, the command, CI or not, the audits), and, added by
 * cache-files.ts keyedCache, the user's cache key and the build's id (the evaluator, its limits
 * and the decisions' validation are cratebox's code). In CI there is no cache, so a pipeline
 * step cannot switch off the organisation's policy by planting decisions. Only decisions that were given are kept: a policy that failed (an error, a
 * time or memory limit) stops the run and stores nothing, so it fails again the next time.
 */
import type { PolicyDecisions, PolicyInput } from "../core/policy/schema.ts";
import { keyedCache, type StartCaches } from "./cache-files.ts";
import type { PolicySource } from "./policy-source.ts";

const VERSION = 2;

/**
 * The cache for these policies over this input: the decisions stored for exactly them
 * (`cached`), and how to store fresh ones (cache-files.ts keyedCache; `build` is for tests).
 */
export function policyCache(
  caches: StartCaches,
  policies: PolicySource[],
  input: PolicyInput,
  build?: string,
): { cached: PolicyDecisions[] | undefined; store: (decisions: PolicyDecisions[]) => void } | undefined {
  const cache = keyedCache<{ decisions: PolicyDecisions[] }>(
    caches,
    "policy-decisions",
    { version: VERSION, policies, input },
    (f) => Array.isArray(f.decisions),
    build,
  );
  return cache && { cached: cache.cached?.decisions, store: (decisions) => cache.store({ decisions }) };
}
