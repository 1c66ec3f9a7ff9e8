/**
 * The policies' decisions of the last run (issue 13). Evaluating policies starts a Node process
 * for isolated-vm (policy-child.ts): about 0.1 s of every run that has a policy, a no-op too. A
 * policy is a pure function of its input by contract (no clock, no randomness, no I/O: policy.ts),
 * so its decisions are kept, under the user's cache key (cache-files.ts; in CI there is no cache,
 * so a pipeline step cannot switch off the organisation's policy by planting decisions), with
 * everything they came from: every policy file's path and text,
 * the whole input (the crates of the graph, the command, CI or not, the audits), and the build's
 * id (cache-files.ts buildId: the evaluator, its limits and the decisions' validation are
 * cratebox's code). Only decisions that were given are kept: a policy that failed (an error, a
 * time or memory limit) stops the run and stores nothing, so it fails again the next time.
 */
import type { PolicyDecisions, PolicyInput } from "../core/policy/schema.ts";
import { buildId, cacheFile, readCacheFile, type StartCaches, writeCacheFile } from "./cache-files.ts";
import type { PolicySource } from "./policy-source.ts";

const VERSION = 2;

interface PolicyCacheKey {
  version: typeof VERSION;
  /** The user's cache key (cache-files.ts). */
  secret: string;
  build: string;
  policies: PolicySource[];
  input: PolicyInput;
}

interface PolicyCacheEntry {
  key: PolicyCacheKey;
  decisions: PolicyDecisions[];
}

/**
 * The cache for these policies over this input in a target directory: the decisions stored for
 * exactly them (`cached`), and how to store fresh ones. Undefined when cratebox runs from its
 * sources (no build id; `build` is for tests).
 */
export function policyCache(
  caches: StartCaches,
  policies: PolicySource[],
  input: PolicyInput,
  build = buildId(),
): { cached: PolicyDecisions[] | undefined; store: (decisions: PolicyDecisions[]) => void } | undefined {
  if (!build) return undefined;
  const key: PolicyCacheKey = { version: VERSION, secret: caches.secret, build, policies, input };
  const where = cacheFile(caches, "policy-decisions");
  const entry = readCacheFile(where) as Partial<PolicyCacheEntry> | undefined;
  const cached = Array.isArray(entry?.decisions) && JSON.stringify(entry.key) === JSON.stringify(key) ? entry.decisions : undefined;
  return { cached, store: (decisions) => writeCacheFile(where, { key, decisions } satisfies PolicyCacheEntry) };
}
