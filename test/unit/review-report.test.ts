/** From gathered facts to the report: flags, risk order, verdict, policy refusals, and every output format. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { assembleReview, withPolicyRefusals, type PackageFacts, type SideFacts } from "../../src/core/review/assemble.ts";
import type { PackageChange } from "../../src/core/review/lock-diff.ts";
import { CRATES_IO, type LockPackage } from "../../src/core/review/lockfile.ts";
import type { ManifestFacts } from "../../src/core/review/manifest.ts";
import { toReviewPolicyInput, toReviewRefusals } from "../../src/core/review/policy-view.ts";
import { toDiffText } from "../../src/core/review/render-diff.ts";
import { toReviewAnnotations } from "../../src/core/review/render-github.ts";
import { escapeMarkdown, toReviewMarkdown } from "../../src/core/review/render-markdown.ts";
import { toReviewText } from "../../src/core/review/render-text.ts";
import { reviewReportSchema, toReviewJsonSchema } from "../../src/core/review/report.ts";
import { toRank } from "../../src/core/review/risk.ts";
import { grantView } from "../helpers/policy-input.ts";

const DAY = 86_400_000;
const NOW = new Date("2026-03-10T00:00:00Z");
let line = 0;
const nextLine = () => {
  line += 6;
  return line;
};

function pkg(name: string, version: string, over: Partial<LockPackage> = {}): LockPackage {
  return {
    name,
    version,
    source: CRATES_IO,
    checksum: name.length.toString(16).repeat(64).slice(0, 64),
    checksumPlaceholder: null,
    dependencies: [],
    line: nextLine(),
    ...over,
  };
}
function manifest(over: Partial<ManifestFacts> = {}): ManifestFacts {
  return { buildScript: null, procMacro: false, libPath: "src/lib.rs", links: null, deps: [], ...over };
}
const verified = (m: ManifestFacts | null = manifest()): SideFacts => ({
  sources: "verified",
  detail: "/reg/x.crate, its SHA-256 is Cargo.lock's checksum",
  manifest: m,
});
const section = (s: "build-script" | "proc-macro" | "other", file: string, added = 1) => ({
  section: s,
  added,
  removed: 0,
  files: [{ path: file, status: "modified" as const, binary: false, added, removed: 0, note: null }],
});

function facts(change: PackageChange, over: Partial<PackageFacts> = {}): PackageFacts {
  return {
    change,
    old: change.old ? verified() : null,
    new: change.new ? verified() : null,
    pubtime: "2025-01-01T00:00:00Z",
    indexChecksum: null,
    buildOnly: change.new ? false : null,
    diff: { available: true, reason: null, buildScriptFiles: "none", sections: [section("other", "src/lib.rs")] },
    grant: null,
    ...over,
  };
}
const added = (name: string, v: string, over: Partial<PackageFacts> = {}) =>
  facts({ name, kind: "added", old: null, new: pkg(name, v), sourceChanged: false }, over);
const updated = (name: string, a: string, b: string, over: Partial<PackageFacts> = {}, change: Partial<PackageChange> = {}) =>
  facts({ name, kind: "updated", old: pkg(name, a), new: pkg(name, b), sourceChanged: false, ...change }, over);

const PACKAGES: PackageFacts[] = [
  facts({ name: "gone", kind: "removed", old: pkg("gone", "1.0.0"), new: null, sourceChanged: false }),
  updated("plain", "1.0.0", "1.0.1"),
  added("fresh-lib", "0.3.0"),
  updated("sysx", "0.1.0", "0.2.0", {
    old: verified(manifest({ buildScript: "build.rs" })),
    new: verified(manifest({ buildScript: "build.rs", links: "sysx" })),
    diff: { available: true, reason: null, buildScriptFiles: "parsed", sections: [section("build-script", "build.rs", 12)] },
    grant: "build.sysx",
  }),
  added("derive-x", "1.0.0", { new: verified(manifest({ procMacro: true })), pubtime: "2026-03-09T00:00:00Z" }),
  updated("gainer", "2.0.0", "2.1.0", { new: verified(manifest({ buildScript: "build.rs" })), buildOnly: true }),
  facts({
    name: "tampered",
    kind: "checksum-changed",
    old: pkg("tampered", "1.0.0", { checksum: "a".repeat(64) }),
    new: pkg("tampered", "1.0.0", { checksum: "b".repeat(64) }),
    sourceChanged: false,
  }),
  updated(
    "forked",
    "1.0.0",
    "1.0.0",
    {
      new: { sources: "unavailable", detail: "a git package: cratebox review does not fetch git sources", manifest: null },
      diff: { available: false, reason: "the new version's sources are unavailable", buildScriptFiles: "none", sections: [] },
      pubtime: null,
    },
    { new: pkg("forked", "1.0.0", { source: "git+https://example.org/forked.git#abc", checksum: null }), sourceChanged: true },
  ),
  added("debian-dir", "0.9.0", {
    new: { sources: "unverified", detail: "directory source /usr/share/cargo/registry/debian-dir-0.9.0", manifest: manifest() },
    pubtime: null,
  }),
];

const report = () =>
  assembleReview({
    workspace: "/ws",
    lockfile: "Cargo.lock",
    base: { ref: "origin/main", commit: "0123456789abcdef0123", how: "--base" },
    now: NOW,
    nowFrom: "--now",
    coolOff: {
      minAgeMs: 7 * DAY,
      requirePubtime: false,
      exemptions: [{ name: "old-pal", version: "1.0.0", checksum: `sha256:${"f".repeat(64)}`, reason: "left over" }],
    },
    unchanged: 3,
    packages: PACKAGES,
    grants: [
      {
        kind: "goes-stale",
        table: "build.sysx",
        crate: "sysx",
        before: ["0.1.0"],
        after: ["0.2.0"],
        message: "[build.sysx] is pinned to version =0.1.0, but the lockfile now has sysx 0.2.0",
      },
    ],
    policies: [],
    notes: ["a note"],
  });

describe("assembleReview", () => {
  const r = report();

  it("orders the riskiest first: changed bytes, new build scripts, new proc macros, changed build-script code, source changes, links, then the rest", () => {
    expect(r.packages.map((p) => [p.name, p.rank, p.flags])).toEqual([
      ["tampered", 0, ["checksum-changed"]],
      ["gainer", 1, ["new-build-script", "build-only"]],
      ["derive-x", 2, ["new-proc-macro"]],
      ["sysx", 3, ["build-script-changed", "links"]],
      ["forked", 4, ["source-changed", "sources-unavailable"]],
      ["debian-dir", 6, ["unverified"]],
      ["fresh-lib", 6, []],
      ["plain", 7, []],
      ["gone", 8, []],
    ]);
  });

  it("fails on a changed checksum and a release younger than min-age, and says when it is allowed", () => {
    expect(r.ok).toBe(false);
    expect(r.failures.map((f) => [f.name, f.kind])).toEqual([
      ["tampered", "checksum-changed"],
      ["derive-x", "too-young"],
    ]);
    expect(r.failures[0]!.message).toContain(`checksum changed from sha256:${"a".repeat(64)} to sha256:${"b".repeat(64)} for the same version and source`);
    expect(r.failures[1]!.message).toContain("allowed from 2026-03-16T00:00:00.000Z");
    expect(r.packages.find((p) => p.name === "debian-dir")!.coolOff).toMatchObject({ status: "unknown", fails: false });
    expect(r.packages.find((p) => p.name === "forked")!.coolOff).toMatchObject({ status: "not-applicable" });
  });

  it("records counts, the time used, the manifest change and unused exemptions; valid against its schema", () => {
    expect(r.counts).toEqual({ added: 3, removed: 1, updated: 4, checksumChanged: 1, unchanged: 3 });
    expect(r).toMatchObject({ now: "2026-03-10T00:00:00.000Z", nowFrom: "--now", minAgeMs: 7 * DAY });
    expect(r.packages.find((p) => p.name === "sysx")!.manifestChange).toMatchObject({ links: { from: null, to: "sysx" }, build: null });
    expect(r.unusedExemptions.map((e) => e.name)).toEqual(["old-pal"]);
    expect(reviewReportSchema.parse(JSON.parse(JSON.stringify(r)))).toEqual(r);
  });

  it("a verdict that passes: nothing failing", () => {
    const ok = assembleReview({ ...reportInputs(), packages: [updated("plain", "1.0.0", "1.0.1")] });
    expect(ok).toMatchObject({ ok: true, failures: [] });
  });

  it("a source that does not match fails as refused, and an index that disagrees with the lockfile fails", () => {
    const refused = updated("evil", "1.0.0", "1.0.1", {
      new: {
        sources: "refused",
        detail: "/reg/evil-1.0.1.crate: its SHA-256 is 00, but Cargo.lock's checksum is 11; refused, nothing of it was unpacked",
        manifest: null,
      },
      indexChecksum: "9".repeat(64),
    });
    const bad = assembleReview({ ...reportInputs(), packages: [refused] });
    expect(bad.packages[0]!.flags).toEqual(["index-checksum-mismatch", "sources-refused"]);
    expect(bad.failures.map((f) => f.kind)).toEqual(["index-checksum-mismatch", "sources-refused"]);
    expect(bad.packages[0]!.rank).toBe(0);
  });

  it("rank follows the riskiest flag", () => {
    expect(toRank("added", [])).toBe(6);
    expect(toRank("removed", [])).toBe(8);
    expect(toRank("updated", ["build-only", "new-proc-macro"])).toBe(2);
  });
});

function reportInputs() {
  return {
    workspace: "/ws",
    lockfile: "Cargo.lock",
    base: { ref: "HEAD", commit: "c0ffee", how: "HEAD" },
    now: NOW,
    nowFrom: "clock" as const,
    coolOff: { minAgeMs: null, requirePubtime: false, exemptions: [] },
    unchanged: 0,
    packages: [],
    grants: [],
    policies: [],
    notes: [],
  };
}

describe("policies see the review; a deny fails it", () => {
  const r = report();
  const input = toReviewPolicyInput(r, (name) => grantView(name === "sysx" ? { table: "build.sysx", reviewed: true } : {}), true);

  it("shows new and changed packages (not removed ones) with flags, ages, checksums and grants", () => {
    expect(input.crates).toEqual([]);
    expect(input.review!.crates.map((c) => c.name)).toEqual(["tampered", "gainer", "derive-x", "sysx", "forked", "debian-dir", "fresh-lib", "plain"]);
    expect(input.review!.crates.find((c) => c.name === "gainer")).toMatchObject({
      newBuildScript: true,
      hasBuildScript: true,
      buildOnly: true,
      previousVersion: "2.0.0",
    });
    expect(input.review!.crates.find((c) => c.name === "derive-x")).toMatchObject({ newProcMacro: true, ageMs: DAY, publishedAt: "2026-03-09T00:00:00.000Z" });
    expect(input.review!.crates.find((c) => c.name === "tampered")).toMatchObject({ checksumChanged: true, previousChecksum: `sha256:${"a".repeat(64)}` });
    expect(input.review!.crates.find((c) => c.name === "forked")).toMatchObject({
      hasBuildScript: null,
      sources: "unavailable",
      source: "git",
      sourceChanged: true,
    });
    expect(input.review!.crates.find((c) => c.name === "sysx")!.grant).toMatchObject({ table: "build.sysx", reviewed: true });
  });

  it("only deny decisions that name a reviewed package (phase build or *) fail the review, with the policy's message", () => {
    const decisions = [
      {
        file: "org.js",
        decisions: [
          { crate: "gainer", phase: "build" as const, action: "deny" as const, rule: "review-build-scripts", message: "new build script: review it" },
          { crate: "plain", version: "9.9.9", phase: "*" as const, action: "deny" as const, message: "another version" },
          { crate: "plain", phase: "test" as const, action: "deny" as const, message: "tests only" },
          { crate: "*", phase: "*" as const, action: "cap" as const, caps: { network: false as const } },
          { crate: "gone", phase: "*" as const, action: "deny" as const, message: "removed" },
        ],
      },
    ];
    const refusals = toReviewRefusals(input, decisions);
    expect(refusals).toEqual([
      { name: "gainer", version: "2.1.0", message: "gainer 2.1.0: denied by org.js (rule review-build-scripts): new build script: review it" },
    ]);
    const judged = withPolicyRefusals(r, refusals);
    expect(judged.failures.map((f) => [f.name, f.kind])).toEqual([
      ["tampered", "checksum-changed"],
      ["gainer", "policy"],
      ["derive-x", "too-young"],
    ]);
  });
});

describe("formats", () => {
  const r = report();

  it("text: header with base and time, problems first, then each change with its details", () => {
    const text = toReviewText(r);
    expect(text).toContain("base: origin/main (0123456789ab; --base)");
    expect(text).toContain("time: 2026-03-10T00:00:00.000Z (from --now); min-age 7d; require-pubtime off");
    expect(text.indexOf("FAILED (2):")).toBeLessThan(text.indexOf("changes, riskiest first:"));
    expect(text).toMatch(/^! tampered 1\.0\.0 {2}registry .* {2}CHECKSUM CHANGED {2}FAILS$/m);
    expect(text).toMatch(/^~ sysx 0\.1\.0 -> 0\.2\.0 .*build script changed, links native library$/m);
    expect(text).toContain("    build script: +12 -0 in 1 file: build.rs (+12 -0)");
    expect(text).toContain('    manifest: links: "sysx" (was none)');
    expect(text).toContain("    grant: [build.sysx]");
    expect(text).toMatch(
      /^~ forked 1\.0\.0 {2}source changed: registry\+https:\/\/github\.com\/rust-lang\/crates\.io-index -> git\+https:\/\/example\.org\/forked\.git#abc/m,
    );
    expect(text).toContain("goes-stale: [build.sysx] is pinned");
    expect(text).toContain("old-pal 1.0.0 (left over)");
    expect(text.trimEnd().split("\n").at(-1)).toBe("cratebox review: FAILED: 2 problems");
  });

  it("markdown: verdict, problems, a table riskiest first, details folded", () => {
    const md = toReviewMarkdown(r);
    expect(md.split("\n")[0]).toBe("### cratebox review: **failed**");
    expect(md).toContain("| ! | tampered | 1.0.0 | CHECKSUM CHANGED | verified |  |");
    expect(md).toContain("| + | derive-x | 1.0.0 (new) | NEW PROC MACRO | verified | 2026-03-09 (too young) |");
    expect(md.indexOf("tampered |")).toBeLessThan(md.indexOf("| plain |"));
    expect(md).toContain("<details><summary>");
    expect(escapeMarkdown("a|b <script> `x`\nnext")).toBe("a\\|b \\<script\\> \\`x\\` next");
  });

  it("github: an error per problem on Cargo.lock's line, a warning per risky package, one notice", () => {
    const lines = toReviewAnnotations(r).trimEnd().split("\n");
    const tampered = r.packages[0]!.new!.line;
    expect(lines[0]).toBe(`::error file=Cargo.lock,line=${tampered},title=cratebox review%3A tampered 1.0.0::${r.failures[0]!.message}`);
    expect(lines.filter((l) => l.startsWith("::error")).length).toBe(2);
    expect(lines.filter((l) => l.startsWith("::warning")).map((l) => /title=cratebox review%3A (.+?)::/.exec(l)?.[1])).toEqual([
      "gainer 2.0.0 -> 2.1.0",
      "sysx 0.1.0 -> 0.2.0",
      "forked 1.0.0",
      "[build.sysx]",
    ]);
    expect(lines.at(-1)).toMatch(/^::notice file=Cargo\.lock,title=cratebox review::FAILED: 2 problems; 3 added/);
  });

  it("--diff: sections in reading order, the manifest change summed up first", () => {
    const p = r.packages.find((x) => x.name === "sysx")!;
    const files = [
      { path: "src/lib.rs", status: "modified" as const, binary: false, added: 1, removed: 0, patch: "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1 +1 @@\n+x\n" },
      {
        path: "Cargo.toml",
        status: "modified" as const,
        binary: false,
        added: 1,
        removed: 0,
        patch: '--- a/Cargo.toml\n+++ b/Cargo.toml\n@@ -1 +1 @@\n+links = "sysx"\n',
      },
      {
        path: "build.rs",
        status: "modified" as const,
        binary: false,
        added: 12,
        removed: 0,
        patch: "--- a/build.rs\n+++ b/build.rs\n@@ -1 +1 @@\n+fn main() {}\n",
      },
      {
        path: "tools/x.sh",
        status: "added" as const,
        binary: false,
        added: 1,
        removed: 0,
        patch: "--- a/tools/x.sh\n+++ b/tools/x.sh\n@@ -0,0 +1 @@\n+#!/bin/sh\n",
      },
    ];
    const text = toDiffText(p, files, { buildScript: new Set(["build.rs"]), procMacro: new Set(), executables: new Map([["tools/x.sh", "script (#!)"]]) });
    const order = [
      "==== build script",
      "==== manifest",
      'links: "sysx" (was none)',
      "+++ b/Cargo.toml",
      "==== new executables and scripts",
      "tools/x.sh: added, script (#!)",
      "==== the rest",
      "+++ b/src/lib.rs",
    ].map((s) => text.indexOf(s));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(text).toContain("found by following mod and include! in its source (no dep-info: an approximation)");
  });
});

describe("docs/review.schema.json", () => {
  it("is the one generated from the zod schema (node scripts/gen-review-schema.ts)", () => {
    const committed = JSON.parse(readFileSync(path.resolve(import.meta.dirname, "../../docs/review.schema.json"), "utf8"));
    expect(committed).toEqual(JSON.parse(JSON.stringify(toReviewJsonSchema())));
  });
});
