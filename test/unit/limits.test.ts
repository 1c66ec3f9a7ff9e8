import { describe, expect, it } from "vitest";
import { formatDuration, formatSize, LimitSyntaxError, parseCount, parseDuration, parseSize } from "../../src/core/limits.ts";

describe("parseSize", () => {
  it.each([
    ["512MiB", 512 * 1024 ** 2],
    ["4GiB", 4 * 1024 ** 3],
    ["2g", 2 * 1024 ** 3],
    ["1GB", 1e9],
    ["1.5 GiB", 1.5 * 1024 ** 3],
    ["1024", 1024],
  ])("%s", (raw, bytes) => expect(parseSize(raw)).toBe(bytes));

  it.each(["", "lots", "-1g", "0", "1 parsec", "1e9"])("rejects %j with what is accepted", (raw) => {
    expect(() => parseSize(raw)).toThrowError(LimitSyntaxError);
    expect(() => parseSize(raw)).toThrow(/expected a size such as/);
  });
});

describe("parseDuration", () => {
  it.each([
    ["90s", 90_000],
    ["15m", 900_000],
    ["1h30m", 5_400_000],
    ["500ms", 500],
    ["2", 2000],
  ])("%s", (raw, ms) => expect(parseDuration(raw)).toBe(ms));

  it.each(["", "soon", "5 minutes", "10x", "m", "-5s"])("rejects %j", (raw) => {
    expect(() => parseDuration(raw)).toThrow(/expected a duration/);
  });
});

describe("parseCount", () => {
  it("takes whole positive numbers only", () => {
    expect(parseCount("64")).toBe(64);
    expect(() => parseCount("0")).toThrow();
    expect(() => parseCount("1.5")).toThrow();
  });
});

describe("formatting", () => {
  it("formats sizes and durations for messages", () => {
    expect(formatSize(512 * 1024 ** 2)).toBe("512 MiB");
    expect(formatSize(4 * 1024 ** 3)).toBe("4 GiB");
    expect(formatDuration(900_000)).toBe("15m");
    expect(formatDuration(5_430_000)).toBe("1h30m30s");
    expect(formatDuration(2000)).toBe("2s");
    expect(formatDuration(250)).toBe("250ms");
  });
});
