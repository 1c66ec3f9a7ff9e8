/**
 * /proc/<pid>/stat, the one place it is read: the sweep's owner labels (a process's start
 * time) and bin/cratebox's early job (its state and parent).
 */
import { readFileSync } from "node:fs";

/**
 * The fields after the parenthesised command name (which may hold spaces and parentheses):
 * [0] is field 3 of proc(5), the state; [1] the parent's pid; [19] the start time. Undefined
 * when the process is gone or /proc cannot tell.
 */
export function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}
