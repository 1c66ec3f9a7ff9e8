/** Which files are build-script and proc-macro code, executables; the diff split and sorted into sections. */
import { describe, expect, it } from "vitest";
import { classifyFiles, type PackageFiles } from "../../src/core/review/classify.ts";
import { parseRecursiveDiff, sectionOf, toSectionStats } from "../../src/core/review/file-diff.ts";
import { toManifestFacts } from "../../src/core/review/manifest.ts";
import { depInfoFiles, executableReason, moduleFiles, referencedFiles } from "../../src/core/review/source-files.ts";

const enc = new TextEncoder();
const filesOf = (entries: Record<string, string | [string, boolean]>): PackageFiles =>
  new Map(Object.entries(entries).map(([p, v]) => [p, { data: enc.encode(Array.isArray(v) ? v[0] : v), executable: Array.isArray(v) ? v[1] : false }]));
const readerOf = (files: PackageFiles) => (p: string) => (files.has(p) ? new TextDecoder().decode(files.get(p)!.data) : undefined);

describe("the files a build script or proc macro is made of", () => {
  it("follows mod (file, dir/mod.rs, #[path]) and include!/include_str!/include_bytes!, comments ignored", () => {
    const files = filesOf({
      "build.rs":
        'mod probe;\n#[path = "gen/codegen.rs"] mod codegen;\n// mod commented;\n/* mod blocked; */\nfn main() { let _ = include_str!("data/table.txt"); }\n',
      "probe/mod.rs": "pub mod inner;\n",
      "probe/inner.rs": 'const X: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/x.bin"));\n',
      "gen/codegen.rs": 'include!("../escape.rs"); include!("../../outside.rs");\n',
      "escape.rs": "",
      "data/table.txt": "mod not_code;",
      "assets/x.bin": "",
      "commented.rs": "",
      "blocked.rs": "",
      "not_code.rs": "",
    });
    expect(moduleFiles("build.rs", readerOf(files)).sort()).toEqual([
      "assets/x.bin",
      "build.rs",
      "data/table.txt",
      "escape.rs",
      "gen/codegen.rs",
      "probe/inner.rs",
      "probe/mod.rs",
    ]);
  });

  it("mod in a non-root file looks in the directory named after it", () => {
    expect(referencedFiles("src/a.rs", "mod b;", false)).toEqual(["src/a/b.rs", "src/a/b/mod.rs"]);
    expect(referencedFiles("src/lib.rs", "pub(crate) mod b;", true)).toEqual(["src/b.rs", "src/b/mod.rs"]);
  });

  it("reads a dep-info file: this package's paths only, escaped spaces kept", () => {
    const d = "/t/debug/build/foo-1/build_script_build-1: /r/foo-1.2.3/build.rs /r/foo-1.2.3/src/my\\ gen.rs /usr/lib/rustlib/x.rs\n\n/r/foo-1.2.3/build.rs:\n";
    expect(depInfoFiles(d, "/foo-1.2.3/")).toEqual(["build.rs", "src/my gen.rs"]);
  });

  it.each([
    ["bin/tool", [0x7f, 0x45, 0x4c, 0x46], false, "ELF binary"],
    ["x.exe", [0x4d, 0x5a], false, "Windows executable (PE)"],
    ["run", [0x23, 0x21, 0x2f], false, "script (#!)"],
    ["lib/libz.a", [0x21, 0x3c, 0x61, 0x72, 0x63, 0x68, 0x3e, 0x0a], false, "static library (ar archive)"],
    ["anything", [0x41], true, "executable bit set"],
    ["ci/setup.py", [0x69], false, ".py file"],
    ["src/lib.rs", [0x70], false, undefined],
  ] as [string, number[], boolean, string | undefined][])("executableReason(%s)", (file, head, bit, why) => {
    expect(executableReason(file, bit, Uint8Array.from(head))).toBe(why);
  });
});

// GNU diff 3.8 `diff -ruN a b`, as the runtime runs it (including a file whose lines look like headers).
const DIFF =
  'diff -ruN a/build.rs b/build.rs\n--- a/build.rs\t2026-12-02 04:30:33.270188572 +0000\n+++ b/build.rs\t2026-12-02 04:30:33.270188572 +0000\n@@ -1,3 +1,4 @@\n fn main() {\n-    println!("a");\n+    println!("b");\n+    helper();\n }\n' +
  "diff -ruN a/old.txt b/old.txt\n--- a/old.txt\t2026-12-02 04:30:33.270188572 +0000\n+++ b/old.txt\t1970-01-01 00:00:00.000000000 +0000\n@@ -1 +0,0 @@\n-gone\n" +
  "Binary files a/src/data.bin and b/src/data.bin differ\n" +
  "diff -ruN a/src/lib.rs b/src/lib.rs\n--- a/src/lib.rs\t2026-12-02 04:30:33.270188572 +0000\n+++ b/src/lib.rs\t2026-12-02 04:30:33.270188572 +0000\n@@ -1 +1 @@\n---- a/trick\tx\n++++ b/trick\ty\n" +
  "Binary files a/tools/blob and b/tools/blob differ\n" +
  "diff -ruN a/tools/run.sh b/tools/run.sh\n--- a/tools/run.sh\t1970-01-01 00:00:00.000000000 +0000\n+++ b/tools/run.sh\t2026-12-02 04:30:33.270188572 +0000\n@@ -0,0 +1,2 @@\n+#!/bin/sh\n+echo hi\n";

describe("parseRecursiveDiff", () => {
  const before = new Set(["build.rs", "old.txt", "src/data.bin", "src/lib.rs", "empty-gone"]);
  const after = new Set(["build.rs", "src/data.bin", "src/lib.rs", "tools/blob", "tools/run.sh", "empty-new"]);
  const diffs = parseRecursiveDiff(DIFF, before, after);

  it("one entry per file with its status and counts; added/removed from the file lists", () => {
    expect(diffs.map((d) => [d.path, d.status, d.binary, d.added, d.removed])).toEqual([
      ["build.rs", "modified", false, 2, 1],
      ["old.txt", "removed", false, 0, 1],
      ["src/data.bin", "modified", true, 0, 0],
      ["src/lib.rs", "modified", false, 1, 1],
      ["tools/blob", "added", true, 0, 0],
      ["tools/run.sh", "added", false, 2, 0],
      ["empty-gone", "removed", false, 0, 0],
      ["empty-new", "added", false, 0, 0],
    ]);
  });

  it("keeps each file's patch, with lines that look like headers inside it", () => {
    expect(diffs[3]!.patch).toBe("--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1 +1 @@\n---- a/trick\tx\n++++ b/trick\ty\n");
    expect(diffs[0]!.patch).toContain("+    helper();\n");
  });

  it("sections: build script first, then proc macro, manifest, executables, the rest", () => {
    const c = {
      buildScript: new Set(["build.rs"]),
      procMacro: new Set(["src/lib.rs"]),
      executables: new Map([
        ["tools/run.sh", "script (#!)"],
        ["tools/blob", "ELF binary"],
      ]),
    };
    expect(sectionOf("Cargo.toml.orig", c)).toBe("manifest");
    const stats = toSectionStats(diffs, c);
    expect(stats.map((s) => [s.section, s.files.map((f) => f.path), s.added, s.removed])).toEqual([
      ["build-script", ["build.rs"], 2, 1],
      ["proc-macro", ["src/lib.rs"], 1, 1],
      ["executables", ["tools/blob", "tools/run.sh"], 2, 0],
      ["other", ["empty-gone", "empty-new", "old.txt", "src/data.bin"], 0, 1],
    ]);
    expect(stats[2]!.files[1]!.note).toBe("script (#!)");
  });
});

describe("classifyFiles", () => {
  const manifest = (toml: string, files: PackageFiles) =>
    toManifestFacts(Object.fromEntries([["package", { name: "p", ...(toml ? { build: toml } : {}) }]]), new Set(files.keys()));

  it("build-script files of both versions, dep-info files, and new or newly executable files only", () => {
    const oldFiles = filesOf({ "build.rs": "mod old_helper;", "old_helper.rs": "", "tool.sh": ["#!/bin/sh", false], "kept.sh": ["#!/bin/sh", true] });
    const newFiles = filesOf({
      "build.rs": "mod helper;",
      "helper.rs": "",
      "tool.sh": ["#!/bin/sh", true],
      "kept.sh": ["#!/bin/sh", true],
      "new.py": "print(1)",
    });
    const c = classifyFiles({ files: oldFiles, manifest: manifest("", oldFiles) }, { files: newFiles, manifest: manifest("", newFiles) }, [
      "generated/table.rs",
    ]);
    expect([...c.buildScript].sort()).toEqual(["build.rs", "generated/table.rs", "helper.rs", "old_helper.rs"]);
    expect([...c.executables]).toEqual([
      ["tool.sh", "script (#!), newly executable"],
      ["new.py", ".py file"],
    ]);
    expect(c.procMacro.size).toBe(0);
  });

  it("a proc macro's module tree", () => {
    const files = filesOf({ "src/lib.rs": "mod expand;", "src/expand.rs": "", "tests/t.rs": "" });
    const m = toManifestFacts({ package: { name: "m" }, lib: { "proc-macro": true } }, new Set(files.keys()));
    expect([...classifyFiles(undefined, { files, manifest: m }, undefined).procMacro].sort()).toEqual(["src/expand.rs", "src/lib.rs"]);
  });
});
