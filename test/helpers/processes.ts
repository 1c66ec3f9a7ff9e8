/** Processes of this machine found by a token in their command line (an attack's daemon), and ending them. */
import { readdirSync, readFileSync } from "node:fs";

export function processesWith(token: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, "utf8").replaceAll("\0", " ").includes(token)) pids.push(Number(name));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return pids;
}

export function killAll(token: string): void {
  for (const pid of processesWith(token)) {
    // A daemon leads its own session and process group (setsid): end the group, sleep included.
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
  }
}
