/**
 * Resource limits of one sandboxed step, and the parsing of their human forms ("512MiB", "15m").
 * Pure: no I/O. Defaults are documented in README.md ("Limits"). Their zod schemas are in
 * limits-schema.ts (zod loads only when a profile, policy or report needs it).
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
function parseCpus(raw: string | number): number {
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

// ---- the one table of limits -------------------------------------------------------------------

/** What each limit is called and how it reads and prints, everywhere it appears. */
export interface LimitSpec {
  /** The key in cratebox.toml ([defaults] and crate tables) and in `profiles explain`. */
  key: string;
  /** The command-line option (`--memory 2GiB`). */
  flag: string;
  /** What it is, for the editor tooltip and `--help`. */
  describe: string;
  /** The value as a person writes it (cratebox.toml, the command line) -> the value. */
  parse: (raw: string | number) => number;
  /** What parse accepts, in words. */
  accepted: string;
  /** What a value is, for "\"lots\" is not a size". */
  noun: string;
  /** The value for messages ("512 MiB", "15m"). */
  format: (value: number) => string;
  /** An integer (bytes, milliseconds, a count), or any positive number (CPUs). */
  integer: boolean;
}

/**
 * Every limit, keyed by its field in Limits. The profile schema, the command-line options, the
 * policy view and caps, the report schema, `profiles explain` and the failure messages are all
 * derived from this table: a new limit is one row here (the type checker then asks for a default
 * in DEFAULT_LIMITS and for its enforcement in the backends).
 */
export const LIMIT_TABLE = {
  memoryBytes: {
    key: "memory",
    flag: "memory",
    describe: "Memory of the whole sandbox; swap is not granted on top. Default 4GiB.",
    parse: parseSize,
    accepted: SIZE_ACCEPTED,
    noun: "a size",
    format: formatSize,
    integer: true,
  },
  pids: {
    key: "pids",
    flag: "pids",
    describe: "Processes and threads the sandbox may hold at once (a fork bomb ends here). Default 512.",
    parse: parseCount,
    accepted: "a positive whole number such as 512",
    noun: "a positive whole number",
    format: String,
    integer: true,
  },
  timeoutMs: {
    key: "timeout",
    flag: "timeout",
    describe: "Wall-clock time from start to exit; the step is stopped and the cause named after it. Default 15m.",
    parse: parseDuration,
    accepted: DURATION_ACCEPTED,
    noun: "a duration",
    format: formatDuration,
    integer: true,
  },
  cpus: {
    key: "cpus",
    flag: "cpus",
    describe: "CPUs the sandbox may use, fractions allowed (0.5). Default: all of the host's.",
    parse: parseCpus,
    accepted: "a positive number of CPUs such as 2 or 0.5",
    noun: "a positive number of CPUs",
    format: String,
    integer: false,
  },
  tmpBytes: {
    key: "tmp",
    flag: "tmp-size",
    describe: "Size of the private /tmp (a tmpfs: it counts towards memory too). Default 1GiB.",
    parse: parseSize,
    accepted: SIZE_ACCEPTED,
    noun: "a size",
    format: formatSize,
    integer: true,
  },
} as const satisfies { readonly [K in keyof Limits]-?: LimitSpec };

/** A limit's name in cratebox.toml: memory, pids, timeout, cpus, tmp. */
export type LimitKey = (typeof LIMIT_TABLE)[keyof Limits]["key"];

/** The field of Limits a cratebox.toml key sets. */
export function limitFieldOf(key: LimitKey): keyof Limits {
  return LIMIT_FIELDS.find((f) => LIMIT_TABLE[f].key === key)!;
}

/** The fields of Limits, in the table's order. */
export const LIMIT_FIELDS = Object.keys(LIMIT_TABLE) as (keyof Limits)[];

/** A limit's value for messages; an unset CPU limit is "all". */
export function formatLimit(field: keyof Limits, value: number | null | undefined): string {
  return value === null || value === undefined ? "all" : LIMIT_TABLE[field].format(value);
}
