/** Manifests, build-only packages and cratebox.toml tables across a lockfile change. */
import { parse } from "smol-toml";
import { describe, expect, it } from "vitest";
import { parseProfile, type ParsedProfile } from "../../src/core/profile/parse.ts";
import { toBuildOnly } from "../../src/core/review/build-only.ts";
import { toGrantTransitions } from "../../src/core/review/grant-transitions.ts";
import { CRATES_IO, packageKey, parseLockfile, type Lockfile } from "../../src/core/review/lockfile.ts";
import { diffManifests, toIndexDeps, toManifestFacts, type DepKind } from "../../src/core/review/manifest.ts";

const facts = (toml: string, files: string[] = []) => toManifestFacts(parse(toml), new Set(files));

describe("toManifestFacts", () => {
  it("a normalised manifest: explicit build script, proc macro, links, every kind of dependency", () => {
    const f = facts(`
[package]
name = "m"
version = "1.0.0"
build = "./build/main.rs"
links = "m"
[lib]
proc-macro = true
path = "src/m.rs"
[dependencies]
syn = "2"
[dependencies.quote2]
package = "quote"
version = "1"
[build-dependencies]
cc = "1"
[dev-dependencies]
trybuild = "1"
[target.'cfg(windows)'.dependencies]
winapi = "0.3"
`);
    expect(f).toEqual({
      buildScript: "build/main.rs",
      procMacro: true,
      libPath: "src/m.rs",
      links: "m",
      deps: [
        { package: "syn", kind: "normal" },
        { package: "quote", kind: "normal" },
        { package: "cc", kind: "build" },
        { package: "trybuild", kind: "dev" },
        { package: "winapi", kind: "normal" },
      ],
    });
  });

  it("an old manifest: build.rs found by presence, unless build = false", () => {
    expect(facts('[package]\nname = "o"\n', ["build.rs", "src/lib.rs"])).toMatchObject({
      buildScript: "build.rs",
      libPath: "src/lib.rs",
      procMacro: false,
      links: null,
    });
    expect(facts('[package]\nname = "o"\nbuild = false\n', ["build.rs"]).buildScript).toBeNull();
    expect(facts('[package]\nname = "o"\n[lib]\nproc_macro = true\n').procMacro).toBe(true);
  });

  it("index deps: kind and the real package name of a renamed dependency", () => {
    expect(toIndexDeps([{ name: "cc", kind: "build" }, { name: "q", package: "quote" }, { name: "t", kind: "dev" }, "junk"])).toEqual([
      { package: "cc", kind: "build" },
      { package: "quote", kind: "normal" },
      { package: "t", kind: "dev" },
    ]);
  });

  it("diffManifests: new dependencies by kind, a build script, links and proc-macro appearing", () => {
    const before = facts('[package]\nname = "x"\n[dependencies]\nlibc = "0.2"\nold = "1"\n');
    const after = facts('[package]\nname = "x"\nbuild = "build.rs"\nlinks = "x"\n[dependencies]\nlibc = "0.2"\n[build-dependencies]\ncc = "1"\n');
    expect(diffManifests(before, after)).toEqual({
      addedDependencies: [{ package: "cc", kind: "build" }],
      removedDependencies: [{ package: "old", kind: "normal" }],
      links: { from: null, to: "x" },
      build: { from: null, to: "build.rs" },
      procMacro: null,
    });
    expect(diffManifests(after, after)).toEqual({ addedDependencies: [], removedDependencies: [], links: null, build: null, procMacro: null });
  });
});

function lockOf(packages: { name: string; version?: string; path?: boolean; deps?: string[] }[]): Lockfile {
  return parseLockfile(
    packages
      .map((p) =>
        [
          "[[package]]",
          `name = "${p.name}"`,
          `version = "${p.version ?? "1.0.0"}"`,
          ...(p.path ? [] : [`source = "${CRATES_IO}"`, `checksum = "${"e".repeat(64)}"`]),
          ...(p.deps ? [`dependencies = [${p.deps.map((d) => `"${d}"`).join(", ")}]`] : []),
        ].join("\n"),
      )
      .join("\n\n"),
    "Cargo.lock",
  );
}

describe("toBuildOnly", () => {
  // app -> serde (normal), app -> cc (build), cc -> jobserver (normal), app -> both (build and normal),
  // app -> tester (dev), tester -> helper (normal), serde -> derive-gen (build)
  const lock = lockOf([
    { name: "app", path: true, deps: ["serde", "cc", "both", "tester"] },
    { name: "serde", deps: ["derive-gen"] },
    { name: "cc", deps: ["jobserver"] },
    { name: "jobserver" },
    { name: "both" },
    { name: "tester", deps: ["helper"] },
    { name: "helper" },
    { name: "derive-gen" },
  ]);
  const kinds: Record<string, Record<string, DepKind[]>> = {
    app: { serde: ["normal"], cc: ["build"], both: ["build", "normal"], tester: ["dev"] },
    serde: { "derive-gen": ["build"] },
    cc: { jobserver: ["normal"] },
    tester: { helper: ["normal"] },
  };
  const app = lock.packages[0]!;
  const names = (keys: Set<string>) =>
    lock.packages
      .filter((p) => keys.has(packageKey(p)))
      .map((p) => p.name)
      .sort();

  it("what is reached only through a build edge, and what that pulls in", () => {
    expect(names(toBuildOnly(lock, [app], (from, to) => kinds[from.name]?.[to.name]))).toEqual(["cc", "derive-gen", "jobserver"]);
  });

  it("an edge of unknown kind counts as normal: nothing is called build-only on a guess", () => {
    expect(names(toBuildOnly(lock, [app], (from, to) => (from.name === "app" ? kinds.app![to.name] : undefined)))).toEqual(["cc", "jobserver"]);
    expect(names(toBuildOnly(lock, [app], () => undefined))).toEqual([]);
  });
});

describe("toGrantTransitions", () => {
  const profile = (text: string): ParsedProfile => {
    const r = parseProfile(`version = 1\n${text}`, "cratebox.toml");
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    return r.value;
  };
  const oldLock = lockOf([{ name: "app", path: true, deps: ["sysx", "gone"] }, { name: "sysx", version: "1.0.0" }, { name: "gone" }]);
  const newLock = lockOf([{ name: "app", path: true, deps: ["sysx", "fresh"] }, { name: "sysx", version: "1.1.0" }, { name: "fresh" }]);
  const toml = `[build.sysx]\nversion = "=1.0.0"\nenv = ["SYSX_DIR"]\n[build.gone]\nreviewed = true\n[build.fresh]\nenv = ["FRESH"]\n`;

  it("a pinned table goes stale, a table starts to match a new crate, a table of a removed crate matches nothing", () => {
    const t = toGrantTransitions({ profile: profile(toml), lock: oldLock }, { profile: profile(toml), lock: newLock });
    expect(t.map((x) => [x.kind, x.table, x.before, x.after])).toEqual([
      ["starts-to-match", "build.fresh", [], ["1.0.0"]],
      ["matches-nothing", "build.gone", ["1.0.0"], []],
      ["goes-stale", "build.sysx", ["1.0.0"], ["1.1.0"]],
    ]);
    expect(t[2]!.message).toContain("[build.sysx] is pinned to version =1.0.0, but the lockfile now has sysx 1.1.0");
  });

  it("a change that re-pins the table shows it matching the new version, not going stale", () => {
    const repinned = toml.replace('"=1.0.0"', '"=1.1.0"');
    const t = toGrantTransitions({ profile: profile(toml), lock: oldLock }, { profile: profile(repinned), lock: newLock });
    expect(t.filter((x) => x.crate === "sysx").map((x) => [x.kind, x.before, x.after])).toEqual([["starts-to-match", ["1.0.0"], ["1.1.0"]]]);
  });

  it("nothing changes, nothing is said", () => {
    expect(toGrantTransitions({ profile: profile(toml), lock: oldLock }, { profile: profile(toml), lock: oldLock })).toEqual([]);
  });
});
