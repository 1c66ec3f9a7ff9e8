/**
 * The shim <-> orchestrator protocol over the run's private Unix socket. Pure.
 *
 * Shim -> orchestrator: one JSON line (RunRequest).
 * Orchestrator -> shim: frames of [type: u8][length: u32 BE][payload]; type 1 = stdout bytes,
 * 2 = stderr bytes, 3 = exit (JSON ExitMessage), always last.
 * Kept free of imports so the shim client stays a few milliseconds of Node start-up.
 */

export const PROTOCOL_VERSION = 1;

export interface RunRequest {
  v: number;
  /**
   * Who asks: the build-script shim, cargo's runner hook (tests, benches, `cargo run`), or the
   * compiler wrappers (every rustc call that compiles a crate, every rustdoc call).
   */
  kind: "build-script" | "runner" | "rustc" | "rustdoc";
  /** The program (host path: the real build-script binary, or the binary cargo runs) and its arguments. */
  program: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Wall-clock ms when the shim's client started (for the overhead figures). */
  clientStartedAt: number;
}

export interface ExitMessage {
  /** Exit code for the shim to return to cargo. */
  code: number;
  /** When set, the shim ends itself with this signal instead, so cargo reports it as such. */
  signal?: string;
}

export const FRAME_STDOUT = 1;
export const FRAME_STDERR = 2;
export const FRAME_EXIT = 3;

export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, 5);
  return out;
}

/** Incremental decoder: feed chunks, get complete frames. */
export class FrameDecoder {
  private buf: Uint8Array = new Uint8Array(0);

  push(chunk: Uint8Array): { type: number; payload: Uint8Array }[] {
    const merged = new Uint8Array(this.buf.length + chunk.length);
    merged.set(this.buf);
    merged.set(chunk, this.buf.length);
    const frames: { type: number; payload: Uint8Array }[] = [];
    let off = 0;
    while (merged.length - off >= 5) {
      const len = new DataView(merged.buffer, merged.byteOffset + off + 1, 4).getUint32(0);
      if (merged.length - off - 5 < len) break;
      frames.push({ type: merged[off]!, payload: merged.slice(off + 5, off + 5 + len) });
      off += 5 + len;
    }
    this.buf = merged.slice(off);
    return frames;
  }
}
