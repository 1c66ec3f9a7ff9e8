/**
 * Reading .crate archives (real ones from GNU tar and cargo, hostile ones by hand) and
 * diffing two unpacked versions with the real GNU diff, in temp directories removed afterwards.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { toAddedFileDiffs } from "../../src/core/review/file-diff.ts";
import { CrateArchiveError, readCrateArchive } from "../../src/runtime/review/tar.ts";
import { diffVersions } from "../../src/runtime/review/tree-diff.ts";
import { makeTarGz } from "../helpers/tar.ts";
import { tempDir } from "../helpers/workspace.ts";

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
const scratch = () => {
  const d = tempDir("cratebox-review-unit-");
  made.push(d);
  return d;
};
const text = (files: Map<string, { data: Uint8Array }>, p: string) => new TextDecoder().decode(files.get(p)!.data);

describe("readCrateArchive", () => {
  it("reads what GNU tar packs, long names (GNU and pax) and the executable bit included", () => {
    const dir = scratch();
    const long = `${"deep/".repeat(30)}file.rs`;
    mkdirSync(path.join(dir, "foo-1.0.0", path.dirname(long)), { recursive: true });
    writeFileSync(path.join(dir, "foo-1.0.0", "Cargo.toml"), '[package]\nname = "foo"\n');
    writeFileSync(path.join(dir, "foo-1.0.0", long), "// long\n");
    writeFileSync(path.join(dir, "foo-1.0.0", "run.sh"), "#!/bin/sh\n", { mode: 0o755 });
    for (const format of ["gnu", "pax"]) {
      const archive = path.join(dir, `foo-${format}.crate`);
      execFileSync("tar", [`--format=${format}`, "-czf", archive, "-C", dir, "foo-1.0.0"]);
      const files = readCrateArchive(readFileSync(archive), "foo-1.0.0");
      expect([...files.keys()].sort()).toEqual(["Cargo.toml", long, "run.sh"]);
      expect(text(files, long)).toBe("// long\n");
      expect(files.get("run.sh")!.executable).toBe(true);
      expect(files.get("Cargo.toml")!.executable).toBe(false);
    }
  });

  it.each([
    ["a symbolic link", [{ name: "foo-1.0.0/evil", type: "2", linkTo: "/etc/passwd" }], /symbolic link, which cargo never packs/],
    ["a hard link", [{ name: "foo-1.0.0/evil", type: "1", linkTo: "foo-1.0.0/Cargo.toml" }], /hard link/],
    ["a path out of the package", [{ name: "foo-1.0.0/../../.bashrc", body: "x" }], /not a plain path inside foo-1\.0\.0\//],
    ["an absolute path", [{ name: "/etc/cron.d/x", body: "x" }], /not a plain path/],
    ["another package's directory", [{ name: "bar-1.0.0/Cargo.toml", body: "x" }], /not a plain path inside foo-1\.0\.0/],
    [
      "a file twice",
      [
        { name: "foo-1.0.0/a", body: "1" },
        { name: "foo-1.0.0/a", body: "2" },
      ],
      /twice/,
    ],
    [
      "a file that is also a directory",
      [
        { name: "foo-1.0.0/a", body: "1" },
        { name: "foo-1.0.0/a/b", body: "2" },
      ],
      /both a file and a directory/,
    ],
    ["a header with a wrong checksum", [{ name: "foo-1.0.0/a", body: "1", badSum: true }], /wrong checksum/],
    ["a device file", [{ name: "foo-1.0.0/dev", type: "3" }], /type "3"/],
  ])("refuses %s", (_what, entries, message) => {
    expect(() => readCrateArchive(makeTarGz(entries), "foo-1.0.0")).toThrow(message);
  });

  it("refuses what is not gzip, and an empty archive", () => {
    expect(() => readCrateArchive(Buffer.from("not gzip"), "foo-1.0.0")).toThrow(CrateArchiveError);
    expect(() => readCrateArchive(makeTarGz([]), "foo-1.0.0")).toThrow(/no files/);
  });
});

describe("diffVersions", () => {
  it("diffs two versions file by file in a private directory, binary and mode-only changes included", async () => {
    const enc = (s: string, executable = false) => ({ data: new TextEncoder().encode(s), executable });
    const before = new Map([
      ["build.rs", enc("fn main() {}\n")],
      ["tool.sh", enc("#!/bin/sh\n")],
      ["blob.bin", enc("a\0b")],
      ["gone.txt", enc("x\n")],
    ]);
    const after = new Map([
      ["build.rs", enc("fn main() { evil(); }\n")],
      ["tool.sh", enc("#!/bin/sh\n", true)],
      ["blob.bin", enc("a\0c")],
      ["new.rs", enc("pub fn f() {}\n")],
    ]);
    const dir = path.join(scratch(), "0");
    const diffs = await diffVersions(dir, before, after);
    expect(diffs.map((d) => [d.path, d.status, d.binary, d.added, d.removed]).sort()).toEqual([
      ["blob.bin", "modified", true, 0, 0],
      ["build.rs", "modified", false, 1, 1],
      ["gone.txt", "removed", false, 0, 1],
      ["new.rs", "added", false, 1, 0],
      ["tool.sh", "modified", false, 0, 0],
    ]);
    expect(diffs.find((d) => d.path === "build.rs")!.patch).toBe("--- a/build.rs\n+++ b/build.rs\n@@ -1 +1 @@\n-fn main() {}\n+fn main() { evil(); }\n");
    // Unpacked only for the owner, nothing executable.
    expect(statSync(path.join(dir, "b", "tool.sh")).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, "b")).mode & 0o777).toBe(0o700);
  });
});

describe("a new package's files, counted without running diff", () => {
  it("give the same counts and patches as GNU diff against an empty tree", async () => {
    const enc = (s: string | Uint8Array) => ({ data: typeof s === "string" ? new TextEncoder().encode(s) : s, executable: false });
    const files = new Map([
      ["build.rs", enc('fn main() {\n    println!("x");\n}\n')],
      ["no-newline.txt", enc("one\ntwo")],
      ["one.txt", enc("single\n")],
      ["empty", enc("")],
      ["blob.bin", enc(Uint8Array.from([1, 0, 2, 10]))],
    ]);
    const byPath = <T extends { path: string }>(l: T[]) => [...l].sort((a, b) => a.path.localeCompare(b.path));
    const real = await diffVersions(path.join(scratch(), "0"), new Map(), files);
    expect(byPath(toAddedFileDiffs(files, true))).toEqual(byPath(real));
    expect(toAddedFileDiffs(files, false).every((d) => d.patch === "")).toBe(true);
  });
});
