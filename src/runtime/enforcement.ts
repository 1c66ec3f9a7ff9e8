/**
 * Does the engine really enforce the limits cratebox relies on? Some engines (rootless without
 * cgroup v2, for one) accept a memory or pids limit and silently ignore it. `cratebox doctor`
 * proves it with real containers and remembers the answer per engine; every run reads that
 * answer and the engine's own capability flags, and says so loudly when limits are not enforced.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import type Docker from "dockerode";
import type { RunIdentity } from "../core/labels.ts";
import type { Limits } from "../core/limits.ts";
import { type ProbeHost, toProbeSpec } from "../core/probe-spec.ts";
import { engineInfo } from "./engine.ts";
import { runSandbox } from "./sandbox/run-sandbox.ts";
import type { SandboxRuntime } from "./sandbox/runtime.ts";

export interface ProbeResult {
  name: "pids" | "memory" | "network";
  enforced: boolean;
  detail: string;
}

export interface EnforcementRecord {
  engineId: string;
  checkedAt: string;
  probes: ProbeResult[];
}

function cacheFile(env: NodeJS.ProcessEnv, engineId: string): string {
  const base = env.XDG_CACHE_HOME ?? path.join(homedir(), ".cache");
  return path.join(base, "cratebox", `enforcement-${engineId.replace(/[^A-Za-z0-9_-]/g, "_")}.json`);
}

function readEnforcementRecord(env: NodeJS.ProcessEnv, engineId: string): EnforcementRecord | undefined {
  try {
    return JSON.parse(readFileSync(cacheFile(env, engineId), "utf8")) as EnforcementRecord;
  } catch {
    return undefined;
  }
}

export function writeEnforcementRecord(env: NodeJS.ProcessEnv, record: EnforcementRecord): void {
  const file = cacheFile(env, record.engineId);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
}

/** Loud warnings for a run, from the engine's flags and the last doctor probe (cheap: one API call). */
export async function enforcementWarnings(docker: Docker, env: NodeJS.ProcessEnv): Promise<string[]> {
  const info = (await engineInfo(docker)) as { ID?: string; MemoryLimit?: boolean; PidsLimit?: boolean; SwapLimit?: boolean };
  const warnings: string[] = [];
  if (info.MemoryLimit === false) warnings.push("the Docker engine does not enforce memory limits: a memory bomb in a build script is not contained");
  if (info.PidsLimit === false) warnings.push("the Docker engine does not enforce process limits: a fork bomb in a build script is not contained");
  const record = info.ID ? readEnforcementRecord(env, info.ID) : undefined;
  for (const p of record?.probes ?? []) {
    if (!p.enforced) warnings.push(`\`cratebox doctor\` found the ${p.name} limit not enforced by this engine: ${p.detail}`);
  }
  return warnings;
}

interface ProbeRun {
  exitCode: number;
  oomKilled: boolean;
  pidsLimitHit: boolean | undefined;
  output: string;
}

/** Where and as whom the probes run. */
export interface ProbeContext {
  runtime: SandboxRuntime;
  host: ProbeHost;
  identity: RunIdentity;
}

async function probe(ctx: ProbeContext, name: string, script: string, limits: Partial<Limits>): Promise<ProbeRun> {
  let out = "";
  let id = "";
  try {
    const run = await runSandbox(
      ctx.runtime,
      toProbeSpec(ctx.host, ctx.identity, name, script, limits),
      { stdout: (c) => (out += c), stderr: (c) => (out += c) },
      AbortSignal.timeout(30_000),
      { onCreated: (cid) => (id = cid) },
    );
    return { exitCode: run.exit.exitCode, oomKilled: run.exit.oomKilled, pidsLimitHit: run.exit.pidsLimitHit, output: out };
  } finally {
    if (id) await ctx.runtime.remove(id);
  }
}

/** Runs the three enforcement probes in real sandboxes. */
export async function probeEnforcement(ctx: ProbeContext): Promise<ProbeResult[]> {
  const pidsLimit = 16;
  const pids = await probe(
    ctx,
    "pids",
    // Try to hold 40 processes at once, then count them with shell built-ins only. Under an
    // enforced limit the shell itself dies with "Cannot fork" before it gets to count.
    'i=0; while [ $i -lt 40 ]; do sleep 3 & i=$((i+1)); done; set -- /proc/[0-9]*; echo "held $#"',
    { pids: pidsLimit },
  );
  const count = Number(/held (\d+)/.exec(pids.output)?.[1] ?? NaN);
  const forkRefused = /fork/i.test(pids.output) && pids.exitCode !== 0;
  // Under gVisor the sandbox's own host threads hit the cgroup's limit first: the whole sandbox
  // ends instead of one fork failing, before the shell gets to count. The engine's pids.events
  // counter says so when it was read in time (it is polled: a sandbox that ends at once may end
  // before the first read), so a failed sandbox that never counted is the evidence either way.
  const sandboxEnded = !Number.isFinite(count) && pids.exitCode !== 0;
  const memoryLimit = 64 * 1024 * 1024;
  // `tail` keeps a whole line in memory; /dev/zero has no newline: 512 MiB against a 64 MiB limit.
  const memory = await probe(ctx, "memory", "head -c 536870912 /dev/zero | tail -n 1 | wc -c", { memoryBytes: memoryLimit });
  const net = await probe(ctx, "network", "tail -n +3 /proc/net/dev | cut -d: -f1", {});
  const interfaces = net.output.split(/\s+/).filter(Boolean);
  return [
    {
      name: "pids",
      enforced: forkRefused || sandboxEnded || (Number.isFinite(count) && count <= pidsLimit),
      detail: forkRefused
        ? `asked for 40 processes under a limit of ${pidsLimit}, a fork past it was refused`
        : sandboxEnded
          ? pids.pidsLimitHit === true
            ? `asked for 40 processes under a limit of ${pidsLimit}, the sandbox was ended at the limit (exit ${pids.exitCode})`
            : `asked for 40 processes under a limit of ${pidsLimit}, the sandbox was ended before it could count them (exit ${pids.exitCode})`
          : Number.isFinite(count)
            ? `asked for 40 processes under a limit of ${pidsLimit}, the sandbox held ${count}`
            : `probe output: ${pids.output.trim()}`,
    },
    {
      name: "memory",
      enforced: memory.oomKilled || memory.exitCode !== 0,
      detail: memory.oomKilled
        ? "allocating 512 MiB under a 64 MiB limit was killed for memory"
        : `allocating 512 MiB under a 64 MiB limit ended with exit code ${memory.exitCode}, not killed`,
    },
    {
      name: "network",
      enforced: interfaces.length === 1 && interfaces[0] === "lo",
      detail: `network interfaces inside: ${interfaces.join(", ") || "(none)"}`,
    },
  ];
}
