/** The [review] table of cratebox.toml and the review's command-line options. */
import { describe, expect, it } from "vitest";
import { CrateboxError } from "../../src/core/errors.ts";
import { formatProfileIssue, parseProfile } from "../../src/core/profile/parse.ts";
import { toReviewSettings, type ReviewOptions } from "../../src/core/review/settings.ts";

const CHECKSUM = "c".repeat(64);
const where = { cwd: "/work/here", workspaceRoot: "/work/ws" };
const CLOCK = new Date("2026-05-05T05:05:05Z");

function problems(text: string): string[] {
  const r = parseProfile(`version = 1\n${text}`, "cratebox.toml");
  return r.ok ? [] : r.issues.map(formatProfileIssue);
}

describe("[review] in cratebox.toml", () => {
  it("takes min-age, require-pubtime, index and pinned exemptions, normalised", () => {
    const r = parseProfile(
      `version = 1\n[review]\nmin-age = "7d"\nrequire-pubtime = true\nindex = "vendor/registry"\n[[review.exempt]]\nname = "alpha"\nversion = "1.1.0"\nchecksum = "${CHECKSUM}"\nreason = "fixes CVE-2026-1"\n`,
      "cratebox.toml",
    );
    expect(r.ok && r.value.profile.review).toEqual({
      "min-age": 7 * 86_400_000,
      "require-pubtime": true,
      index: "vendor/registry",
      exempt: [{ name: "alpha", version: "1.1.0", checksum: `sha256:${CHECKSUM}`, reason: "fixes CVE-2026-1" }],
    });
  });

  it("an exact version keeps its build metadata, as Cargo.lock writes it", () => {
    expect(problems(`[[review.exempt]]\nname = "bzip2-sys"\nversion = "0.1.11+1.0.8"\nchecksum = "${CHECKSUM}"\nreason = "vendored bzip2 1.0.8"\n`)).toEqual(
      [],
    );
  });

  it("refuses a name-only exemption, naming what is missing and why", () => {
    const p = problems(`[[review.exempt]]\nname = "alpha"\nreason = "trust me"\n`);
    expect(p).toEqual([
      expect.stringMatching(
        /^cratebox\.toml:2: review\.exempt\[0\]\.version: is missing \(accepted: the exact version .*pinned to name, version and checksum\)\)$/,
      ),
      expect.stringMatching(/^cratebox\.toml:2: review\.exempt\[0\]\.checksum: is missing .*pinned to name, version and checksum\)\)$/),
    ]);
  });

  it("refuses a version requirement, a bad checksum, an empty reason, a bad age and a misspelt key, each with its line", () => {
    const p = problems(
      `[review]\nmin-age = "a week"\nrequire-pubtim = true\n[[review.exempt]]\nname = "alpha"\nversion = "^1.1"\nchecksum = "sha256:xyz"\nreason = " "\n`,
    );
    expect(p).toEqual([
      expect.stringMatching(/:3: review\.min-age: "a week" is not an age/),
      expect.stringMatching(
        /:4: review\.require-pubtim: unknown key "require-pubtim" \(did you mean "require-pubtime"\?\) \(accepted: one of min-age, require-pubtime, index, audits, exempt\)/,
      ),
      expect.stringMatching(/:7: review\.exempt\[0\]\.version: "\^1\.1" is not an exact version/),
      expect.stringMatching(/:8: review\.exempt\[0\]\.checksum: "sha256:xyz" is not a sha256 checksum/),
      expect.stringMatching(/:9: review\.exempt\[0\]\.reason: is empty/),
    ]);
  });
});

describe("toReviewSettings", () => {
  const settings = (table: Parameters<typeof toReviewSettings>[0], o: ReviewOptions = {}) => toReviewSettings(table, o, CLOCK, where);

  it("defaults: text, the clock, no cool-off, no index", () => {
    expect(settings(undefined)).toEqual({
      base: undefined,
      coolOff: { minAgeMs: null, requirePubtime: false, exemptions: [] },
      now: CLOCK,
      nowFrom: "clock",
      index: undefined,
      format: "text",
      diff: undefined,
    });
  });

  it("the command line wins over the file; relative index paths from where each was written", () => {
    const s = settings({ "min-age": 86_400_000, index: "reg" }, { minAge: "2w", now: "2026-01-01T00:00:00Z", json: true });
    expect(s).toMatchObject({
      coolOff: { minAgeMs: 14 * 86_400_000 },
      now: new Date("2026-01-01T00:00:00Z"),
      nowFrom: "--now",
      index: "/work/ws/reg",
      format: "json",
    });
    expect(settings(undefined, { index: "reg" }).index).toBe("/work/here/reg");
    expect(settings(undefined, { index: "sparse+https://index.crates.io" }).index).toBe("https://index.crates.io/");
  });

  it.each([
    [{ format: "yaml" }, /--format yaml is not a review format/],
    [{ json: true, format: "markdown" }, /--json and --format markdown contradict/],
    [{ now: "2026-01-01" }, /--now: "2026-01-01" is not a time/],
    [{ minAge: "soon" }, /--min-age: "soon" is not an age/],
    [{ index: "ftp://mirror/" }, /only a directory or an http\(s\) URL/],
    [{ diff: " " }, /--diff needs a crate name/],
  ] as [ReviewOptions, RegExp][])("%j is a usage error (exit 2)", (o, message) => {
    let error: unknown;
    try {
      settings(undefined, o);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CrateboxError);
    expect((error as CrateboxError).message).toMatch(message);
    expect((error as CrateboxError).exitCode).toBe(2);
  });
});
