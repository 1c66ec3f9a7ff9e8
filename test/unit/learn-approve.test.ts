/** What approve, deny and learn write into cratebox.toml: pinned, merged, validated. Pure. */
import { describe, expect, it } from "vitest";
import { proposeGrants } from "../../src/core/learn.ts";
import { applyTableEdit, toApprovedTable } from "../../src/core/profile/approve.ts";
import { parseProfile } from "../../src/core/profile/parse.ts";
import type { StepOutcome } from "../../src/core/step-outcome.ts";
import type { TraceDenials } from "../../src/core/trace.ts";

const HEX = "d".repeat(64);
const foo = { name: "foo", version: "1.2.3", source: "registry" as const, checksum: HEX };
const FILE = "/work/app/cratebox.toml";

describe("toApprovedTable / applyTableEdit", () => {
  it("pins a new grant to the version, source and checksum cargo resolved", () => {
    const edit = toApprovedTable(foo, "build", undefined, { env: ["FOO_DIR"], connect: ["a.example:443"] }, { comment: "approved", pinSource: true });
    const text = applyTableEdit("version = 1\n", FILE, "build.foo", edit);
    expect(text).toBe(
      `version = 1\n\n# approved\n[build.foo]\nversion = "=1.2.3"\nsource = "registry"\nchecksum = "sha256:${HEX}"\nenv = ["FOO_DIR"]\nnetwork = ["a.example:443"]\n`,
    );
  });

  it("merges with what the table grants, and marks a table that grants nothing reviewed", () => {
    const had = parseProfile('version = 1\n[build.foo]\nenv = ["A"]\nnetwork = ["a.example:443"]\n', FILE);
    if (!had.ok) throw new Error("fixture");
    const current = had.value.profile.build?.foo;
    const edit = toApprovedTable(
      foo,
      "build",
      Array.isArray(current) ? undefined : current,
      { env: ["B"], connect: ["b.example:443"] },
      { comment: "c", pinSource: false },
    );
    expect(edit.set).toMatchObject({ env: ["A", "B"], network: ["a.example:443", "b.example:443"] });
    expect(edit.set.source).toBeUndefined();
    const empty = toApprovedTable(foo, "build", undefined, {}, { comment: "c", pinSource: true });
    expect(empty.set.reviewed).toBe(true);
    const deny = toApprovedTable(foo, "build", undefined, { deny: true }, { comment: "c", pinSource: true });
    expect(deny).toMatchObject({ set: { reviewed: true }, remove: expect.arrayContaining(["env", "network", "directives"]) });
  });

  it("refuses --network with --connect, and an edit that would make the file invalid, writing nothing", () => {
    expect(() => toApprovedTable(foo, "build", undefined, { network: true, connect: ["a:1"] }, { comment: "c", pinSource: true })).toThrow(
      /exclude each other/,
    );
    const bad = toApprovedTable(foo, "build", undefined, { env: ["*"] }, { comment: "c", pinSource: true });
    expect(() => applyTableEdit("version = 1\n", FILE, "build.foo", bad)).toThrow(/would make \/work\/app\/cratebox\.toml invalid; nothing was written/);
  });
});

function failed(denials: Partial<TraceDenials>, over: Partial<StepOutcome> = {}): StepOutcome {
  const d: TraceDenials = { reads: [], writes: [], connects: [], sockets: [], sequence: [], ...denials };
  return {
    phase: "build-script",
    crate: "foo",
    version: "1.2.3",
    program: "build_script_build-aaaaaaaaaaaaaaaa",
    manifestDir: "/reg/foo-1.2.3",
    image: "img",
    containerId: "c",
    backend: "bwrap",
    ok: false,
    cause: "exit",
    exitCode: 1,
    signal: undefined,
    durationMs: 1,
    runMs: 1,
    limits: { memoryBytes: 1, pids: 1, timeoutMs: 1, cpus: undefined, tmpBytes: 1 },
    grant: { table: null, items: [] },
    withheldEnv: [],
    withheldPaths: [],
    blockedDirectives: [],
    askedWithheld: [],
    source: "registry",
    denials: d,
    network: "none",
    egress: [],
    ...over,
  };
}

const learn = (outcomes: StepOutcome[], current?: string) =>
  proposeGrants({
    current,
    file: FILE,
    workspaceRoot: "/work/app",
    outcomes,
    checksumOf: () => HEX,
    isDirectory: (p) => p === "/opt/sdk" || p === "/etc",
  });

describe("proposeGrants (learn)", () => {
  it("proposes the narrowest read for the likeliest cause of a failure: the file, not its directory, passing over optional probes", () => {
    const p = learn([
      failed({
        reads: ["/opt/sdk/a.h", "/etc/gitconfig"],
        sequence: [
          { kind: "read", value: "/opt/sdk/a.h" },
          { kind: "read", value: "/etc/gitconfig" },
        ],
      }),
    ]);
    expect(p.tables).toEqual(["build.foo"]);
    expect(p.text).toContain('read = ["/opt/sdk/a.h"]');
    expect(p.lines[0]).toBe("learn: foo 1.2.3 (build script) failed; proposing read /opt/sdk/a.h; also tried (not proposed): read /etc/gitconfig");
  });

  it("proposes what a compilation said it missed: the variable env! wanted, the file include_str! read", () => {
    const p = learn([
      failed(
        {},
        { phase: "rustc", program: "rustc", withheldEnv: ["DATABASE_URL"], compileMissing: { envMissing: ["DATABASE_URL"], unreadable: ["/opt/schema.sql"] } },
      ),
    ]);
    expect(p.tables).toEqual(["rustc.foo"]);
    expect(p.text).toContain('env = ["DATABASE_URL"]');
    expect(p.text).toContain('read = ["/opt/schema.sql"]');
  });

  it("says that no key grants a Unix socket instead of writing a table that grants nothing", () => {
    const p = learn([failed({ sockets: ["/run/docker.sock"], sequence: [{ kind: "socket", value: "/run/docker.sock" }] })]);
    expect(p.text).toBeUndefined();
    expect(p.tables).toEqual([]);
    expect(p.lines[0]).toMatch(/failed after trying to reach the Unix socket \/run\/docker\.sock; no key of cratebox\.toml grants a host socket/);
  });

  it("proposes blocked directives, refused hosts by name, and withheld variables the script declared", () => {
    const directive = learn([failed({}, { cause: "directive", exitCode: 0, blockedDirectives: [{ directive: "rustc-link-arg=-Tx.ld", reason: "r" }] })]);
    expect(directive.text).toContain('directives = ["rustc-link-arg=-Tx.ld"]');
    const host = learn([
      failed(
        {},
        {
          egress: [
            { method: "CONNECT", target: "a.example:443", decision: "refused", reason: "not listed", grant: 'network = ["a.example:443"]', at: 0 } as never,
          ],
        },
      ),
    ]);
    expect(host.text).toContain('network = ["a.example:443"]');
    const env = learn([failed({}, { askedWithheld: ["FOO_DIR"] })]);
    expect(env.text).toContain('env = ["FOO_DIR"]');
    for (const p of [directive, host, env]) expect(parseProfile(p.text!, FILE).ok).toBe(true);
  });

  it("shows what a step that succeeded tolerated, and proposes nothing for it", () => {
    const p = learn([failed({ reads: ["/etc/gitconfig"], sequence: [{ kind: "read", value: "/etc/gitconfig" }] }, { ok: true, exitCode: 0 })]);
    expect(p.text).toBeUndefined();
    expect(p.lines).toEqual(["learn: foo 1.2.3 (build script) tolerated (not proposed): read /etc/gitconfig"]);
  });

  it("keeps the file's comments and what its tables grant", () => {
    const p = learn(
      [failed({ reads: ["/opt/sdk"], sequence: [{ kind: "read", value: "/opt/sdk" }] })],
      '# ours\nversion = 1\n[build.foo]\nenv = ["A"] # why\n',
    );
    expect(p.text).toContain("# ours");
    expect(p.text).toContain('env = ["A"] # why');
    expect(p.text).toContain('read = ["/opt/sdk"]');
  });
});
