/** Content pins (issue 15): dep-info, the digest, selection, the check after compilation, records, approve. Pure. */
import { describe, expect, it } from "vitest";
import { type RawMetadata, toCrateGraph } from "../../src/core/crate-graph.ts";
import { preflightProblems } from "../../src/core/grant-decision.ts";
import { checkContentPin, contentPinsOf, observeFromDepInfo, observeFromRecord, type PinContext, type PinnedCrate } from "../../src/core/pins/check.ts";
import { ABSENT, contentDigest, describeContentChange, diffContent, sha256Hex, toContentRecord } from "../../src/core/pins/content.ts";
import { parseDepInfo, toPinnedPath } from "../../src/core/pins/dep-info.ts";
import { parsePinRecords, type StoredRecord, toPinRecordsText } from "../../src/core/pins/records.ts";
import { applyTableEdit, toApprovedTable } from "../../src/core/profile/approve.ts";
import { formatProfileIssue, parseProfile } from "../../src/core/profile/parse.ts";
import { describePinMismatch } from "../../src/core/profile/resolve.ts";
import { selectEntry } from "../../src/core/profile/select.ts";
import { grantContext } from "../helpers/grants.ts";

const CC = { name: "cc", version: "1.0.83", source: "registry+https://github.com/rust-lang/crates.io-index", checksum: "a".repeat(64) };
const enc = (s: string) => new TextEncoder().encode(s);

/** A package on an in-memory disk: files by absolute path. */
function disk(files: Record<string, string>) {
  return (p: string) => (Object.hasOwn(files, p) ? enc(files[p]!) : undefined);
}

function crate(dir: string, over: Partial<PinnedCrate> = {}): PinnedCrate {
  return { name: "foo", version: "1.0.0", source: "path", manifestDir: dir, linked: { "build-script": [CC], "proc-macro": [] }, ...over };
}

function context(toml: string, records: StoredRecord[] = []): PinContext {
  const r = parseProfile(toml, "/ws/cratebox.toml");
  if (!r.ok) throw new Error(r.issues.map(formatProfileIssue).join("\n"));
  return { parsed: r.value, workspaceRoot: "/ws", records: new Map(records.map((x) => [contentDigest(x), x])) };
}

const BUILD_RS = 'mod helper;\nfn main() { helper::run(); let _ = include_str!("plan.txt"); }\n';
const HELPER = "pub fn run() {}\n";

describe("dep-info", () => {
  it("lists every file rustc read, relative (workspace members) or absolute, spaces unescaped, comments skipped", () => {
    const text = [
      "/t/debug/build/foo-0123456789abcdef/build_script_build-0123456789abcdef.d: build.rs helper.rs my\\ data/plan.txt /reg/cc-1.0/src/lib.rs",
      "",
      "/t/debug/build/foo-0123456789abcdef/build_script_build-0123456789abcdef: build.rs helper.rs my\\ data/plan.txt /reg/cc-1.0/src/lib.rs",
      "",
      "build.rs:",
      "helper.rs:",
      "# env-dep:CARGO_MANIFEST_DIR=/ws",
      "",
    ].join("\n");
    expect(parseDepInfo(text)).toEqual(["build.rs", "helper.rs", "my data/plan.txt", "/reg/cc-1.0/src/lib.rs"]);
  });

  it("names files from the package root; generated ones as $OUT_DIR; a neighbour's with ..", () => {
    const roots = { packageRoot: "/ws/crates/foo", workspaceRoot: "/ws" };
    expect(toPinnedPath("/ws/crates/foo/src/gen.rs", roots)).toBe("src/gen.rs");
    expect(toPinnedPath("/ws/target/debug/build/foo-0123456789abcdef/out/table.rs", roots)).toBe("$OUT_DIR/table.rs");
    expect(toPinnedPath("/ws/crates/shared/common.rs", roots)).toBe("../shared/common.rs");
  });
});

describe("the digest", () => {
  const files = { "/a/ws/build.rs": BUILD_RS, "/a/ws/helper.rs": HELPER, "/a/ws/plan.txt": "plan\n" };

  it("is the same on another machine, in another target directory, for another version, whatever the order", () => {
    const here = observeFromDepInfo(
      crate("/a/ws"),
      "build-script",
      { file: "/a/ws/target/x.d", text: "x.d: build.rs helper.rs plan.txt\n" },
      ctxAt("/a/ws"),
      disk(files),
    );
    const moved = Object.fromEntries(Object.entries(files).map(([p, t]) => [p.replace("/a/ws", "/home/ci/checkout"), t]));
    const there = observeFromDepInfo(
      crate("/home/ci/checkout", { version: "1.0.1" }),
      "build-script",
      { file: "/tmp/tgt/x.d", text: "x.d: /home/ci/checkout/plan.txt /home/ci/checkout/build.rs /home/ci/checkout/helper.rs\n" },
      ctxAt("/elsewhere"),
      disk(moved),
    );
    expect(there.digest).toBe(here.digest);
    expect(here.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(here.record.files.map((f) => f.path)).toEqual(["build.rs", "helper.rs", "plan.txt"]);
  });

  it("changes with a file include! pulls in, with a build dependency, and with the kind", () => {
    const base = toContentRecord(
      "build-script",
      [
        { path: "build.rs", sha256: sha256Hex(BUILD_RS) },
        { path: "plan.txt", sha256: sha256Hex("plan\n") },
      ],
      [CC],
    );
    const included = toContentRecord("build-script", [base.files[0]!, { path: "plan.txt", sha256: sha256Hex("other plan\n") }], [CC]);
    const newerCc = toContentRecord("build-script", base.files, [{ ...CC, version: "1.0.90" }]);
    const asMacro = toContentRecord("proc-macro", base.files, [CC]);
    const digests = new Set([base, included, newerCc, asMacro].map(contentDigest));
    expect(digests.size).toBe(4);
    expect(describeContentChange(diffContent(base, included), "build-script")).toEqual(["changed: plan.txt"]);
    expect(describeContentChange(diffContent(base, newerCc), "build-script")).toEqual([
      `build dependency no longer linked: cc 1.0.83 (${CC.source}, checksum aaaaaaaaaaaa)`,
      `build dependency linked now: cc 1.0.90 (${CC.source}, checksum aaaaaaaaaaaa)`,
    ]);
  });

  it("from a record before any build: the reviewed files hashed now; a missing one never matches", () => {
    const seen = observeFromDepInfo(
      crate("/p"),
      "build-script",
      { file: "x.d", text: "x.d: /p/build.rs /p/helper.rs\n" },
      ctxAt("/ws"),
      disk({ "/p/build.rs": BUILD_RS, "/p/helper.rs": HELPER }),
    );
    const again = observeFromRecord(crate("/p"), seen.record, seen.digest, ctxAt("/ws"), disk({ "/p/build.rs": BUILD_RS, "/p/helper.rs": HELPER }));
    expect(again.digest).toBe(seen.digest);
    const gone = observeFromRecord(crate("/p"), seen.record, seen.digest, ctxAt("/ws"), disk({ "/p/build.rs": BUILD_RS }));
    expect(gone.record.files.find((f) => f.path === "helper.rs")?.sha256).toBe(ABSENT);
    expect(gone.digest).not.toBe(seen.digest);
  });
});

function ctxAt(workspaceRoot: string): PinContext {
  return { ...context("version = 1\n"), workspaceRoot };
}

describe("cratebox.toml keys", () => {
  const pin = `sha256:${"b".repeat(64)}`;

  it("build-script and proc-macro in [build.*], for any source, normalised", () => {
    const r = parseProfile(
      `version = 1\n[build.local]\nsource = "path"\nbuild-script = "${"B".repeat(64)}"\nproc-macro = "${pin}"\nreviewed = true\n`,
      "c.toml",
    );
    if (!r.ok) throw new Error(r.issues.map(formatProfileIssue).join("\n"));
    expect(r.value.profile.build?.local).toMatchObject({ "build-script": pin, "proc-macro": pin, source: "path" });
  });

  it("refuses them in [test.*], a value that is no digest, and a table that pins but does not say it was reviewed", () => {
    const r = parseProfile(
      `version = 1\n[test.app]\nbuild-script = "${pin}"\nreviewed = true\n[build.x]\nproc-macro = "md5:1"\nreviewed = true\n[build.y]\nbuild-script = "${pin}"\n`,
      "c.toml",
    );
    if (r.ok) throw new Error("parsed");
    expect(r.issues.map(formatProfileIssue)).toEqual([
      expect.stringMatching(/c\.toml:3: test\.app\.build-script: a build-script pin belongs in \[build\.<crate>\]/),
      expect.stringMatching(
        /c\.toml:6: build\.x\.proc-macro: "md5:1" is not a sha256 checksum \(accepted: "sha256:" and 64 hex digits, as `cratebox approve` writes it\)/,
      ),
      expect.stringMatching(/c\.toml:8: build\.y: this entry grants nothing and is not marked reviewed/),
    ]);
  });
});

describe("selection with the code observed", () => {
  const toml = (digest: string) => `version = 1\n[build.foo]\nsource = "path"\nversion = "=1.0.0"\nbuild-script = "${digest}"\nenv = ["FOO_DIR"]\n`;
  const reviewed = `sha256:${"1".repeat(64)}`;

  it("a table whose content pin is not the code now does not apply: the run stops, saying what the code is", () => {
    const ctx = context(toml(reviewed));
    const now = `sha256:${"2".repeat(64)}`;
    const s = selectEntry(ctx.parsed, { name: "foo", version: "1.0.0", source: "path", content: { "build-script": now } }, "build");
    if (s.kind !== "pin-mismatch") throw new Error(s.kind);
    expect(s.stale[0]).toMatchObject({ failed: ["build-script"], content: { "build-script": reviewed } });
    const message = describePinMismatch({
      crate: { name: "foo", version: "1.0.0", source: "path", content: { "build-script": now } },
      phase: "build",
      stale: s.stale,
    });
    expect(message).toBe(
      `grant for the build script of foo does not apply: [build.foo] (/ws/cratebox.toml:2) was reviewed for version =1.0.0 and build-script ${reviewed}, but cargo resolved foo 1.0.0, whose build script is now ${now}. Review the change, then re-approve with: cratebox approve foo`,
    );
  });

  it("the same code selects; code not observed yet is left to the check after compilation", () => {
    const ctx = context(toml(reviewed));
    expect(selectEntry(ctx.parsed, { name: "foo", version: "1.0.0", source: "path", content: { "build-script": reviewed } }, "build").kind).toBe("selected");
    expect(selectEntry(ctx.parsed, { name: "foo", version: "1.0.0", source: "path" }, "build").kind).toBe("selected");
  });

  it("a new version with a content pin: the message offers --carry", () => {
    const ctx = context(toml(reviewed));
    const s = selectEntry(ctx.parsed, { name: "foo", version: "1.0.1", source: "path" }, "build");
    if (s.kind !== "pin-mismatch") throw new Error(s.kind);
    expect(describePinMismatch({ crate: { name: "foo", version: "1.0.1", source: "path" }, phase: "build", stale: s.stale })).toMatch(
      /re-approve with: cratebox approve foo \(or, if its pinned code is unchanged: cratebox approve foo --carry\)$/,
    );
  });

  it("preflight stops on a stale proc-macro pin of a crate without a build script; an unpinned proc macro says nothing", () => {
    const macro = {
      id: "m",
      name: "derive-it",
      version: "0.2.0",
      source: "registry" as const,
      manifestDir: "/reg/derive-it-0.2.0",
      hasBuildScript: false,
      isProcMacro: true,
      features: [],
      isWorkspaceMember: false,
      dependents: ["app"],
      requests: undefined,
    };
    const paths = { workspaceRoot: "/ws", home: undefined, buildRoots: [], realpath: (p: string) => p };
    const pinned = grantContext(`version = 1\n[build.derive-it]\nversion = "=0.1.0"\nproc-macro = "${reviewed}"\nreviewed = true\n`);
    expect(preflightProblems(pinned, [macro], false, paths)).toEqual([expect.stringMatching(/^grant for the build script of derive-it does not apply/)]);
    const unpinned = grantContext('version = 1\n[build.derive-it]\nversion = "=0.1.0"\nreviewed = true\n');
    expect(preflightProblems(unpinned, [macro], false, paths)).toEqual([]);
  });
});

describe("checkContentPin: right after rustc compiled the build script or proc macro", () => {
  const files = { "/p/build.rs": BUILD_RS, "/p/helper.rs": HELPER, "/p/plan.txt": "plan\n", "/t/bs.d": "bs.d: /p/build.rs /p/helper.rs /p/plan.txt\n" };
  const reviewed = observeFromDepInfo(crate("/p"), "build-script", { file: "/t/bs.d", text: files["/t/bs.d"] }, ctxAt("/ws"), disk(files));
  const record: StoredRecord = { ...reviewed.record, crate: "foo", version: "1.0.0" };
  const toml = `version = 1\n[build.foo]\nsource = "path"\nbuild-script = "${reviewed.digest}"\nreviewed = true\n`;

  it("the reviewed code passes", () => {
    expect(checkContentPin(context(toml, [record]), crate("/p"), "build-script", "/t/bs.d", disk(files))).toEqual({
      ok: true,
      digest: reviewed.digest,
      pinned: true,
    });
  });

  it("other code is refused, naming what changed since the review from the pin's record", () => {
    const changed = {
      ...files,
      "/p/helper.rs": "pub fn run() { steal(); }\n",
      "/p/extra.rs": "",
      "/t/bs.d": "bs.d: /p/build.rs /p/helper.rs /p/plan.txt /p/extra.rs\n",
    };
    const r = checkContentPin(context(toml, [record]), crate("/p"), "build-script", "/t/bs.d", disk(changed));
    if (r.ok) throw new Error("passed");
    expect(r.pinned).toEqual([reviewed.digest]);
    expect(r.message).toMatch(/^grant for the build script of foo does not apply: .* whose build script is now sha256:[0-9a-f]{64}\./);
    expect(r.message).toContain(
      `pinned: ${reviewed.digest}; since the review of foo 1.0.0:\n      changed: helper.rs\n      added: extra.rs (rustc reads it now)`,
    );
    // Without the record the digests still decide; the message lists the files now.
    const bare = checkContentPin(context(toml), crate("/p"), "build-script", "/t/bs.d", disk(changed));
    expect(!bare.ok && bare.message).toContain("no record of what the pin covered (cratebox.pins.json): files now: build.rs, extra.rs, helper.rs, plan.txt");
  });

  it("a crate no table content-pins passes with its digest; a missing dep-info is an error, never a pass", () => {
    expect(checkContentPin(context("version = 1\n"), crate("/p"), "build-script", "/t/bs.d", disk(files))).toMatchObject({ ok: true, pinned: false });
    expect(() => checkContentPin(context(toml), crate("/p"), "build-script", "/t/none.d", disk(files))).toThrow(
      /the dep-info of foo's build script is missing/,
    );
  });

  it("contentPinsOf: the pins of tables for this crate's source only", () => {
    const ctx = context(`${toml}[[build.bar]]\nversion = "1"\nbuild-script = "${reviewed.digest}"\nreviewed = true\n`);
    expect(contentPinsOf(ctx.parsed, crate("/p"), "build-script")).toEqual([reviewed.digest]);
    expect(contentPinsOf(ctx.parsed, crate("/p", { name: "bar" }), "build-script")).toEqual([]);
    expect(contentPinsOf(ctx.parsed, crate("/p", { name: "bar", source: "registry" }), "build-script")).toEqual([reviewed.digest]);
  });
});

describe("cratebox.pins.json", () => {
  const record: StoredRecord = {
    ...toContentRecord("build-script", [{ path: "build.rs", sha256: sha256Hex(BUILD_RS) }], [CC]),
    crate: "foo",
    version: "1.0.0",
  };
  const digest = contentDigest(record);

  it("keeps a record only when it hashes to its key; writes only the records cratebox.toml still pins", () => {
    const text = toPinRecordsText({ records: new Map(), problems: [] }, [record], new Set([digest]));
    const read = parsePinRecords(text, "cratebox.pins.json");
    expect([...read.records.keys()]).toEqual([digest]);
    expect(read.problems).toEqual([]);
    const edited = text.replace(sha256Hex(BUILD_RS), sha256Hex("fn main() {}\n"));
    const tampered = parsePinRecords(edited, "cratebox.pins.json");
    expect(tampered.records.size).toBe(0);
    expect(tampered.problems).toEqual([`cratebox.pins.json: the record under ${digest} (foo 1.0.0) does not hash to it; ignored`]);
    expect(JSON.parse(toPinRecordsText(read, [], new Set())).pins).toEqual({});
    expect(parsePinRecords("{", "f").problems[0]).toMatch(/^f is not JSON/);
  });
});

describe("approve writes content pins", () => {
  const pin = `sha256:${"c".repeat(64)}`;

  it("sets a digest, removes one that cannot stay, and keeps the file valid", () => {
    const identity = { name: "foo", version: "1.1.0", source: "path" as const };
    const text = `version = 1\n[build.foo]\nsource = "path"\nversion = "=1.0.0"\nbuild-script = "${`sha256:${"d".repeat(64)}`}"\nenv = ["FOO_DIR"]\n`;
    const set = applyTableEdit(
      text,
      "c.toml",
      "build.foo",
      toApprovedTable(identity, "build", undefined, { contentPins: { "build-script": pin } }, { comment: "x", pinSource: true }),
    );
    expect(set).toContain(`build-script = "${pin}"`);
    expect(set).toContain('version = "=1.1.0"');
    const removed = applyTableEdit(
      text,
      "c.toml",
      "build.foo",
      toApprovedTable(identity, "build", undefined, { contentPins: { "build-script": null } }, { comment: "x", pinSource: true }),
    );
    expect(removed).not.toContain("build-script");
    const denied = toApprovedTable(identity, "build", undefined, { deny: true, contentPins: { "proc-macro": pin } }, { comment: "x", pinSource: true });
    expect(denied.set).toMatchObject({ reviewed: true, "proc-macro": pin });
  });
});

describe("the crate graph: what is linked into build-time code", () => {
  const reg = "registry+https://github.com/rust-lang/crates.io-index";
  const pkg = (name: string, kinds: string[][] = [["lib"]]) => ({
    id: `${name}-id`,
    name,
    version: "1.0.0",
    source: name === "app" ? null : reg,
    manifest_path: `/r/${name}/Cargo.toml`,
    targets: kinds.map((kind) => ({ kind, name })),
    metadata: null,
  });
  const meta: RawMetadata = {
    workspace_root: "/w",
    target_directory: "/w/target",
    workspace_members: ["app-id"],
    packages: [
      pkg("app", [["bin"], ["custom-build"]]),
      pkg("cc"),
      pkg("shlex"),
      pkg("my-derive", [["proc-macro"]]),
      pkg("syn"),
      pkg("serde"),
      pkg("cc-build-dep"),
    ],
    resolve: {
      nodes: [
        {
          id: "app-id",
          deps: [
            { pkg: "cc-id", dep_kinds: [{ kind: "build" }] },
            { pkg: "my-derive-id", dep_kinds: [{ kind: null }] },
            { pkg: "serde-id", dep_kinds: [{ kind: null }, { kind: "dev" }] },
          ],
        },
        {
          id: "cc-id",
          deps: [
            { pkg: "shlex-id", dep_kinds: [{ kind: null }] },
            { pkg: "cc-build-dep-id", dep_kinds: [{ kind: "build" }] },
          ],
        },
        { id: "my-derive-id", deps: [{ pkg: "syn-id", dep_kinds: [{ kind: null }] }] },
      ],
    },
  };

  it("a build script links its build dependencies and theirs, not their build dependencies; a proc macro its dependencies", () => {
    const g = toCrateGraph(meta, new Map([[`cc 1.0.0 ${reg}`, "e".repeat(64)]]), (p) => p);
    const app = g.crates.find((c) => c.name === "app")!;
    expect(app.linked?.["build-script"].map((d) => d.name)).toEqual(["cc", "shlex"]);
    expect(app.linked?.["build-script"][0]).toEqual({ name: "cc", version: "1.0.0", source: reg, checksum: "e".repeat(64) });
    const derive = g.crates.find((c) => c.name === "my-derive")!;
    expect(derive).toMatchObject({ libName: "my_derive", isProcMacro: true, sourceId: reg });
    expect(derive.linked?.["proc-macro"].map((d) => d.name)).toEqual(["syn"]);
    expect(g.buildDirs).toEqual(["/w/target"]);
  });
});
