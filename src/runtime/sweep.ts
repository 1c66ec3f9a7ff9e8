/**
 * Sandboxes left behind by a cratebox process that died (SIGKILL, crash, power loss) are
 * removed at the next start. Each sandbox's owner label names the process that created it
 * (host, pid and the pid's start time, so a reused pid is not mistaken for the owner).
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { LABEL_OWNER } from "../core/labels.ts";
import type { SandboxRuntime } from "./sandbox/runtime.ts";

function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22 (starttime), counted after the parenthesised command name.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
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
