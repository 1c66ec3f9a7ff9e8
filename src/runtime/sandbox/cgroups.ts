/**
 * Memory, process and CPU limits for sandboxes that no engine manages (the bwrap backend): a
 * cgroup per sandbox, made where this process may make one. cgroup v1 (a hierarchy per
 * controller) and v2 (one unified tree) are both read; where neither is writable (a user
 * without a delegated cgroup), there is no cgroup and `doctor` and every run say so: the time
 * limit still holds, memory and processes are then not limited.
 *
 * Layout: `<controller root>/cratebox/<owner>/<sandbox id>`, where owner is the pid and start
 * time of the cratebox process (sweep removes the directories of owners that are gone).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Limits } from "../../core/limits.ts";
import { randomHex } from "../random.ts";

export interface SandboxCgroup {
  /** The `cgroup.procs` files a process writes its pid into to join. */
  readonly procs: readonly string[];
  /** The memory limit ended something in it. */
  oomKilled(): boolean;
  /** A fork was refused at the process limit (undefined: cannot tell). */
  pidsLimitHit(): boolean | undefined;
  /** SIGKILL for every process in it. */
  kill(): void;
  /** Removes it once its processes have left (they may still be leaving when the sandbox ended). */
  remove(): Promise<void>;
}

export interface CgroupSupport {
  readonly version: 1 | 2;
  create(owner: string, id: string, limits: Limits): SandboxCgroup;
  /** Removes the (empty) directories of owners for which `isGone` says the owner is gone. */
  sweep(isGone: (owner: string) => boolean): void;
}

const ROOT = "/sys/fs/cgroup";
const PARENT = "cratebox";

const read = (file: string): string => {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
};
const counter = (text: string, key: string): number => Number(new RegExp(`^${key} (\\d+)$`, "m").exec(text)?.[1] ?? 0);

function killAll(procsFile: string): void {
  for (let round = 0; round < 50; round++) {
    const pids = read(procsFile).split("\n").filter(Boolean).map(Number);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone already */
      }
    }
  }
}

/** Whether `dir` is gone (removed now, or already); false while processes are still in it. */
function rmdirIfEmpty(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== "EBUSY";
  }
}

/**
 * Removes cgroup directories, retrying while processes are still leaving them (a sandbox's
 * processes are reaped a moment after bwrap ends), without holding up the event loop: other
 * steps' requests and output are handled meanwhile. Gives up after about a second; the sweep
 * of a later run removes what is left.
 */
async function removeDirs(dirs: readonly string[]): Promise<void> {
  let left = dirs.filter((d) => !rmdirIfEmpty(d));
  for (let i = 0; i < 40 && left.length > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5 + i));
    left = left.filter((d) => !rmdirIfEmpty(d));
  }
}

function sweepParent(parent: string, isGone: (owner: string) => boolean): void {
  let owners: string[] = [];
  try {
    owners = readdirSync(parent, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return;
  }
  for (const owner of owners.filter(isGone)) {
    const dir = path.join(parent, owner);
    for (const id of readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory())) {
      killAll(path.join(dir, id.name, "cgroup.procs"));
      // Processes just killed may still be leaving: then a later run's sweep removes it.
      rmdirIfEmpty(path.join(dir, id.name));
    }
    rmdirIfEmpty(dir);
  }
}

/** cgroup v1: a directory per controller hierarchy. */
class CgroupV1 implements CgroupSupport {
  readonly version = 1;
  private readonly cpu: boolean;

  constructor() {
    this.cpu = existsSync(path.join(ROOT, "cpu", "cpu.cfs_quota_us"));
  }

  create(owner: string, id: string, limits: Limits): SandboxCgroup {
    const dir = (controller: string) => path.join(ROOT, controller, PARENT, owner, id);
    const memory = dir("memory");
    const pids = dir("pids");
    const cpu = limits.cpus !== undefined && this.cpu ? dir("cpu") : undefined;
    for (const d of [memory, pids, ...(cpu ? [cpu] : [])]) mkdirSync(d, { recursive: true });
    writeFileSync(path.join(memory, "memory.limit_in_bytes"), String(limits.memoryBytes));
    // No swap on top of the limit (only where the kernel accounts swap).
    if (existsSync(path.join(memory, "memory.memsw.limit_in_bytes")))
      writeFileSync(path.join(memory, "memory.memsw.limit_in_bytes"), String(limits.memoryBytes));
    writeFileSync(path.join(pids, "pids.max"), String(limits.pids));
    if (cpu && limits.cpus !== undefined) {
      writeFileSync(path.join(cpu, "cpu.cfs_period_us"), "100000");
      writeFileSync(path.join(cpu, "cpu.cfs_quota_us"), String(Math.max(1000, Math.round(limits.cpus * 100000))));
    }
    const dirs = [memory, pids, ...(cpu ? [cpu] : [])];
    return {
      procs: dirs.map((d) => path.join(d, "cgroup.procs")),
      oomKilled: () => counter(read(path.join(memory, "memory.oom_control")), "oom_kill") > 0,
      pidsLimitHit: () => counter(read(path.join(pids, "pids.events")), "max") > 0,
      kill: () => {
        for (const d of dirs) killAll(path.join(d, "cgroup.procs"));
      },
      remove: () => removeDirs(dirs),
    };
  }

  sweep(isGone: (owner: string) => boolean): void {
    for (const controller of ["memory", "pids", "cpu"]) sweepParent(path.join(ROOT, controller, PARENT), isGone);
  }
}

/** cgroup v2: one tree; the controllers must be enabled for cratebox's subtree. */
class CgroupV2 implements CgroupSupport {
  readonly version = 2;

  create(owner: string, id: string, limits: Limits): SandboxCgroup {
    const ownerDir = path.join(ROOT, PARENT, owner);
    if (!existsSync(ownerDir)) {
      mkdirSync(ownerDir, { recursive: true });
      for (const d of [path.join(ROOT, PARENT), ownerDir]) writeFileSync(path.join(d, "cgroup.subtree_control"), "+memory +pids +cpu");
    }
    const dir = path.join(ownerDir, id);
    mkdirSync(dir);
    writeFileSync(path.join(dir, "memory.max"), String(limits.memoryBytes));
    if (existsSync(path.join(dir, "memory.swap.max"))) writeFileSync(path.join(dir, "memory.swap.max"), "0");
    writeFileSync(path.join(dir, "pids.max"), String(limits.pids));
    if (limits.cpus !== undefined) writeFileSync(path.join(dir, "cpu.max"), `${Math.max(1000, Math.round(limits.cpus * 100000))} 100000`);
    return {
      procs: [path.join(dir, "cgroup.procs")],
      oomKilled: () => counter(read(path.join(dir, "memory.events")), "oom_kill") > 0,
      pidsLimitHit: () => counter(read(path.join(dir, "pids.events")), "max") > 0,
      kill: () => {
        try {
          writeFileSync(path.join(dir, "cgroup.kill"), "1");
        } catch {
          killAll(path.join(dir, "cgroup.procs"));
        }
      },
      remove: () => removeDirs([dir]),
    };
  }

  sweep(isGone: (owner: string) => boolean): void {
    sweepParent(path.join(ROOT, PARENT), isGone);
  }
}

/**
 * The cgroup support of this host for this process, or why there is none. A cgroup is made and
 * removed to prove it, once per run, below `owner` (this process's owner label, as for its
 * sandboxes: a later run's sweep removes the owner's directory once this process is gone).
 */
export function detectCgroups(owner: string): { support: CgroupSupport } | { reason: string } {
  const v2 = existsSync(path.join(ROOT, "cgroup.controllers"));
  const support: CgroupSupport = v2 ? new CgroupV2() : new CgroupV1();
  if (!v2 && !(existsSync(path.join(ROOT, "memory")) && existsSync(path.join(ROOT, "pids")))) {
    return { reason: "this host's cgroup v1 has no memory or pids hierarchy" };
  }
  try {
    const cg = support.create(owner, `probe-${randomHex(4)}`, {
      memoryBytes: 64 * 1024 ** 2,
      pids: 16,
      timeoutMs: 1000,
      cpus: undefined,
      tmpBytes: 1024 ** 2,
    });
    // Never populated: removed at once.
    void cg.remove();
    return { support };
  } catch (err) {
    return { reason: `cratebox cannot make a cgroup here (cgroup v${v2 ? 2 : 1}: ${(err as Error).message})` };
  }
}
