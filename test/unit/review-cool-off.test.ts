import { describe, expect, it } from "vitest";
import { formatAge, parseAge, parseTime } from "../../src/core/review/age.ts";
import { decideCoolOff, findExemption, unusedExemptions, type CoolOffPolicy, type Release } from "../../src/core/review/cool-off.ts";

const DAY = 86_400_000;
const NOW = new Date("2026-03-10T00:00:00Z");
const release: Release = { name: "alpha", version: "1.1.0", sourceKind: "registry", checksum: "a".repeat(64) };
const policy = (over: Partial<CoolOffPolicy> = {}): CoolOffPolicy => ({ minAgeMs: 7 * DAY, requirePubtime: false, exemptions: [], ...over });
const exemption = (over: Partial<{ name: string; version: string; checksum: string; reason: string }> = {}) => ({
  name: "alpha",
  version: "1.1.0",
  checksum: `sha256:${"a".repeat(64)}`,
  reason: "fixes CVE-2026-1",
  ...over,
});

describe("ages and times", () => {
  it.each([
    ["7d", 7 * DAY],
    ["36h", 36 * 3_600_000],
    ["2w", 14 * DAY],
    ["1d12h", 1.5 * DAY],
    ["90m", 5_400_000],
    ["0", 0],
  ])("%s", (text, ms) => {
    expect(parseAge(text)).toEqual({ ok: true, value: ms });
  });

  it.each(["7 days", "7", "d", "-1d", "1y", ""])("refuses %j", (text) => {
    expect(parseAge(text).ok).toBe(false);
  });

  it("formats ages in days, hours and minutes", () => {
    expect(formatAge(7 * DAY)).toBe("7d");
    expect(formatAge(2 * DAY + 3 * 3_600_000 + 60_000)).toBe("2d3h1m");
    expect(formatAge(30_000)).toBe("0m");
    expect(formatAge(-DAY)).toBe("-1d");
  });

  it("reads RFC 3339 times with a zone only", () => {
    expect(parseTime("2026-03-01T12:00:00Z")).toEqual({ ok: true, value: new Date(Date.UTC(2026, 2, 1, 12)) });
    expect(parseTime("2026-03-01T12:00:00.5+02:00")).toEqual({ ok: true, value: new Date(Date.UTC(2026, 2, 1, 10, 0, 0, 500)) });
    expect(parseTime("2026-03-01T12:00:00").ok).toBe(false);
    expect(parseTime("yesterday").ok).toBe(false);
    expect(parseTime("2026-13-01T00:00:00Z").ok).toBe(false);
  });
});

describe("decideCoolOff", () => {
  it("fails a release younger than min-age and says when it becomes allowed", () => {
    const v = decideCoolOff(release, "2026-03-08T00:00:00Z", policy(), NOW);
    expect(v).toMatchObject({
      status: "too-young",
      fails: true,
      ageMs: 2 * DAY,
      allowedFrom: "2026-03-15T00:00:00.000Z",
      publishedAt: "2026-03-08T00:00:00.000Z",
    });
    expect(v.message).toContain("allowed from 2026-03-15T00:00:00.000Z");
  });

  it("passes a release exactly min-age old, and an older one", () => {
    expect(decideCoolOff(release, "2026-03-03T00:00:00Z", policy(), NOW)).toMatchObject({ status: "passed", fails: false });
    expect(decideCoolOff(release, "2025-01-01T00:00:00Z", policy(), NOW)).toMatchObject({ status: "passed", fails: false });
  });

  it("an unknown time passes by default and fails with require-pubtime", () => {
    expect(decideCoolOff(release, null, policy(), NOW)).toMatchObject({ status: "unknown", fails: false, publishedAt: null });
    expect(decideCoolOff(release, null, policy({ requirePubtime: true }), NOW)).toMatchObject({ status: "unknown", fails: true });
    expect(decideCoolOff(release, "last tuesday", policy({ requirePubtime: true }), NOW)).toMatchObject({ status: "unknown", fails: true });
  });

  it("without min-age nothing is held back, and the age is still told", () => {
    expect(decideCoolOff(release, "2026-03-09T00:00:00Z", policy({ minAgeMs: null }), NOW)).toMatchObject({
      status: "not-applicable",
      fails: false,
      ageMs: DAY,
    });
    expect(decideCoolOff(release, null, policy({ minAgeMs: 0, requirePubtime: true }), NOW).fails).toBe(false);
  });

  it("git and path packages have no publication time and no cool-off", () => {
    expect(decideCoolOff({ ...release, sourceKind: "git", checksum: null }, null, policy({ requirePubtime: true }), NOW)).toMatchObject({
      status: "not-applicable",
      fails: false,
    });
  });

  it("an exemption pinned to name, version and checksum lets a young release through", () => {
    const v = decideCoolOff(release, "2026-03-09T00:00:00Z", policy({ exemptions: [exemption()] }), NOW);
    expect(v).toMatchObject({ status: "exempt", fails: false });
    expect(v.message).toContain("fixes CVE-2026-1");
  });

  it("an exemption for other bytes under the same name and version does not apply, and says so", () => {
    const v = decideCoolOff(release, "2026-03-09T00:00:00Z", policy({ exemptions: [exemption({ checksum: `sha256:${"b".repeat(64)}` })] }), NOW);
    expect(v).toMatchObject({ status: "too-young", fails: true });
    expect(v.message).toContain(`checksum sha256:${"b".repeat(64)}, not Cargo.lock's`);
  });
});

describe("exemptions", () => {
  it("match exactly one release", () => {
    expect(findExemption(release, [exemption({ version: "1.1.1" })])).toEqual({ kind: "none" });
    expect(findExemption({ ...release, checksum: null }, [exemption()])).toEqual({ kind: "checksum-mismatch", checksum: `sha256:${"a".repeat(64)}` });
    expect(findExemption(release, [exemption({ name: "beta" }), exemption()])).toEqual({ kind: "exempt", reason: "fixes CVE-2026-1" });
  });

  it("those that exempt nothing are listed, to be removed", () => {
    const stale = exemption({ version: "0.9.0", reason: "old" });
    expect(unusedExemptions([exemption(), stale], [release])).toEqual([stale]);
  });
});
