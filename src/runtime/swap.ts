/**
 * Build scripts run only behind cratebox's shim (core/shim.ts). The wrapper's compile step
 * (compile-outputs.ts) swaps each one as rustc makes it; before cargo starts, this checks every
 * compiled build script in the build directories, because cargo's fingerprints do not change
 * when a RUSTC_WRAPPER appears (a binary plain cargo compiled would be "Fresh" and run bare),
 * and because anything could have written there between two runs. A file in a build script's
 * place must be byte for byte cratebox's shim; an executable rustc made (ELF) is moved aside and
 * the shim put in its place; anything else (a shell script, an edited shim) is replaced by the
 * shim, which then finds no real binary and fails closed. Cargo's hard link to it
 * (`build-script-<name>`, the file cargo executes) must be the shim too.
 */
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  linkSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import type { Stats } from "node:fs";
import path from "node:path";
import { isBuildScriptBinaryName, REAL_SUFFIX, toBuildScriptShim } from "../core/shim.ts";

const SHIM = toBuildScriptShim();

/**
 * Opens without blocking: a FIFO in a build script's place must not hang the run (it is then
 * neither the shim nor an executable, and is replaced).
 */
const openNoWait = (file: string) => openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);

function readHead(file: string, bytes = 64): Buffer {
  const fd = openNoWait(file);
  try {
    const buf = Buffer.alloc(bytes);
    const n = readSync(fd, buf, 0, bytes, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

function isElf(head: Buffer): boolean {
  return head.length >= 4 && head[0] === 0x7f && head.toString("latin1", 1, 4) === "ELF";
}

const SHIM_BYTES = Buffer.from(SHIM);

/**
 * The file's stats and whether it is byte for byte cratebox's shim, both through one open file
 * (the stats are of the bytes read), the size checked first (no need to read a large binary).
 * Undefined when it cannot be opened.
 */
function inspect(file: string): { st: Stats; shim: boolean } | undefined {
  let fd: number;
  try {
    fd = openNoWait(file);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    return { st, shim: st.isFile() && st.size === SHIM_BYTES.length && readFileSync(fd).equals(SHIM_BYTES) };
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Writes the shim in place of `bin` with the given times (cargo's view of freshness stays). */
function putShim(bin: string, times: { atime: Date; mtime: Date }): void {
  const tmp = `${bin}.cratebox-tmp-${process.pid}`;
  writeFileSync(tmp, SHIM, { mode: 0o755 });
  utimesSync(tmp, times.atime, times.mtime);
  renameSync(tmp, bin);
}

/**
 * Moves an executable rustc made to `bin.cratebox-real` and writes the shim in its place,
 * keeping its times. False when `bin` is not such an executable (nothing is done then).
 */
export function swapBuildScript(bin: string): boolean {
  let head: Buffer;
  try {
    head = readHead(bin);
  } catch {
    return false;
  }
  if (!isElf(head)) return false;
  const st = statSync(bin);
  renameSync(bin, bin + REAL_SUFFIX);
  putShim(bin, st);
  return true;
}

export interface SwapCount {
  /** Executables compiled outside cratebox, now behind the shim. */
  swapped: number;
  /** Files in a build script's place that were neither the shim nor an executable: replaced by the shim. */
  replaced: string[];
}

/**
 * `dir/name` for a name readdir gave (no separator in it) below a normalised directory:
 * path.join's normalising was a third of this check's time on a no-op, run cold once per start.
 */
const under = (dir: string, name: string) => `${dir}/${name}`;

/** The directories that hold compiled build scripts: `<root>/[<triple>/]<profile>/build/<pkg>-<hash>`. */
function* buildScriptDirs(root: string): Generator<string> {
  const list = (d: string) => {
    try {
      // A directory, or a link to one: cargo builds through a linked `debug/` as through any other.
      return readdirSync(d, { withFileTypes: true })
        .filter((e) => e.isDirectory() || (e.isSymbolicLink() && statOrUndefined(under(d, e.name))?.isDirectory()))
        .map((e) => under(d, e.name));
    } catch {
      return [];
    }
  };
  // `<root>/<a>/build` (a = profile) and `<root>/<a>/<b>/build` (a = target triple), but not
  // another target directory nested inside this one (cargo marks each with CACHEDIR.TAG).
  for (const a of list(path.resolve(root))) {
    if (existsSync(under(a, "CACHEDIR.TAG"))) continue;
    for (const b of [a, ...list(a)]) {
      for (const pkg of list(under(b, "build"))) yield pkg;
    }
  }
}

/** Checks every build script below the build roots (see the top of this file). */
export function swapExisting(buildRoots: readonly string[]): SwapCount {
  const count: SwapCount = { swapped: 0, replaced: [] };
  for (const root of buildRoots) {
    for (const dir of buildScriptDirs(root)) {
      let entries: string[];
      try {
        entries = readdirSync(dir);
      } catch {
        continue;
      }
      for (const name of entries.filter(isBuildScriptBinaryName)) {
        const bin = under(dir, name);
        let seen = inspect(bin);
        if (!seen?.shim) {
          if (swapBuildScript(bin)) count.swapped++;
          else {
            putShim(bin, statSync(bin));
            count.replaced.push(bin);
          }
          seen = { st: statSync(bin), shim: true };
        }
        // Cargo's copy, `build_script_<target>-<hash>` -> `build-script-<target>`, must be the
        // shim too: a hard link to it is (one stat, no read), anything else is checked.
        const uplifted = under(dir, name.replace(/^build_script_/, "build-script-").replace(/-[0-9a-f]{16}$/, ""));
        const link = statOrUndefined(uplifted);
        if (link && !sameFile(link, seen.st) && !inspect(uplifted)?.shim) relink(bin, uplifted);
      }
    }
  }
  return count;
}

function statOrUndefined(file: string): Stats | undefined {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
}

function sameFile(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

function relink(bin: string, uplifted: string): void {
  const tmp = `${uplifted}.cratebox-tmp-${process.pid}`;
  linkSync(bin, tmp);
  renameSync(tmp, uplifted);
}

/** Writes the shim where the RUSTC_WRAPPER copies it from (CRATEBOX_SHIM). */
export function writeShimTemplate(file: string): void {
  writeFileSync(file, SHIM, { mode: 0o755 });
}
