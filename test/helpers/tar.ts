/**
 * Hand-made tar entries, for archives no honest tool writes (links, `..`, a file twice, a bad
 * header checksum): what the .crate reader must refuse. Real archives in the tests come from
 * cargo package or GNU tar.
 */
import { gzipSync } from "node:zlib";

export interface RawEntry {
  name: string;
  body?: string;
  /** "0" file, "2" symlink, "1" hard link, "5" directory. */
  type?: string;
  mode?: number;
  linkTo?: string;
  /** Write a wrong header checksum. */
  badSum?: boolean;
}

function header(e: RawEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(e.name, 0, 100, "utf8");
  h.write(`${(e.mode ?? 0o644).toString(8).padStart(7, "0")}\0`, 100, "latin1");
  h.write("0000000\0", 108, "latin1");
  h.write("0000000\0", 116, "latin1");
  h.write(`${size.toString(8).padStart(11, "0")}\0`, 124, "latin1");
  h.write("00000000000\0", 136, "latin1");
  h.write(e.type ?? "0", 156, "latin1");
  if (e.linkTo) h.write(e.linkTo, 157, 100, "utf8");
  h.write("ustar\0" + "00", 257, "latin1");
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${(e.badSum ? sum + 1 : sum).toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return h;
}

export function makeTarGz(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? "");
    parts.push(header(e, body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(parts));
}
