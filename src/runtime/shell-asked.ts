/**
 * The `cargo metadata` bin/cratebox asked before Node started (see there): which question it
 * was, from CRATEBOX_EARLY*, and its answer, from descriptor 3 (the FIFO the script opened; its
 * output, then a line with its exit status). The variables are removed from this process's
 * environment whatever happens, so nothing cratebox starts sees them.
 */
import { closeSync, fstatSync, lstatSync, unlinkSync } from "node:fs";
import { Socket } from "node:net";
import path from "node:path";
import type { ProgramResult } from "./run-program.ts";

const FD = 3;

export interface ShellAsked {
  cargo: string;
  manifestPath: string | undefined;
  targetDir: string | undefined;
  /** Reads the answer; undefined when it failed or did not come whole (then the build asks again). */
  answer(): Promise<ProgramResult<string> | undefined>;
  /** Lets go of it unread (the script's `cargo metadata` ends on a broken pipe). */
  drop(): void;
}

export function takeShellAsked(env: NodeJS.ProcessEnv): ShellAsked | undefined {
  const { CRATEBOX_EARLY: fifo, CRATEBOX_EARLY_CARGO: cargo, CRATEBOX_EARLY_MANIFEST: manifestPath, CRATEBOX_EARLY_TARGET: targetDir } = env;
  delete env.CRATEBOX_EARLY;
  delete env.CRATEBOX_EARLY_CARGO;
  delete env.CRATEBOX_EARLY_MANIFEST;
  delete env.CRATEBOX_EARLY_TARGET;
  // Only the FIFO the script made for this very process, open on descriptor 3: a variable
  // set by anyone else removes no file and reads no descriptor.
  if (!fifo || !cargo || path.basename(fifo) !== `cratebox-early-${process.pid}`) return undefined;
  try {
    if (!lstatSync(fifo).isFIFO() || !fstatSync(FD).isFIFO()) return undefined;
    unlinkSync(fifo);
  } catch {
    return undefined;
  }
  return {
    cargo,
    manifestPath,
    targetDir,
    answer: () => readAnswer(),
    drop: () => {
      try {
        closeSync(FD);
      } catch {
        /* closed already */
      }
    },
  };
}

function readAnswer(): Promise<ProgramResult<string> | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const pipe = new Socket({ fd: FD, readable: true, writable: false });
    pipe.on("data", (c: Buffer) => chunks.push(c));
    pipe.once("error", () => resolve(undefined));
    pipe.once("end", () => {
      pipe.destroy();
      const text = Buffer.concat(chunks).toString("utf8").trimEnd();
      const cut = text.lastIndexOf("\n");
      const status = text.slice(cut + 1);
      resolve(cut > 0 && status === "0" ? { exitCode: 0, signal: undefined, stdout: text.slice(0, cut), stderr: "", spawnError: undefined } : undefined);
    });
  });
}
