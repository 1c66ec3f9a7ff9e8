/**
 * The benchmark's arithmetic, apart from its doing (bench/run.ts) so it can be unit-tested.
 *
 * Figures come in pairs: plain cargo and cratebox on the same work, one right after the other
 * (the order alternating). A busy minute slows both sides of its pair, so the figure of each pair
 * (a ratio, a difference) is computed first and only then summarised: its median, and its min and
 * max so the spread shows.
 */

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  if (s.length === 0) return Number.NaN;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function spread(xs: readonly number[]): Spread {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

/** The spread of one figure of each pair (cratebox / plain, cratebox - plain, ...). */
export function pairwise<P>(pairs: readonly P[], figure: (pair: P) => number): Spread {
  return spread(pairs.map(figure));
}

/** "1.08x [1.03–1.15]" with the unit's formatter; a single value has no range. */
export function formatSpread(s: Spread, format: (x: number) => string): string {
  if (s.n === 0) return "n/a";
  return s.n === 1 ? format(s.median) : `${format(s.median)} [${format(s.min)}–${format(s.max)}]`;
}

/** Which order the tools run in round `round`: rotated, so none is always first (cold caches) or last. */
export function rotation<T>(tools: readonly T[], round: number): T[] {
  const k = round % tools.length;
  return [...tools.slice(k), ...tools.slice(0, k)];
}

/** PASS when the median is within the bound; MISS otherwise (the bench reports, it never fails). */
export function verdict(value: number, bound: number): "PASS" | "MISS" {
  return value <= bound ? "PASS" : "MISS";
}
