/**
 * Sandboxes left behind by a cratebox process that died (SIGKILL, crash, power loss) are
 * removed at the next start. Each sandbox's owner label names the process that created it
 * (host, pid and the pid's start time, so a reused pid is not mistaken for the owner). The same
 * goes for a run's private directory in TMPDIR, whose name carries its owner's pid and start time.
 */
import { readdirSync, rmSync, statSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { LABEL_OWNER } from "../core/labels.ts";
import { procStat } from "./proc-stat.ts";
import type { SandboxRuntime } from "./sandbox/runtime.ts";

/** This process's own start time never changes: read once (ownerLabel and runDirPrefix both ask it on every start). */
let ownStartTime: string | undefined;

function processStartTime(pid: number): string | undefined {
  if (pid !== process.pid) return procStat(pid)?.[19];
  ownStartTime ??= procStat(pid)?.[19];
  return ownStartTime;
}

export function ownerLabel(pid = process.pid): string {
  return `${hostname()}:${pid}:${processStartTime(pid) ?? "?"}`;
}

/** Is the process named by an owner label still alive? Owners on other hosts count as alive. */
export function isOwnerAlive(owner: string): boolean {
  const [host, pidText, start] = owner.split(":");
  if (host !== hostname()) return true;
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  return processStartTime(pid) === start;
}

/** Removes every cratebox sandbox whose owner is gone. Returns how many. */
export async function sweepOrphans(runtime: SandboxRuntime): Promise<number> {
  const list = await runtime.list(LABEL_OWNER);
  const orphans = list.filter((c) => !isOwnerAlive(c.labels[LABEL_OWNER] ?? ""));
  await Promise.all(orphans.map((c) => runtime.remove(c.id)));
  return orphans.length;
}

/** The prefix of a run's private directory (run-cargo.ts appends `-<pid>-<random>`): its owner's start time. */
export function runDirPrefix(pid = process.pid): string {
  return `cratebox-run-${processStartTime(pid) ?? "0"}`;
}

/** The owner label of a run directory's name (`cratebox-run-<start>-<pid>-<random>`), or undefined for another name. */
export function runDirOwner(name: string): string | undefined {
  const m = /^cratebox-run-(\d+)-(\d+)-[^/]+$/.exec(name);
  return m ? `${hostname()}:${m[2]}:${m[1]}` : undefined;
}

/**
 * The file bin/cratebox's job writes its `cargo metadata` into (`cratebox-early-<pid>`), left when
 * the process died before Node took it, or let go of it while the job still wrote: its pid is
 * gone. A live pid (reused or not) keeps it.
 */
function isOrphanEarlyAnswer(name: string): boolean {
  const m = /^cratebox-early-(\d+)$/.exec(name);
  return m !== null && processStartTime(Number(m[1])) === undefined;
}

/**
 * Removes the private directories of runs whose process is gone (killed outright: nothing ran
 * its clean-up), and their early answers, among this user's in `dir`. Returns how many. Never throws.
 */
export function sweepRunDirs(dir = tmpdir()): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const owner = runDirOwner(name);
    if (owner ? isOwnerAlive(owner) : !isOrphanEarlyAnswer(name)) continue;
    const full = path.join(dir, name);
    try {
      if (statSync(full).uid !== process.getuid?.()) continue;
      rmSync(full, { recursive: true, force: true });
      removed++;
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
  return removed;
}
