import { describe, expect, it } from "vitest";
import { formatSpread, median, pairwise, rotation, spread, verdict } from "../../bench/stats.ts";

describe("the benchmark's arithmetic", () => {
  it("takes the median of odd and even counts", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it("summarises the figure of each pair, not the ratio of medians", () => {
    // A noisy second pair slows both sides: its ratio stays what the others say.
    const pairs = [
      { plain: 10, boxed: 11 },
      { plain: 20, boxed: 22 },
      { plain: 10, boxed: 12 },
    ];
    expect(pairwise(pairs, (p) => p.boxed / p.plain)).toEqual({ median: 1.1, min: 1.1, max: 1.2, n: 3 });
    expect(spread([5])).toEqual({ median: 5, min: 5, max: 5, n: 1 });
  });

  it("prints the median with its range, and marks a missed bound", () => {
    expect(formatSpread({ median: 1.08, min: 1.03, max: 1.15, n: 5 }, (x) => `${x.toFixed(2)}x`)).toBe("1.08x [1.03x–1.15x]");
    expect(formatSpread({ median: 2, min: 2, max: 2, n: 1 }, String)).toBe("2");
    expect(verdict(1.1, 1.1)).toBe("PASS");
    expect(verdict(1.11, 1.1)).toBe("MISS");
  });

  it("rotates the order so no tool always goes first", () => {
    expect([0, 1, 2, 3].map((r) => rotation(["plain", "bwrap", "docker"], r)[0])).toEqual(["plain", "bwrap", "docker", "plain"]);
  });
});
