/**
 * Ages and points in time for the cool-off of `cratebox review` (issue 14). Pure.
 *
 * An age is written like a limit's duration, with days and weeks added because a cool-off is
 * counted in days: "7d", "36h", "2w", "1d12h". Times are RFC 3339 timestamps, as the registry
 * index writes `pubtime` ("2026-03-01T12:00:00Z").
 */
import type { ValueResult } from "../profile/values.ts";

export const AGE_ACCEPTED = 'an age such as "7d", "36h", "2w" or "1d12h" (units w, d, h, m, s); "0" for none';
export const TIME_ACCEPTED = 'an RFC 3339 time such as "2026-03-01T12:00:00Z"';

const UNITS: Record<string, number> = { w: 7 * 86_400_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };

/** "7d" -> 604800000 ms; "0" -> 0 (no cool-off). */
export function parseAge(raw: string): ValueResult<number> {
  const text = raw.trim();
  if (text === "0") return { ok: true, value: 0 };
  const part = /(\d+(?:\.\d+)?)([wdhms])/gy;
  let total = 0;
  let consumed = 0;
  for (let m = part.exec(text); m; m = part.exec(text)) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    consumed = part.lastIndex;
  }
  if (consumed === 0 || consumed !== text.length || !Number.isSafeInteger(Math.round(total))) {
    return { ok: false, message: `${JSON.stringify(raw)} is not an age`, accepted: AGE_ACCEPTED };
  }
  return { ok: true, value: Math.round(total) };
}

/** 183600000 -> "2d3h" (whole minutes; "0m" under a minute). */
export function formatAge(ms: number): string {
  const minutes = Math.floor(Math.abs(ms) / 60_000);
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  const text = [d ? `${d}d` : "", h ? `${h}h` : "", m || (!d && !h) ? `${m}m` : ""].join("");
  return ms < 0 ? `-${text}` : text;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 timestamp with a zone (a time without one would depend on the machine's zone). */
export function parseTime(raw: string): ValueResult<Date> {
  const text = raw.trim();
  const t = RFC3339.test(text) ? Date.parse(text.replace(" ", "T")) : Number.NaN;
  return Number.isNaN(t) ? { ok: false, message: `${JSON.stringify(raw)} is not a time`, accepted: TIME_ACCEPTED } : { ok: true, value: new Date(t) };
}
