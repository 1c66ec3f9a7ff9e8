/**
 * The probe behind core/host-view.ts: a directory with a random nonce file, next to the build
 * directory, mounted read-only into one sandbox of the engine that cats it. Run when a run first
 * needs the engine; a success is remembered per engine (like doctor's enforcement record), so
 * it costs one container once, not once per run. A failure is never remembered.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import type Docker from "dockerode";
import { CrateboxError } from "../core/errors.ts";
import { engineReach, type HostViewProbe, hostViewVerdict } from "../core/host-view.ts";
import { toProbeSpec } from "../core/probe-spec.ts";
import { engineAddress, engineInfo } from "./engine.ts";
import { readRunHostFacts } from "./host-facts.ts";
import { DockerRuntime } from "./sandbox/docker-runtime.ts";
import { runSandbox } from "./sandbox/run-sandbox.ts";
import { randomHex, randomUuid } from "./random.ts";
import { ownerLabel } from "./sweep.ts";

function cacheFile(env: NodeJS.ProcessEnv, engineKey: string): string {
  const base = env.XDG_CACHE_HOME ?? path.join(homedir(), ".cache");
  return path.join(base, "cratebox", `host-view-${engineKey.replace(/[^A-Za-z0-9_-]/g, "_")}.json`);
}

/**
 * Refuses (ENGINE_CANNOT_SEE_HOST) an engine whose bind mounts do not show this machine's files.
 * `near`: a directory the run mounts (the build directory); the nonce goes next to it.
 */
export async function checkHostView(docker: Docker, image: string, env: NodeJS.ProcessEnv, near: string): Promise<void> {
  const { ID } = (await engineInfo(docker)) as { ID?: string };
  const where = engineAddress(env);
  const file = cacheFile(env, ID || where);
  try {
    if ((JSON.parse(readFileSync(file, "utf8")) as { ok?: boolean }).ok === true) return;
  } catch {
    /* not checked yet */
  }
  mkdirSync(near, { recursive: true });
  const dir = mkdtempSync(path.join(near, ".cratebox-host-view-"));
  const probe: HostViewProbe = { nonce: randomHex(16), output: "", exitCode: undefined };
  const runtime = new DockerRuntime(docker, image);
  let id = "";
  try {
    writeFileSync(path.join(dir, "nonce"), probe.nonce);
    const base = toProbeSpec(readRunHostFacts(image, []), { runId: `host-view-${randomUuid()}`, owner: ownerLabel() }, "host-view", `cat ${dir}/nonce`, {});
    const run = await runSandbox(
      runtime,
      { ...base, mounts: [...base.mounts, { source: dir, target: dir, readOnly: true }] },
      { stdout: (c) => (probe.output += c), stderr: (c) => (probe.output += c) },
      AbortSignal.timeout(60_000),
      { onCreated: (cid) => (id = cid) },
    );
    probe.exitCode = run.exit.exitCode;
  } catch (err) {
    probe.error = (err as Error).message;
  } finally {
    if (id) await runtime.remove(id).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
  const verdict = hostViewVerdict(probe, where, engineReach(where), near);
  if (!verdict.ok) throw new CrateboxError("ENGINE_CANNOT_SEE_HOST", verdict.message, verdict.hint);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ engine: ID || where, ok: true, checkedAt: new Date().toISOString() })}\n`);
}
