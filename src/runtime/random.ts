/**
 * Random identifiers (run ids, sandbox names, probe nonces, the user's cache key), read from the
 * kernel's generator (/dev/urandom): loading node:crypto for them cost 10 to 14 ms of every run
 * that sandboxes a step, which needs it for nothing else (issue 13). cratebox runs on Linux only.
 */
import { closeSync, openSync, readSync } from "node:fs";

/** `bytes` random bytes, as lowercase hex. */
export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString("hex");
}

/** A random UUID (version 4, RFC 9562). */
export function randomUuid(): string {
  const b = randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function randomBytes(n: number): Buffer {
  const buf = Buffer.alloc(n);
  const fd = openSync("/dev/urandom", "r");
  try {
    for (let got = 0; got < n; ) {
      const read = readSync(fd, buf, got, n - got, null);
      if (read <= 0) throw new Error("/dev/urandom gave no bytes");
      got += read;
    }
  } finally {
    closeSync(fd);
  }
  return buf;
}
