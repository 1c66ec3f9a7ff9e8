/**
 * What bin/cratebox asked before Node started (see there): which questions, from
 * CRATEBOX_EARLY*, and their answers, from descriptor 3 (the FIFO the script opened). Each answer
 * is a program's output, a newline and a line `#cratebox-early <exit status>`: first the build's
 * `cargo metadata`, then, for a test, bench or run, the rustc that names the host. The variables
 * are removed from this process's environment whatever happens, so nothing cratebox starts sees
 * them.
 */
import { closeSync, fstatSync, lstatSync, unlinkSync } from "node:fs";
import { Socket } from "node:net";
import path from "node:path";
import type { ProgramResult } from "./run-program.ts";

const FD = 3;
const END = /\n#cratebox-early (\d+)\n/;

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
  /** Lets go of them unread (the script's programs end on a broken pipe). */
  drop(): void;
}

export function takeShellAsked(env: NodeJS.ProcessEnv): ShellAsked | undefined {
  const take = (name: string): string | undefined => {
    const value = env[name];
    delete env[name];
    return value;
  };
  const fifo = take("CRATEBOX_EARLY");
  const cargo = take("CRATEBOX_EARLY_CARGO");
  const manifestPath = take("CRATEBOX_EARLY_MANIFEST");
  const targetDir = take("CRATEBOX_EARLY_TARGET");
  const rustc = take("CRATEBOX_EARLY_RUSTC");
  // Only the FIFO the script made for this very process, open on descriptor 3: a variable
  // set by anyone else removes no file and reads no descriptor.
  if (!fifo || !cargo || path.basename(fifo) !== `cratebox-early-${process.pid}`) return undefined;
  try {
    if (!lstatSync(fifo).isFIFO() || !fstatSync(FD).isFIFO()) return undefined;
    unlinkSync(fifo);
  } catch {
    return undefined;
  }
  let read: Promise<ShellAnswers> | undefined;
  return {
    cargo,
    manifestPath,
    targetDir,
    rustc,
    answers: () => (read ??= readAnswers()),
    drop: () => {
      try {
        closeSync(FD);
      } catch {
        /* closed already */
      }
    },
  };
}

function readAnswers(): Promise<ShellAnswers> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const pipe = new Socket({ fd: FD, readable: true, writable: false });
    pipe.on("data", (c: Buffer) => chunks.push(c));
    pipe.once("error", () => resolve({ metadata: undefined, rustc: undefined }));
    pipe.once("end", () => {
      pipe.destroy();
      const [metadata, rustc] = splitAnswers(Buffer.concat(chunks).toString("utf8"));
      resolve({ metadata, rustc });
    });
  });
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
