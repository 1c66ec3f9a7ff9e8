/**
 * A run the native front started (native/client/src/bin/cratebox-front.rs, issue 13): cargo runs
 * already, and its first step waits on the socket of the run's private directory. This process
 * takes the socket (fd 3), the front's `cargo metadata` answer (`early-answer` there, in
 * bin/cratebox's form: runtime/shell-asked.ts) and, once
 * cargo has ended, cargo's exit code (a line on fd 4). CRATEBOX_ADOPT names the directory; it
 * counts only from this process's parent, whose private directory in TMPDIR it is (sweep.ts's
 * name: the parent's pid and start time), with a socket on fd 3 and a pipe on fd 4: anything else
 * is refused before cargo's first step runs (exit 2).
 */
import { fstatSync, lstatSync } from "node:fs";
import { tmpdir } from "node:os";
import { Socket } from "node:net";
import path from "node:path";
import { CrateboxError } from "../core/errors.ts";
import type { ProgramResult } from "./run-program.ts";
import { takeAnswers } from "./shell-asked.ts";
import { isOwnerAlive, runDirOwner } from "./sweep.ts";

export const ADOPTED_SOCKET_FD = 3;
const STATUS_FD = 4;

export interface Adoption {
  runDir: string;
  metadata: ProgramResult<string> | undefined;
}

let taken: Adoption | Error | undefined | null = null;

/** The front's run, taken once (the variable leaves this process's environment); undefined when this run is Node's own. */
export function takeAdoption(env: NodeJS.ProcessEnv): Adoption | undefined {
  if (taken === null) {
    const dir = env.CRATEBOX_ADOPT;
    delete env.CRATEBOX_ADOPT;
    taken = dir === undefined ? undefined : adoptionOf(dir);
  }
  if (taken instanceof Error) throw taken;
  return taken;
}

function adoptionOf(runDir: string): Adoption | Error {
  const owner = runDirOwner(path.basename(runDir));
  const own = (() => {
    try {
      const st = lstatSync(runDir);
      return st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o077) === 0 && path.dirname(runDir) === tmpdir();
    } catch {
      return false;
    }
  })();
  const kind = (fd: number) => {
    try {
      const st = fstatSync(fd);
      return st.isSocket() ? "socket" : st.isFIFO() ? "pipe" : "other";
    } catch {
      return "none";
    }
  };
  // The parent's own private run directory (its pid and start time in the name: sweep.ts), a socket on 3, a pipe on 4.
  if (
    !owner ||
    owner.split(":")[1] !== String(process.ppid) ||
    !isOwnerAlive(owner) ||
    !own ||
    kind(ADOPTED_SOCKET_FD) !== "socket" ||
    kind(STATUS_FD) !== "pipe"
  ) {
    return new CrateboxError("USAGE", `CRATEBOX_ADOPT=${runDir} is cratebox's own, for the run its front started`, "unset CRATEBOX_ADOPT");
  }
  // bin/cratebox's answer as the front took it, in the same form (undefined: asked again).
  const [metadata] = takeAnswers(path.join(runDir, "early-answer"));
  return { runDir, metadata };
}

/** Cargo's exit code, as the front tells it when cargo has ended (101 if it cannot: the front is gone). */
export function cargoExitFromFront(): Promise<number> {
  return new Promise((resolve) => {
    const status = new Socket({ fd: STATUS_FD, readable: true, writable: false });
    let text = "";
    status.setEncoding("utf8");
    status.on("data", (c: string) => {
      text += c;
    });
    status.on("error", () => {});
    status.on("close", () => {
      const code = Number.parseInt(text.trim(), 10);
      resolve(Number.isInteger(code) ? code : 101);
    });
  });
}
