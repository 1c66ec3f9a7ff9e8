/**
 * What bin/cratebox asked before Node started (see there): which questions, from
 * CRATEBOX_EARLY*, and their answers, from the private file its background job wrote. Each
 * answer is a program's output, a newline and a line `#cratebox-early <exit status>`: first the
 * build's `cargo metadata`, then, for a test, bench or run, the rustc that names the host. The
 * file is read once the job has ended (it is this process's child: the script was this process
 * before it became Node). The variables are removed from this process's environment whatever
 * happens, so nothing cratebox starts sees them.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, unlinkSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { procStat } from "./proc-stat.ts";
import type { ProgramResult } from "./run-program.ts";

const END = /\n#cratebox-early (\d+)\n/;
/** How often the job is looked at while it runs (it has mostly ended by the time it is asked). */
const POLL_MS = 2;

interface ShellAnswers {
  metadata: ProgramResult<string> | undefined;
  rustc: ProgramResult<string> | undefined;
}

export interface ShellAsked {
  /** The `cargo metadata` it asked: which cargo, and the --manifest-path and --target-dir given. */
  cargo: string;
  manifestPath: string | undefined;
  targetDir: string | undefined;
  /** The rustc it asked `--print sysroot --print host-tuple`, if it did. */
  rustc: string | undefined;
  /**
   * Reads the answers, once; an answer is undefined when it failed or did not come whole (then
   * the run asks again, and reports the program's own words if it fails again).
   */
  answers(): Promise<ShellAnswers>;
  /** Lets go of them unread (a file the job still writes is the next run's sweep's, sweep.ts). */
  drop(): void;
}

const NONE: ShellAnswers = { metadata: undefined, rustc: undefined };

export function takeShellAsked(env: NodeJS.ProcessEnv): ShellAsked | undefined {
  const take = (name: string): string | undefined => {
    const value = env[name];
    delete env[name];
    return value;
  };
  const file = take("CRATEBOX_EARLY");
  const job = Number(take("CRATEBOX_EARLY_JOB"));
  const cargo = take("CRATEBOX_EARLY_CARGO");
  const manifestPath = take("CRATEBOX_EARLY_MANIFEST");
  const targetDir = take("CRATEBOX_EARLY_TARGET");
  const rustc = take("CRATEBOX_EARLY_RUSTC");
  // Only the file named for this very process, written by a child of it: a variable set by
  // anyone else reads and removes no file.
  if (!file || !cargo || path.basename(file) !== `cratebox-early-${process.pid}` || !Number.isInteger(job)) return undefined;
  if (jobState(job) === "not ours") return undefined;
  let read: Promise<ShellAnswers> | undefined;
  return {
    cargo,
    manifestPath,
    targetDir,
    rustc,
    answers: () => (read ??= readAnswers(file, job)),
    drop: () => {
      read ??= Promise.resolve(NONE);
      takeFile(file);
    },
  };
}

/** The job's state by /proc: a child of this process that runs, one that ended (a zombie: nothing here reaps it), or not ours (or gone). */
function jobState(pid: number): "running" | "ended" | "not ours" {
  const [state, ppid] = procStat(pid) ?? [];
  if (Number(ppid) !== process.pid) return "not ours";
  return state === "Z" || state === "X" ? "ended" : "running";
}

async function readAnswers(file: string, job: number): Promise<ShellAnswers> {
  while (jobState(job) === "running") await sleep(POLL_MS);
  const [metadata, rustc] = takeAnswers(file);
  return { metadata, rustc };
}

/**
 * The answers a file holds, in the order they were asked (a failed or cut one undefined), taken
 * once: only this user's private regular file counts, and it is removed. None otherwise. Also
 * how a run the native front started takes the front's answer (adoption.ts).
 */
export function takeAnswers(file: string): (ProgramResult<string> | undefined)[] {
  const text = takeFile(file);
  return text === undefined ? [] : splitAnswers(text);
}

/** The file's text, once it is known to be this user's private regular file, which is then removed; else undefined. */
function takeFile(file: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== process.getuid?.() || (st.mode & 0o077) !== 0) return undefined;
    unlinkSync(file);
    return readFileSync(fd, "utf8");
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** The answers in the order they were asked; one that failed, or was cut short, is undefined. */
function splitAnswers(text: string): (ProgramResult<string> | undefined)[] {
  const out: (ProgramResult<string> | undefined)[] = [];
  let rest = text;
  for (let m = END.exec(rest); m; m = END.exec(rest)) {
    const stdout = rest.slice(0, m.index);
    out.push(m[1] === "0" ? { exitCode: 0, signal: undefined, stdout, stderr: "", spawnError: undefined } : undefined);
    rest = rest.slice(m.index + m[0].length);
  }
  return out;
}
