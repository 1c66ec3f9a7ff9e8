import { describe, expect, it } from "vitest";
import { CrateboxError } from "../../src/core/errors.ts";
import { diffLockfiles } from "../../src/core/review/lock-diff.ts";
import { CRATES_IO, parseLockfile, sourceIdentity, sourceKindOf } from "../../src/core/review/lockfile.ts";

const REG = CRATES_IO;
const sum = (c: string) => c.repeat(64);

function lock(...packages: { name: string; version: string; source?: string; checksum?: string; deps?: string[] }[]): string {
  return (
    "version = 4\n\n" +
    packages
      .map((p) =>
        [
          "[[package]]",
          `name = "${p.name}"`,
          `version = "${p.version}"`,
          ...(p.source ? [`source = "${p.source}"`] : []),
          ...(p.checksum ? [`checksum = "${p.checksum}"`] : []),
          ...(p.deps ? [`dependencies = [${p.deps.map((d) => `"${d}"`).join(", ")}]`] : []),
        ].join("\n"),
      )
      .join("\n\n") +
    "\n"
  );
}

describe("parseLockfile", () => {
  it("resolves the three spellings of a dependency and records each package's line", () => {
    const l = parseLockfile(
      lock(
        { name: "app", version: "0.1.0", deps: ["serde", "syn 2.0.1", `syn 1.0.0 (${REG})`] },
        { name: "serde", version: "1.0.0", source: REG, checksum: sum("a") },
        { name: "syn", version: "1.0.0", source: REG, checksum: sum("b") },
        { name: "syn", version: "2.0.1", source: REG, checksum: sum("c") },
      ),
      "Cargo.lock",
    );
    const app = l.packages[0]!;
    expect(app.dependencies).toEqual([`serde 1.0.0 ${REG}`, `syn 2.0.1 ${REG}`, `syn 1.0.0 ${REG}`]);
    expect(app.source).toBeNull();
    expect(app.line).toBe(3);
    expect(l.packages[1]).toMatchObject({ checksum: "a".repeat(64), checksumPlaceholder: null, line: 8 });
  });

  it("keeps a directory source's placeholder apart from real checksums", () => {
    const l = parseLockfile(lock({ name: "bzip2-sys", version: "0.1.11+1.0.8", source: REG, checksum: "Could not get crate checksum" }), "Cargo.lock");
    expect(l.packages[0]).toMatchObject({ checksum: null, checksumPlaceholder: "Could not get crate checksum" });
  });

  it("reads format 1 checksums from [metadata]", () => {
    const text = `[[package]]\nname = "a"\nversion = "1.0.0"\nsource = "${REG}"\n\n[metadata]\n"checksum a 1.0.0 (${REG})" = "${sum("d")}"\n`;
    expect(parseLockfile(text, "Cargo.lock").packages[0]!.checksum).toBe(sum("d"));
  });

  it.each([
    ["TOML that does not parse", "[[package]\n"],
    ["a package without a version", '[[package]]\nname = "a"\n'],
    ["a dependency the lockfile does not have", lock({ name: "a", version: "1.0.0", deps: ["ghost"] })],
    [
      "an ambiguous dependency",
      lock({ name: "a", version: "1.0.0", deps: ["b"] }, { name: "b", version: "1.0.0", source: REG }, { name: "b", version: "2.0.0", source: REG }),
    ],
  ])("refuses %s as a configuration error (exit 2)", (_what, text) => {
    let error: unknown;
    try {
      parseLockfile(text, "Cargo.lock");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CrateboxError);
    expect((error as CrateboxError).code).toBe("REVIEW_LOCKFILE");
    expect((error as CrateboxError).exitCode).toBe(2);
  });
});

describe("sources", () => {
  it("tells kinds apart and ignores a git revision in the identity", () => {
    expect(sourceKindOf(null)).toBe("path");
    expect(sourceKindOf("git+https://example.org/x.git?branch=main#abc")).toBe("git");
    expect(sourceKindOf("sparse+https://example.org/index/")).toBe("registry");
    expect(sourceIdentity("git+https://example.org/x.git?rev=1#abc")).toBe(sourceIdentity("git+https://example.org/x.git?rev=2#def"));
    expect(sourceIdentity("sparse+https://index.crates.io/")).toBe(REG);
    expect(sourceIdentity("sparse+https://other.example/")).not.toBe(REG);
  });
});

describe("diffLockfiles", () => {
  const before = parseLockfile(
    lock(
      { name: "app", version: "0.1.0", deps: ["kept", "bumped", "gone", "moved", "tampered"] },
      { name: "kept", version: "1.0.0", source: REG, checksum: sum("1") },
      { name: "bumped", version: "1.0.0", source: REG, checksum: sum("2") },
      { name: "gone", version: "1.0.0", source: REG, checksum: sum("3") },
      { name: "moved", version: "1.0.0", source: REG, checksum: sum("4") },
      { name: "tampered", version: "1.0.0", source: REG, checksum: sum("5") },
    ),
    "old",
  );
  const after = parseLockfile(
    lock(
      { name: "app", version: "0.1.0", deps: ["kept", "bumped", "moved", "tampered", "fresh"] },
      { name: "kept", version: "1.0.0", source: REG, checksum: sum("1") },
      { name: "bumped", version: "1.1.0", source: REG, checksum: sum("6") },
      { name: "moved", version: "1.0.0", source: "git+https://example.org/moved.git#abc" },
      { name: "tampered", version: "1.0.0", source: REG, checksum: sum("7") },
      { name: "fresh", version: "0.1.0", source: REG, checksum: sum("8") },
    ),
    "new",
  );

  it("finds added, removed, updated, source changes and changed checksums", () => {
    const { changes, unchanged } = diffLockfiles(before, after);
    const seen = changes.map((c) => [c.name, c.kind, c.old?.version ?? null, c.new?.version ?? null, c.sourceChanged]);
    expect(seen).toEqual(
      expect.arrayContaining([
        ["bumped", "updated", "1.0.0", "1.1.0", false],
        ["moved", "updated", "1.0.0", "1.0.0", true],
        ["tampered", "checksum-changed", "1.0.0", "1.0.0", false],
        ["gone", "removed", "1.0.0", null, false],
        ["fresh", "added", null, "0.1.0", false],
      ]),
    );
    expect(changes).toHaveLength(5);
    expect(unchanged.map((p) => p.name).sort()).toEqual(["app", "kept"]);
  });

  it("pairs several versions of one name within the same source, oldest with oldest", () => {
    const a = parseLockfile(lock({ name: "syn", version: "1.0.0", source: REG }, { name: "syn", version: "2.0.0", source: REG }), "a");
    const b = parseLockfile(
      lock({ name: "syn", version: "1.0.5", source: REG }, { name: "syn", version: "2.0.3", source: REG }, { name: "syn", version: "3.0.0", source: REG }),
      "b",
    );
    const changes = diffLockfiles(a, b).changes.map((c) => `${c.kind} ${c.old?.version ?? "-"} ${c.new?.version ?? "-"}`);
    expect(changes).toEqual(["updated 1.0.0 1.0.5", "updated 2.0.0 2.0.3", "added - 3.0.0"]);
  });

  it("a placeholder on either side is no checksum change", () => {
    const a = parseLockfile(lock({ name: "x", version: "1.0.0", source: REG, checksum: "Could not get crate checksum" }), "a");
    const b = parseLockfile(lock({ name: "x", version: "1.0.0", source: REG, checksum: sum("9") }), "b");
    expect(diffLockfiles(a, b).changes).toEqual([]);
  });
});
