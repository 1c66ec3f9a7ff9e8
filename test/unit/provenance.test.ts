/** Provenance (issue 15): a published package against its repository at the commit it names. Pure. */
import { describe, expect, it } from "vitest";
import { compareWithRepository, gitBlobId, parseVcsInfo, type VcsInfo } from "../../src/core/provenance/compare.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const SHA = "53160f9cd7239675fb95fb6ffeecf7390d43eddd";

describe("parseVcsInfo", () => {
  it("reads the commit, dirty and the package's directory in the repository", () => {
    expect(parseVcsInfo(JSON.stringify({ git: { sha1: SHA, dirty: true }, path_in_vcs: "crates/foo" }))).toEqual({
      ok: true,
      value: { sha1: SHA, dirty: true, pathInVcs: "crates/foo" },
    });
    expect(parseVcsInfo(JSON.stringify({ git: { sha1: SHA } }))).toEqual({ ok: true, value: { sha1: SHA, dirty: false, pathInVcs: "" } });
  });

  it("refuses what names no commit or leaves the repository", () => {
    expect(parseVcsInfo("{")).toEqual({ ok: false, reason: ".cargo_vcs_info.json is not JSON" });
    expect(parseVcsInfo(JSON.stringify({ git: { sha1: "HEAD" } }))).toMatchObject({ ok: false, reason: expect.stringMatching(/names no git commit/) });
    expect(parseVcsInfo(JSON.stringify({ git: { sha1: SHA }, path_in_vcs: "../x" }))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/leaves the repository/),
    });
  });
});

describe("gitBlobId", () => {
  it("is git hash-object's id", () => {
    // `printf "hello\n" | git hash-object --stdin`, in a SHA-1 and in a SHA-256 repository
    expect(gitBlobId(enc("hello\n"), "sha1")).toBe("ce013625030ba8dba906f756967f9e9ca394464a");
    expect(gitBlobId(enc("hello\n"), "sha256")).toBe("2cf8d83d9ee29543b34a87727421fdecb7e3f3a183d337639025de576db9ebb4");
  });
});

describe("compareWithRepository", () => {
  const files: Record<string, string> = {
    "build.rs": 'fn main() { include!("gen.rs"); }\n',
    "gen.rs": "// generated\n",
    "src/lib.rs": "pub fn f() {}\n",
    "README.md": "# foo\n",
    "Cargo.toml.orig": '[package]\nname = "foo"\nreadme = "../../README.md"\n',
    "Cargo.toml": "# normalised by cargo\n",
    "Cargo.lock": "# resolved by cargo package\n",
    ".cargo_vcs_info.json": "{}",
  };
  const published = new Map(Object.entries(files).map(([p, t]) => [p, enc(t)]));
  const vcs = (over: Partial<VcsInfo> = {}): VcsInfo => ({ sha1: SHA, dirty: false, pathInVcs: "crates/foo", ...over });
  const tree = (over: Record<string, string | undefined> = {}) => {
    const repo: Record<string, string | undefined> = {
      "crates/foo/build.rs": files["build.rs"],
      "crates/foo/gen.rs": files["gen.rs"],
      "crates/foo/src/lib.rs": files["src/lib.rs"],
      "crates/foo/Cargo.toml": files["Cargo.toml.orig"],
      "README.md": files["README.md"],
      ...over,
    };
    return new Map(Object.entries(repo).flatMap(([p, t]) => (t === undefined ? [] : [[p, gitBlobId(enc(t), "sha1")] as const])));
  };
  const input = (t: Map<string, string>, v = vcs()) => ({
    published,
    vcs: v,
    tree: t,
    format: "sha1" as const,
    buildScript: new Set(["build.rs", "gen.rs"]),
    procMacro: new Set<string>(),
    relocated: new Map([["README.md", "../../README.md"]]),
  });

  it("matches: every published file is the commit's; the manifest against Cargo.toml.orig, the readme where it really is", () => {
    const c = compareWithRepository(input(tree()));
    expect(c.verdict).toBe("matches");
    expect(c.files.map((f) => [f.path, f.status, f.role, f.repoPath])).toEqual([
      ["build.rs", "same", "build-script", "crates/foo/build.rs"],
      ["gen.rs", "same", "build-script", "crates/foo/gen.rs"],
      [".cargo_vcs_info.json", "generated", "other", null],
      ["Cargo.lock", "generated", "other", null],
      ["Cargo.toml", "generated", "other", null],
      ["Cargo.toml.orig", "same", "other", "crates/foo/Cargo.toml"],
      ["README.md", "same", "other", "README.md"],
      ["src/lib.rs", "same", "other", "crates/foo/src/lib.rs"],
    ]);
    expect(c.notes).toEqual([]);
  });

  it("differs: an included file that is not the commit's comes first, with the build script; a file the commit lacks too", () => {
    const c = compareWithRepository(input(tree({ "crates/foo/gen.rs": "// what the reviewer saw\n", "crates/foo/src/lib.rs": undefined })));
    expect(c.verdict).toBe("differs");
    expect(c.files.filter((f) => f.status !== "same" && f.status !== "generated").map((f) => [f.path, f.status, f.role])).toEqual([
      ["gen.rs", "differs", "build-script"],
      ["src/lib.rs", "not-in-repository", "other"],
    ]);
  });

  it("dirty: said either way; files that are the commit's still match", () => {
    expect(compareWithRepository(input(tree(), vcs({ dirty: true })))).toMatchObject({
      verdict: "matches",
      notes: [expect.stringMatching(/says it was made from a working tree with uncommitted changes .* but every published file is the commit's/)],
    });
    expect(compareWithRepository(input(tree({ "crates/foo/build.rs": "fn main() {}\n" }), vcs({ dirty: true })))).toMatchObject({
      verdict: "differs",
      notes: [expect.stringMatching(/the commit is not what was published/)],
    });
  });
});
