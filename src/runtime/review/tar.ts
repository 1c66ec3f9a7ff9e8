/**
 * Reads a `.crate` file (a gzipped tar) into memory, refusing anything cargo would not produce.
 *
 * Node's zlib and ~100 lines here instead of a tar library: a .crate is one small, simple
 * archive (cargo writes GNU-format entries, with a GNU long-name entry for paths past 100
 * bytes; pax headers are read too), and what matters is what is refused, which is easier to see
 * in code this short: links and device files, paths outside `<name>-<version>/`, `..`, absolute
 * paths, a path twice, bad header checksums, and archives that unpack to more than
 * MAX_UNPACKED_BYTES or MAX_ENTRIES.
 */
import { gunzipSync } from "node:zlib";
import type { PackageFile } from "../../core/review/classify.ts";

export const MAX_UNPACKED_BYTES = 512 * 1024 ** 2;
const MAX_ENTRIES = 100_000;

export class CrateArchiveError extends Error {}

/** Paths relative to the package directory (`src/lib.rs`) -> contents and executable bit. */
export function readCrateArchive(gzipped: Uint8Array, topDir: string): Map<string, PackageFile> {
  let tar: Buffer;
  try {
    tar = gunzipSync(gzipped, { maxOutputLength: MAX_UNPACKED_BYTES });
  } catch (err) {
    throw new CrateArchiveError(`not a gzip archive within ${MAX_UNPACKED_BYTES / 1024 ** 2} MiB (${(err as Error).message})`);
  }
  const files = new Map<string, PackageFile>();
  let longName: string | undefined;
  let paxPath: string | undefined;
  let entries = 0;
  for (let at = 0; at + 512 <= tar.length; ) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    if (++entries > MAX_ENTRIES) throw new CrateArchiveError(`more than ${MAX_ENTRIES} entries`);
    checkHeaderSum(header, at);
    const size = readSize(header.subarray(124, 136), at);
    const type = String.fromCharCode(header[156]!);
    const body = tar.subarray(at + 512, at + 512 + size);
    if (body.length !== size) throw new CrateArchiveError(`entry at byte ${at} is cut short`);
    at += 512 + Math.ceil(size / 512) * 512;

    if (type === "L") {
      longName = cString(body);
      continue;
    }
    if (type === "x") {
      paxPath = readPaxPath(body) ?? paxPath;
      continue;
    }
    if (type === "g") continue;
    const magic = header.subarray(257, 263).toString("latin1");
    const prefix = magic === "ustar\0" ? cString(header.subarray(345, 500)) : "";
    const name = paxPath ?? longName ?? (prefix ? `${prefix}/${cString(header.subarray(0, 100))}` : cString(header.subarray(0, 100)));
    longName = undefined;
    paxPath = undefined;
    if (type === "5") {
      toPackagePath(name, topDir, true);
      continue;
    }
    if (type !== "0" && type !== "\0" && type !== "7") {
      throw new CrateArchiveError(
        `${name} is a ${type === "1" ? "hard link" : type === "2" ? "symbolic link" : `tar entry of type ${JSON.stringify(type)}`}, which cargo never packs`,
      );
    }
    const rel = toPackagePath(name, topDir, false);
    if (files.has(rel)) throw new CrateArchiveError(`${name} is in the archive twice (which copy would cargo use?)`);
    const mode = Number.parseInt(cString(header.subarray(100, 108)).trim() || "0", 8);
    files.set(rel, { data: Buffer.from(body), executable: (mode & 0o111) !== 0 });
  }
  if (files.size === 0) throw new CrateArchiveError("no files");
  for (const rel of files.keys()) {
    const parts = rel.split("/");
    for (let i = 1; i < parts.length; i++) {
      if (files.has(parts.slice(0, i).join("/"))) throw new CrateArchiveError(`${parts.slice(0, i).join("/")} is both a file and a directory`);
    }
  }
  return files;
}

/** `foo-1.0.0/src/lib.rs` -> `src/lib.rs`; anything outside the package directory is refused. */
function toPackagePath(name: string, topDir: string, dir: boolean): string {
  const clean = name.replace(/\/+$/, "");
  if (dir && clean === topDir) return "";
  const segments = clean.split("/");
  if (
    segments[0] !== topDir ||
    segments.length < 2 ||
    segments.some((s) => s === "" || s === "." || s === "..") ||
    clean.includes("\0") ||
    clean.includes("\\")
  ) {
    throw new CrateArchiveError(`${JSON.stringify(name)} is not a plain path inside ${topDir}/`);
  }
  return segments.slice(1).join("/");
}

function checkHeaderSum(header: Buffer, at: number): void {
  const written = Number.parseInt(cString(header.subarray(148, 156)).trim(), 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
  if (written !== sum) throw new CrateArchiveError(`header at byte ${at} has a wrong checksum`);
}

/** Octal, or GNU's base-256 for large sizes (high bit set). */
function readSize(field: Buffer, at: number): number {
  let n: number;
  if ((field[0]! & 0x80) !== 0) {
    n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
  } else n = Number.parseInt(cString(field).trim() || "0", 8);
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_UNPACKED_BYTES) throw new CrateArchiveError(`entry at byte ${at} has an impossible size`);
  return n;
}

function readPaxPath(body: Buffer): string | undefined {
  // Records: "<length> <key>=<value>\n"
  let path: string | undefined;
  for (let at = 0; at < body.length; ) {
    const space = body.indexOf(0x20, at);
    const length = Number.parseInt(body.subarray(at, space).toString("latin1"), 10);
    if (space < 0 || !(length > 0)) break;
    const record = body.subarray(space + 1, at + length - 1).toString("utf8");
    if (record.startsWith("path=")) path = record.slice("path=".length);
    at += length;
  }
  return path;
}

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? b.length : end).toString("utf8");
}
