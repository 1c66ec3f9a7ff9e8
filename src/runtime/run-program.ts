/**
 * Running another program (cargo, rustc, git, diff), the one way cratebox does it: node's
 * child_process, wrapped for the two shapes cratebox needs. The environment is exactly the one
 * given (nothing of cratebox's own leaks in), standard input is empty unless inherited.
 *
 * Why not execa: loading it cost every `cratebox cargo build` ~25 ms before cargo could start
 * (issue 13), for features cratebox does not use.
 */
import { type ChildProcess, spawn } from "node:child_process";

export interface ProgramOptions {
  cwd?: string;
  env: NodeJS.ProcessEnv;
  /** Output beyond this many bytes (stdout and stderr each) ends the program; default 64 MiB. */
  maxBuffer?: number;
}

export interface ProgramResult<Out> {
  /** Undefined when the program could not start or died of a signal. */
  exitCode: number | undefined;
  signal: NodeJS.Signals | undefined;
  stdout: Out;
  /** What it printed to stderr; when it could not start, why (e.g. `spawn git ENOENT`). */
  stderr: string;
  /** Set when the program could not start: "ENOENT" is "not installed or not on PATH". */
  spawnError: string | undefined;
}

const MAX_BUFFER = 64 * 1024 ** 2;

function collect(file: string, args: readonly string[], opts: ProgramOptions): Promise<ProgramResult<Buffer>> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
    const max = opts.maxBuffer ?? MAX_BUFFER;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const sizes = { out: 0, err: 0 };
    let spawnError: NodeJS.ErrnoException | undefined;
    const take = (chunks: Buffer[], which: "out" | "err") => (chunk: Buffer) => {
      sizes[which] += chunk.length;
      if (sizes[which] > max) child.kill("SIGKILL");
      else chunks.push(chunk);
    };
    child.stdout.on("data", take(out, "out"));
    child.stderr.on("data", take(err, "err"));
    child.on("error", (e) => {
      spawnError = e;
    });
    child.on("close", (code, signal) => {
      resolve({
        // A program that could not start "closes" with the negative errno: no exit code.
        exitCode: spawnError ? undefined : (code ?? undefined),
        signal: signal ?? undefined,
        stdout: Buffer.concat(out),
        stderr: spawnError ? spawnError.message : Buffer.concat(err).toString("utf8"),
        spawnError: spawnError?.code,
      });
    });
  });
}

/** Runs `file` to the end; its output as text. */
export async function runProgram(file: string, args: readonly string[], opts: ProgramOptions): Promise<ProgramResult<string>> {
  const r = await collect(file, args, opts);
  return { ...r, stdout: r.stdout.toString("utf8") };
}

/** Runs `file` to the end; its output as bytes (a file's content from git). */
export function runProgramBytes(file: string, args: readonly string[], opts: ProgramOptions): Promise<ProgramResult<Buffer>> {
  return collect(file, args, opts);
}

/** Starts `file` on this process's terminal (cargo itself); `done` settles when it has exited. */
export function startInherited(
  file: string,
  args: readonly string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv },
): { child: ChildProcess; done: Promise<{ exitCode: number | undefined; signal: NodeJS.Signals | undefined; spawnError: string | undefined }> } {
  const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: "inherit" });
  const done = new Promise<{ exitCode: number | undefined; signal: NodeJS.Signals | undefined; spawnError: string | undefined }>((resolve) => {
    let spawnError: string | undefined;
    child.on("error", (e: NodeJS.ErrnoException) => {
      spawnError = e.code ?? e.message;
    });
    child.on("close", (code, signal) => resolve({ exitCode: spawnError ? undefined : (code ?? undefined), signal: signal ?? undefined, spawnError }));
  });
  return { child, done };
}
