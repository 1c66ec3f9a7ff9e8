/**
 * How the bwrap backend starts bwrap: through the native spawner (native/client/src/bin/
 * cratebox-spawner.rs: one small process per run that posix_spawns each sandbox) or, where it was
 * not built, with Node's own spawn. Node's spawn forks the whole Node process: 4 to 8 ms of the
 * main thread per step on the project's machine, which a clean build of 143 steps paid for with
 * 1.1 s of CPU while rustc wanted both cores (issue 13); the spawner's posix_spawn takes under
 * half a millisecond, outside Node.
 *
 * Either way: stdin is /dev/null, stdout and stderr come back apart, and with cgroup files the
 * sandbox is joined to its cgroup before its program runs (bwrap's --block-fd and --info-fd),
 * or it never runs.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { constants } from "node:os";
import type { Readable, Writable } from "node:stream";
import { NATIVE_SPAWNER } from "../native.ts";

export interface LaunchEvents {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
  /** The process runs. */
  spawned(): void;
  /** It could not be started; nothing else follows. */
  error(err: Error): void;
  /** The cgroup join failed: bwrap and its sandbox are killed, `closed` follows. */
  joinFailed(err: Error): void;
  /** It ended and its output is drained; exitCode is 128 + n for signal n. The last event. */
  closed(exitCode: number): void;
}

export interface Launched {
  /** SIGKILL to bwrap (its sandbox dies with it: --die-with-parent). */
  kill(): void;
}

export interface Launcher {
  launch(file: string, args: readonly string[], env: Record<string, string>, joinProcs: readonly string[] | undefined, on: LaunchEvents): Launched;
  /** Starts what the first launch needs (the spawner), without keeping this process alive. */
  prestart?(): void;
}

/**
 * bwrap's descriptors for the join under Node's spawn: it blocks its sandbox (the one process in
 * the new namespaces, before it starts the program) until a byte arrives on BLOCK_FD, and tells
 * the sandbox's pid on INFO_FD. (The spawner picks its own descriptors.)
 */
const BLOCK_FD = 3;
const INFO_FD = 4;

/** Node's child_process: where the native spawner was not built. */
export const nodeLauncher: Launcher = {
  launch(file, args, env, joinProcs, on) {
    const join = joinProcs !== undefined && joinProcs.length > 0;
    const child = spawn(file, [...(join ? ["--block-fd", String(BLOCK_FD), "--info-fd", String(INFO_FD)] : []), ...args], {
      env,
      stdio: join ? ["ignore", "pipe", "pipe", "pipe", "pipe"] : ["ignore", "pipe", "pipe"],
    });
    if (join) joinWhenBlocked(child, joinProcs, (err) => on.joinFailed(err));
    child.stdout!.on("data", (c: Buffer) => on.stdout(c));
    child.stderr!.on("data", (c: Buffer) => on.stderr(c));
    child.once("spawn", () => on.spawned());
    child.once("error", (err) => on.error(err));
    child.once("close", (code, signal) => on.closed(code ?? 128 + (signal ? constants.signals[signal] : 9)));
    return { kill: () => child.kill("SIGKILL") };
  },
};

/**
 * Once bwrap has told its sandbox's pid (INFO_FD), moves bwrap and the sandbox into the cgroup
 * (every `cgroup.procs` file) and unblocks it (BLOCK_FD). A bwrap that fails before it tells
 * anything ends by itself, its error on stderr.
 */
function joinWhenBlocked(child: ChildProcess, procs: readonly string[], failed: (err: Error) => void): void {
  const info = child.stdio[INFO_FD] as Readable;
  const block = child.stdio[BLOCK_FD] as Writable;
  block.on("error", () => {}); // bwrap gone before it read: its exit says why.
  let text = "";
  info.setEncoding("utf8");
  info.on("data", (c: string) => (text += c));
  info.on("error", () => {});
  info.once("end", () => {
    // Nothing told: bwrap failed or was killed before it told (its exit says why). Let go of the
    // descriptor only once bwrap is gone, so that a sandbox it made has had its --die-with-parent
    // signal before it could read the end of file.
    if (!text.trim()) {
      if (child.exitCode !== null || child.signalCode !== null) block.destroy();
      else child.once("exit", () => block.destroy());
      return;
    }
    let sandboxPid: number | undefined;
    try {
      sandboxPid = (JSON.parse(text) as { "child-pid"?: number })["child-pid"];
      if (!Number.isInteger(sandboxPid) || child.pid === undefined) throw new Error(`bwrap told no sandbox pid (${text.trim().slice(0, 80)})`);
      for (const file of procs) {
        writeFileSync(file, String(child.pid));
        writeFileSync(file, String(sandboxPid));
      }
      block.end("x");
    } catch (err) {
      // Never let go: the sandbox and bwrap are killed first, as an end of file on BLOCK_FD
      // would let the sandbox go on.
      if (Number.isInteger(sandboxPid)) killQuietly(sandboxPid!);
      child.kill("SIGKILL");
      block.destroy();
      failed(err as Error);
    }
  });
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    /* gone already */
  }
}

/** Frame types of the spawner's protocol (native/client/src/bin/cratebox-spawner.rs). */
const TO = { spawn: 1, kill: 2 } as const;
const FROM = { stdout: 1, stderr: 2, started: 3, ended: 4, failed: 5, joinFailed: 6 } as const;

/** A spawn request's payload: each list as a count, then each string as its length and its bytes (u32 BE). */
function encodeLists(lists: readonly (readonly string[])[]): Buffer {
  let size = 0;
  for (const list of lists) for (const s of list) size += 4 + Buffer.byteLength(s);
  const out = Buffer.allocUnsafe(size + 4 * lists.length);
  let at = 0;
  for (const list of lists) {
    at = out.writeUInt32BE(list.length, at);
    for (const s of list) {
      const len = out.write(s, at + 4);
      out.writeUInt32BE(len, at);
      at += 4 + len;
    }
  }
  return out;
}

function frame(type: number, id: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUInt8(type, 0);
  head.writeUInt32BE(id, 1);
  head.writeUInt32BE(payload.length, 5);
  return Buffer.concat([head, payload]);
}

/**
 * The native spawner: started with the first sandbox, one for the run. It keeps this process
 * alive only while a sandbox runs; when this process ends, the spawner reads the end of its
 * stdin and kills what is left. If the spawner dies, its bwraps die with it (--die-with-parent),
 * each sandbox it ran fails with an error that says so, and the next launch starts another.
 */
export class SpawnerLauncher implements Launcher {
  private readonly bin: string;
  private child: ChildProcess | undefined;
  private readonly live = new Map<number, LaunchEvents>();
  private nextId = 1;
  private pending: Buffer = Buffer.alloc(0);

  constructor(bin: string) {
    this.bin = bin;
  }

  launch(file: string, args: readonly string[], env: Record<string, string>, joinProcs: readonly string[] | undefined, on: LaunchEvents): Launched {
    const child = this.started();
    const id = this.nextId++;
    const envList = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    this.live.set(id, on);
    this.keepAlive();
    child.stdin!.write(frame(TO.spawn, id, encodeLists([[file, ...args], envList, joinProcs ?? []])));
    return {
      kill: () => {
        if (this.live.has(id) && this.child === child) child.stdin!.write(frame(TO.kill, id, Buffer.alloc(0)));
      },
    };
  }

  prestart(): void {
    this.started();
    this.keepAlive();
  }

  private started(): ChildProcess {
    if (this.child) return this.child;
    const child = spawn(this.bin, [], { stdio: ["pipe", "pipe", "inherit"] });
    this.child = child;
    this.pending = Buffer.alloc(0);
    child.stdin!.on("error", () => {}); // gone: its exit below ends what it ran.
    child.stdout!.on("data", (c: Buffer) => this.read(c));
    const gone = (why: string) => {
      if (this.child !== child) return;
      this.child = undefined;
      const orphans = [...this.live.values()];
      this.live.clear();
      for (const on of orphans) on.error(new Error(`the sandbox spawner (${this.bin}) ended: ${why}`));
    };
    child.once("error", (err) => gone(err.message));
    child.once("close", (code, signal) => gone(signal ? `signal ${signal}` : `exit code ${code}`));
    return child;
  }

  private read(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 9) {
      const len = this.pending.readUInt32BE(5);
      if (this.pending.length < 9 + len) break;
      const type = this.pending.readUInt8(0);
      const id = this.pending.readUInt32BE(1);
      const payload = this.pending.subarray(9, 9 + len);
      this.pending = this.pending.subarray(9 + len);
      this.deliver(type, id, payload);
    }
  }

  private deliver(type: number, id: number, payload: Buffer): void {
    const on = this.live.get(id);
    if (!on) return;
    if (type === FROM.stdout) on.stdout(payload);
    else if (type === FROM.stderr) on.stderr(payload);
    else if (type === FROM.started) on.spawned();
    else if (type === FROM.joinFailed) on.joinFailed(new Error(payload.toString("utf8")));
    else if (type === FROM.failed || type === FROM.ended) {
      this.live.delete(id);
      this.keepAlive();
      if (type === FROM.failed) on.error(new Error(payload.toString("utf8")));
      else on.closed(payload.readInt32BE(0) >= 0 ? payload.readInt32BE(0) : 128 + payload.readInt32BE(4));
    }
  }

  /** Referenced (keeps Node's event loop alive) exactly while a sandbox runs. */
  private keepAlive(): void {
    const child = this.child;
    if (!child) return;
    const streams = [child.stdin, child.stdout] as unknown as { ref(): void; unref(): void }[];
    if (this.live.size > 0) {
      child.ref();
      for (const s of streams) s.ref();
    } else {
      child.unref();
      for (const s of streams) s.unref();
    }
  }
}

/** What a run's bwrap sandboxes (and doctor's) start with: the native spawner where it was built. */
export function bwrapLauncher(): Launcher {
  return existsSync(NATIVE_SPAWNER) ? new SpawnerLauncher(NATIVE_SPAWNER) : nodeLauncher;
}
