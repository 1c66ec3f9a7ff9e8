/**
 * Resource limits of one sandboxed step, and the parsing of their human forms ("512MiB", "15m").
 * Pure: no I/O. Defaults are documented in README.md ("Limits").
 */
import { CrateboxError } from "./errors.ts";

export interface Limits {
  /** Memory of the whole container, in bytes; swap is not granted on top. */
  memoryBytes: number;
  /** Processes and threads the container may hold at once (fork bombs end here). */
  pids: number;
  /** Wall-clock time from start to exit, in milliseconds. */
  timeoutMs: number;
  /** CPUs the container may use (fractions allowed); undefined = all the host's. */
  cpus: number | undefined;
  /** Size of the private /tmp (a tmpfs, so it counts towards memory too), in bytes. */
  tmpBytes: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  memoryBytes: 4 * 1024 ** 3,
  pids: 512,
  timeoutMs: 15 * 60_000,
  cpus: undefined,
  tmpBytes: 1024 ** 3,
});

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/** Thrown by the parse functions; `accepted` says what would have been fine. */
export class LimitSyntaxError extends CrateboxError {
  readonly input: string;
  readonly accepted: string;

  constructor(input: string, accepted: string) {
    super("LIMIT_SYNTAX", `invalid value ${JSON.stringify(input)}: expected ${accepted}`);
    this.name = "LimitSyntaxError";
    this.input = input;
    this.accepted = accepted;
  }
}

export const SIZE_ACCEPTED = 'a size such as "512MiB", "4GiB", "2g" or a number of bytes';
export const DURATION_ACCEPTED = 'a duration such as "90s", "15m", "1h30m" or "500ms"';

/** "4GiB" -> 4294967296. Binary units for k/m/g/t and KiB/MiB/...; KB/MB/GB are decimal. */
export function parseSize(raw: string | number): number {
  if (typeof raw === "number") {
    if (Number.isSafeInteger(raw) && raw > 0) return raw;
    throw new LimitSyntaxError(String(raw), SIZE_ACCEPTED);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(raw);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new LimitSyntaxError(raw, SIZE_ACCEPTED);
  const bytes = Math.round(Number(m[1]) * unit);
  if (!(bytes > 0) || !Number.isSafeInteger(bytes)) throw new LimitSyntaxError(raw, SIZE_ACCEPTED);
  return bytes;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "1h30m" -> 5400000 ms. A bare number is seconds. */
export function parseDuration(raw: string | number): number {
  if (typeof raw === "number") {
    if (Number.isFinite(raw) && raw > 0) return Math.round(raw * 1000);
    throw new LimitSyntaxError(String(raw), DURATION_ACCEPTED);
  }
  const text = raw.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return parseDuration(Number(text));
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = part.exec(text); m; m = part.exec(text)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    consumed = part.lastIndex;
  }
  if (consumed !== text.length || consumed === 0 || !(total > 0)) {
    throw new LimitSyntaxError(raw, DURATION_ACCEPTED);
  }
  return Math.round(total);
}

/** A positive whole number (pids). */
export function parseCount(raw: string | number): number {
  const n = typeof raw === "number" ? raw : Number(raw.trim());
  if (!Number.isSafeInteger(n) || n <= 0) throw new LimitSyntaxError(String(raw), "a positive whole number");
  return n;
}

/** A positive number of CPUs, fractions allowed ("1.5"). */
export function parseCpus(raw: string | number): number {
  const n = typeof raw === "number" ? raw : Number(raw.trim());
  if (!Number.isFinite(n) || n <= 0) throw new LimitSyntaxError(String(raw), "a positive number of CPUs such as 2 or 0.5");
  return n;
}

/** 536870912 -> "512 MiB" (for messages). */
export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1 && v % 1024 === 0) {
    v /= 1024;
    i++;
  }
  return `${v} ${units[i]}`;
}

/** 90000 -> "1m30s" (for messages). */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return [h ? `${h}h` : "", m ? `${m}m` : "", r || (!h && !m) ? `${r}s` : ""].join("");
}
