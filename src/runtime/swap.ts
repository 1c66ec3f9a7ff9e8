/**
 * Swaps compiled build scripts for the shim (see core/shim.ts), before cargo starts, for binaries
 * compiled without cratebox (plain cargo, or an older target/): cargo's fingerprints do not
 * change when a RUSTC_WRAPPER appears, so such a binary would be "Fresh" and, if re-run, would
 * run unsandboxed. Binaries compiled under cratebox are swapped by the RUSTC_WRAPPER itself
 * (src/shims/rustc-wrapper.sh), with the same shim text (writeShimTemplate) and the same moves.
 */
import { closeSync, existsSync, linkSync, openSync, readSync, readdirSync, renameSync, statSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { isBuildScriptBinaryName, isShim, REAL_SUFFIX, toBuildScriptShim } from "../core/shim.ts";

function readHead(file: string, bytes = 64): Buffer {
  const fd = openSync(file, "r");
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

/**
 * Moves `bin` aside to `bin.cratebox-real` and writes the shim in its place, keeping the
 * binary's times so cargo's view of freshness does not change. Returns false when `bin` is
 * already a shim or not a native executable.
 */
function swapBuildScript(bin: string): boolean {
  let head: Buffer;
  try {
    head = readHead(bin);
  } catch {
    return false;
  }
  if (isShim(head.toString("latin1")) || !isElf(head)) return false;
  const st = statSync(bin);
  const real = bin + REAL_SUFFIX;
  const tmp = `${bin}.cratebox-tmp-${process.pid}`;
  writeFileSync(tmp, toBuildScriptShim(), { mode: 0o755 });
  utimesSync(tmp, st.atime, st.mtime);
  renameSync(bin, real);
  renameSync(tmp, bin);
  return true;
}

/**
 * Cargo's uplifted copy `build-script-<name>` (a hard link of the compiled binary, the file
 * cargo actually executes) is replaced by a link to the shim when it still is the real binary.
 */
function relinkUplifted(dir: string, entries: string[]): void {
  for (const compiled of entries.filter(isBuildScriptBinaryName)) {
    const uplifted = path.join(dir, compiled.replace(/^build_script_/, "build-script-").replace(/-[0-9a-f]{16}$/, ""));
    let head: Buffer;
    try {
      head = readHead(uplifted);
    } catch {
      continue;
    }
    if (!isElf(head)) continue;
    const tmp = `${uplifted}.cratebox-tmp-${process.pid}`;
    linkSync(path.join(dir, compiled), tmp);
    renameSync(tmp, uplifted);
  }
}

/** Writes the shim where the RUSTC_WRAPPER copies it from (CRATEBOX_SHIM). */
export function writeShimTemplate(file: string): void {
  writeFileSync(file, toBuildScriptShim(), { mode: 0o755 });
}

/** The directories that hold compiled build scripts: `<root>/[<triple>/]<profile>/build/<pkg>-<hash>`. */
function* buildScriptDirs(root: string): Generator<string> {
  const list = (d: string) => {
    try {
      return readdirSync(d, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => path.join(d, e.name));
    } catch {
      return [];
    }
  };
  // `<root>/<a>/build` (a = profile) and `<root>/<a>/<b>/build` (a = target triple), but not
  // another target directory nested inside this one (cargo marks each with CACHEDIR.TAG).
  for (const a of list(root)) {
    if (existsSync(path.join(a, "CACHEDIR.TAG"))) continue;
    for (const b of [a, ...list(a)]) {
      for (const pkg of list(path.join(b, "build"))) yield pkg;
    }
  }
}

/** Swaps every unswapped build-script binary below the build roots. Returns how many. */
export function swapExisting(buildRoots: readonly string[]): number {
  let swapped = 0;
  for (const root of buildRoots) {
    for (const dir of buildScriptDirs(root)) {
      let entries: string[];
      try {
        entries = readdirSync(dir);
      } catch {
        continue;
      }
      const compiled = entries.filter(isBuildScriptBinaryName);
      if (compiled.length === 0) continue;
      for (const name of compiled) if (swapBuildScript(path.join(dir, name))) swapped++;
      relinkUplifted(dir, entries);
    }
  }
  return swapped;
}
