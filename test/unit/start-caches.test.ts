/**
 * The caches a run's start takes from the last run (issue 13): when the crate graph, the
 * validated profiles and the policies' decisions may be taken, and when not. The end-to-end side (real cargo, real files)
 * is test/e2e/start-caches.test.ts.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { CrateGraph, GraphCrate } from "../../src/core/crate-graph.ts";
import {
  type FileStamp,
  GRAPH_CACHE_VERSION,
  type GraphQuestion,
  graphFiles,
  graphFromEntry,
  isCacheable,
  questionFiles,
  relevantEnv,
  toEntry,
} from "../../src/core/graph-cache.ts";
import { fingerprint } from "../../src/core/fingerprint.ts";
import { type PolicyInput, validateDecisions } from "../../src/core/policy/schema.ts";
import { buildId, startCaches } from "../../src/runtime/cache-files.ts";
import { policyCache } from "../../src/runtime/policy-cache.ts";
import { readBuiltinSources, profileCache } from "../../src/runtime/profile-cache.ts";
import { emptyProfile } from "../../src/core/profile/empty.ts";
import { policyCrate } from "../helpers/policy-input.ts";
import { removeTempDirs, tempDir } from "../helpers/workspace.ts";

afterAll(removeTempDirs);

const question: GraphQuestion = {
  program: "cargo",
  args: ["metadata", "--format-version", "1"],
  cwd: "/ws/app",
  env: { HOME: "/home/u", PATH: "/usr/bin", CARGO_REGISTRY_TOKEN: "cio-secret-token-value" },
  members: ["/ws", "/ws/app"],
};
const SECRET = "0123456789abcdef0123456789abcdef";
const crate = (name: string, dir: string): GraphCrate =>
  ({
    id: `${name} 1.0.0`,
    name,
    version: "1.0.0",
    source: "path",
    manifestDir: dir,
    hasBuildScript: false,
    isProcMacro: false,
    features: [],
    isWorkspaceMember: true,
    dependents: [],
    requests: undefined,
  }) as GraphCrate;
const graph: CrateGraph = (() => {
  const crates = [crate("app", "/ws/app"), crate("dep", "/ws/dep")];
  return { workspaceRoot: "/ws", buildDirs: ["/ws/target"], crates, byDir: new Map(crates.map((c) => [c.manifestDir, c])) };
})();
const files = graphFiles("/ws", ["/ws/app/Cargo.toml", "/ws/dep/Cargo.toml"]);
const OLD = 1_000_000_000n * 1_000_000n; // 2001, in ns
const stamp = (mtimeNs = OLD, ino = 7): FileStamp => `1:${ino}:10:${mtimeNs}:${mtimeNs}`;
const NOW = 2_000_000_000_000; // ms, 2033

describe("the crate graph's cache", () => {
  it("takes only cargo's, rustup's and rustc's variables, PATH and HOME into the question", () => {
    expect(
      relevantEnv({ CARGO_HOME: "/c", RUSTUP_TOOLCHAIN: "stable", RUSTFLAGS: "-g", PATH: "/bin", HOME: "/h", TERM: "xterm", SHLVL: "2", AWS_SECRET: "x" }),
    ).toEqual({
      CARGO_HOME: "/c",
      HOME: "/h",
      PATH: "/bin",
      RUSTFLAGS: "-g",
      RUSTUP_TOOLCHAIN: "stable",
    });
  });

  it("is not used when --config or -Z could name files of their own", () => {
    expect(isCacheable(question)).toBe(true);
    expect(isCacheable({ ...question, args: ["--config", "x.toml", ...question.args] })).toBe(false);
    expect(isCacheable({ ...question, args: ["--config=build.jobs=1", ...question.args] })).toBe(false);
    expect(isCacheable({ ...question, args: ["-Zunstable-options", ...question.args] })).toBe(false);
  });

  it("stamps cargo's configuration and rustup's toolchain files up to the root, CARGO_HOME's and RUSTUP_HOME's", () => {
    const f = questionFiles({ ...question, env: { ...question.env, CARGO_HOME: "/c" } }, "/home/u", "/usr/bin/cargo");
    for (const want of [
      "/ws/app/.cargo/config.toml",
      "/ws/app/.cargo/config",
      "/ws/.cargo/config.toml",
      "/.cargo/config.toml",
      "/ws/rust-toolchain.toml",
      "/ws/app/rust-toolchain",
      "/c/config.toml",
      "/c/config",
      "/home/u/.rustup/settings.toml",
      "/home/u/.rustup/toolchains",
      "/home/u/.rustup/update-hashes",
      "/usr/bin/cargo",
    ])
      expect(f).toContain(want);
  });

  it("stamps the lock, the root manifest and each package's manifest, build.rs and src/lib.rs", () => {
    expect(files).toEqual([
      "/ws/Cargo.lock",
      "/ws/Cargo.toml",
      "/ws/app/Cargo.toml",
      "/ws/app/build.rs",
      "/ws/app/src/lib.rs",
      "/ws/dep/Cargo.toml",
      "/ws/dep/build.rs",
      "/ws/dep/src/lib.rs",
    ]);
  });

  const stored = () => JSON.parse(JSON.stringify(toEntry(question, SECRET, graph, files, () => stamp(), NOW))) as unknown;

  it("gives the stored graph back while the question and every stamp are the same", () => {
    const back = graphFromEntry(stored(), question, SECRET, () => stamp());
    expect(back?.crates).toEqual(graph.crates);
    expect(back?.byDir.get("/ws/dep")?.name).toBe("dep");
    expect(back?.workspaceRoot).toBe("/ws");
    expect(back?.buildDirs).toEqual(["/ws/target"]);
  });

  it("misses when one file changed, appeared or went away", () => {
    for (const changed of ["/ws/Cargo.lock", "/ws/dep/build.rs", "/ws/dep/Cargo.toml"]) {
      expect(
        graphFromEntry(stored(), question, SECRET, (f) => (f === changed ? stamp(OLD + 1n) : stamp())),
        changed,
      ).toBeUndefined();
      expect(
        graphFromEntry(stored(), question, SECRET, (f) => (f === changed ? stamp(OLD, 8) : stamp())),
        changed,
      ).toBeUndefined();
      expect(
        graphFromEntry(stored(), question, SECRET, (f) => (f === changed ? null : stamp())),
        changed,
      ).toBeUndefined();
    }
    // A file that was not there and now is (a new .cargo/config.toml).
    const withAbsent = JSON.parse(
      JSON.stringify(toEntry(question, SECRET, graph, [...files, "/ws/.cargo/config.toml"], (f) => (f.includes(".cargo") ? null : stamp()), NOW)),
    );
    expect(graphFromEntry(withAbsent, question, SECRET, (f) => (f.includes(".cargo") ? null : stamp()))).toBeDefined();
    expect(graphFromEntry(withAbsent, question, SECRET, () => stamp())).toBeUndefined();
  });

  it("misses for another question, another user's key, another version or anything that is not an entry", () => {
    expect(graphFromEntry(stored(), { ...question, env: { ...question.env, CARGO_TARGET_DIR: "/t" } }, SECRET, () => stamp())).toBeUndefined();
    expect(graphFromEntry(stored(), { ...question, env: { ...question.env, CARGO_REGISTRY_TOKEN: "another" } }, SECRET, () => stamp())).toBeUndefined();
    expect(graphFromEntry(stored(), { ...question, cwd: "/ws/dep" }, SECRET, () => stamp())).toBeUndefined();
    // A member that a glob now matches, or a workspace root found above: the members differ.
    expect(graphFromEntry(stored(), { ...question, members: [...question.members, "/ws/crates/new"] }, SECRET, () => stamp())).toBeUndefined();
    expect(graphFromEntry(stored(), { ...question, members: ["/", "/ws", "/ws/app"] }, SECRET, () => stamp())).toBeUndefined();
    expect(graphFromEntry(stored(), question, "f".repeat(32), () => stamp())).toBeUndefined();
    expect(graphFromEntry({ ...(stored() as object), version: GRAPH_CACHE_VERSION + 1 }, question, SECRET, () => stamp())).toBeUndefined();
    for (const junk of [undefined, null, 3, "x", {}, { version: GRAPH_CACHE_VERSION, secret: SECRET, question, stamps: {}, graph: { crates: "no" } }])
      expect(graphFromEntry(junk, question, SECRET, () => stamp())).toBeUndefined();
  });

  it("writes no variable's value to disk, only a fingerprint of them all", () => {
    const text = JSON.stringify(stored());
    expect(text).not.toContain("cio-secret-token-value");
    expect(fingerprint("a")).not.toBe(fingerprint("b"));
    expect(fingerprint("")).toMatch(/^[0-9a-f]{16}$/);
  });

  it("stores nothing when a file changed while cargo read it, or just before", () => {
    const nowNs = BigInt(NOW) * 1_000_000n;
    expect(toEntry(question, SECRET, graph, files, (f) => (f === "/ws/dep/Cargo.toml" ? stamp(nowNs + 5n) : stamp()), NOW)).toBeUndefined();
    expect(toEntry(question, SECRET, graph, files, (f) => (f === "/ws/Cargo.lock" ? stamp(nowNs - 500_000_000n) : stamp()), NOW)).toBeUndefined();
    expect(toEntry(question, SECRET, graph, files, (f) => (f === "/ws/Cargo.lock" ? stamp(nowNs - 3_000_000_000n) : stamp()), NOW)).toBeDefined();
    // The change time counts too (a modification time set back by hand).
    expect(toEntry(question, SECRET, graph, files, (f) => (f === "/ws/Cargo.lock" ? `1:7:10:${OLD}:${nowNs}` : stamp()), NOW)).toBeUndefined();
  });
});

describe("the validated profiles' cache", () => {
  const dir = tempDir();
  const target = { targetDir: path.join(dir, "target"), secret: SECRET, userKey: SECRET };
  let build = "build-one";
  const builtins = readBuiltinSources();
  const file = path.join(dir, "cratebox.toml");
  const sources = { profile: { parsed: emptyProfile(file), exists: true, warnings: ["from the first validation"] }, builtins: new Map() };

  it("gives back what was stored for the very same texts and build", () => {
    expect(profileCache(target, file, "version = 1\n", builtins, build)?.cached).toBeUndefined();
    profileCache(target, file, "version = 1\n", builtins, build)?.store(sources);
    expect(profileCache(target, file, "version = 1\n", builtins, build)?.cached?.profile.warnings).toEqual(["from the first validation"]);
  });

  it("misses when cratebox.toml, a built-in profile, cratebox's build or the user's key differs", () => {
    expect(profileCache({ ...target, secret: "f".repeat(32) }, file, "version = 1\n", builtins, build)?.cached).toBeUndefined();
    expect(profileCache(target, file, "version = 1\n ", builtins, build)?.cached).toBeUndefined();
    expect(profileCache(target, path.join(dir, "other", "cratebox.toml"), "version = 1\n", builtins, build)?.cached).toBeUndefined();
    const edited = builtins.map((b, i) => (i === 0 ? { ...b, text: `${b.text}\n# edited` } : b));
    expect(profileCache(target, file, "version = 1\n", edited, build)?.cached).toBeUndefined();
    build = "build-two";
    expect(profileCache(target, file, "version = 1\n", builtins, build)?.cached).toBeUndefined();
    build = "build-one";
    expect(profileCache(target, file, "version = 1\n", builtins, build)?.cached).toBeDefined();
  });

  it("is not there at all when cratebox runs from its sources (no build id)", () => {
    expect(buildId(path.join(dir, "no-build-id"))).toBeUndefined();
    writeFileSync(path.join(dir, "build-id"), "abc\n");
    expect(buildId(path.join(dir, "build-id"))).toBe("abc");
    expect(profileCache(target, file, "version = 1\n", builtins, "")).toBeUndefined();
  });

  it("treats an unreadable cache file as a miss", () => {
    const t2 = { targetDir: path.join(dir, "target2"), secret: SECRET, userKey: SECRET };
    mkdirSync(path.join(t2.targetDir, "cratebox"), { recursive: true });
    writeFileSync(path.join(t2.targetDir, "cratebox", "profiles.json"), "{not json");
    expect(profileCache(t2, file, "version = 1\n", builtins, build)?.cached).toBeUndefined();
  });
});

describe("the policies' decisions cache", () => {
  const target = { targetDir: path.join(tempDir(), "target"), secret: SECRET, userKey: SECRET };
  const policies = [{ file: "/org/policy.js", source: "function policy() { return []; }" }];
  const input: PolicyInput = { run: { command: ["build"], ci: false }, crates: [policyCrate()] };
  // Real decisions, as validateDecisions gives them (what the cache stores and gives back).
  const valid = validateDecisions([
    { crate: "foo", phase: "build", action: "cap", caps: { network: false, env: ["OPENSSL_*"] }, rule: "r1", message: "m" },
    { crate: "*", phase: "*", action: "require", require: ["checksum-pin"] },
    { crate: "bar", version: "1.2.3", phase: "test", action: "deny" },
  ]);
  if (!valid.ok) throw new Error(JSON.stringify(valid.issues));
  const decisions = [{ file: "/org/policy.js", decisions: valid.value }];

  it("gives back the decisions, unchanged, for the same policies, input and build", () => {
    expect(policyCache(target, policies, input, "b1")?.cached).toBeUndefined();
    policyCache(target, policies, input, "b1")?.store(decisions);
    expect(policyCache(target, policies, input, "b1")?.cached).toStrictEqual(decisions);
  });

  it("misses for another policy text or path, another input, another build", () => {
    expect(policyCache(target, [{ ...policies[0]!, source: `${policies[0]!.source} ` }], input, "b1")?.cached).toBeUndefined();
    expect(policyCache(target, [{ ...policies[0]!, file: "/org/other.js" }], input, "b1")?.cached).toBeUndefined();
    expect(policyCache(target, [...policies, ...policies], input, "b1")?.cached).toBeUndefined();
    expect(policyCache(target, policies, { ...input, run: { command: ["build"], ci: true } }, "b1")?.cached).toBeUndefined();
    expect(policyCache(target, policies, { ...input, crates: [policyCrate({ version: "1.0.1" })] }, "b1")?.cached).toBeUndefined();
    expect(policyCache(target, policies, input, "b2")?.cached).toBeUndefined();
    expect(policyCache({ ...target, secret: "f".repeat(32) }, policies, input, "b1")?.cached).toBeUndefined();
    expect(policyCache(target, policies, input, "")).toBeUndefined();
  });
});

describe("where the caches live and under which key", () => {
  it("none in CI, none without a target directory; a key of the user's own, made once, 0600", () => {
    const cacheHome = path.join(tempDir(), "cache");
    const env = { XDG_CACHE_HOME: cacheHome };
    expect(startCaches("/t", { ...env, CI: "true" })).toBeUndefined();
    expect(startCaches(undefined, env)).toBeUndefined();
    const first = startCaches("/t", env);
    expect(first?.userKey).toMatch(/^[0-9a-f]{32}$/);
    expect(readFileSync(path.join(cacheHome, "cratebox", "cache-key"), "utf8").trim()).toBe(first?.userKey);
    expect(statSync(path.join(cacheHome, "cratebox", "cache-key")).mode & 0o777).toBe(0o600);
    // The caches in a target directory hold a fingerprint of the key, never the key.
    expect(first?.secret).toMatch(/^[0-9a-f]{16}$/);
    expect(first?.userKey).not.toContain(first?.secret);
    expect(startCaches("/other", env)).toEqual({ targetDir: "/other", secret: first?.secret, userKey: first?.userKey });
    // Another user (another home) has another key.
    expect(startCaches("/t", { XDG_CACHE_HOME: path.join(tempDir(), "cache") })?.secret).not.toBe(first?.secret);
  });

  it("finds no build id when this code is not the bundle", () => {
    expect(buildId()).toBeUndefined(); // these tests run src/runtime/cache-files.ts
  });
});
