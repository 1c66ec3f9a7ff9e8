import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../src/core/limits.ts";
import { parseBuiltinProfiles, type BuiltinProfiles } from "../../src/core/profile/builtins.ts";
import { formatProfileIssue, parseProfile, type ParsedProfile } from "../../src/core/profile/parse.ts";
import {
  describeOrigin,
  describePinMismatch,
  resolveGrant,
  strictViolations,
  type CrateIdentity,
  type EffectiveGrant,
  type GrantResolution,
} from "../../src/core/profile/resolve.ts";
import { BUILTIN_PROFILE_NAMES } from "../../src/core/profile/schema.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const HEX_A = "a".repeat(64);
const HEX_B = "b".repeat(64);

function loadBuiltins(): BuiltinProfiles {
  const r = parseBuiltinProfiles(
    BUILTIN_PROFILE_NAMES.map((name) => ({ name, file: `profiles/${name}.toml`, text: readFileSync(path.join(ROOT, "profiles", `${name}.toml`), "utf8") })),
  );
  if (!r.ok) throw new Error(r.issues.map(formatProfileIssue).join("\n"));
  return r.value;
}
const builtins = loadBuiltins();

function profile(text: string): ParsedProfile {
  const r = parseProfile(text, "cratebox.toml");
  if (!r.ok) throw new Error(r.issues.map(formatProfileIssue).join("\n"));
  return r.value;
}

function granted(r: GrantResolution): EffectiveGrant {
  if (r.kind !== "granted") throw new Error(`expected a grant, got ${r.kind}`);
  return r.grant;
}

const openssl: CrateIdentity = { name: "openssl-sys", version: "0.9.103", source: "registry", checksum: HEX_A };

describe("resolveGrant: no table", () => {
  it("is default deny with cratebox's defaults, every value marked as such", () => {
    const g = granted(resolveGrant(profile("version = 1\n"), builtins, openssl, "build"));
    expect(g.entry).toBeUndefined();
    expect(g).toMatchObject({ env: [], read: [], write: [], use: [], image: undefined });
    expect(g.network).toEqual({ value: false, origin: { kind: "built-in-default" } });
    expect(g.runtime).toEqual({ value: "runc", origin: { kind: "built-in-default" } });
    expect(g.limits).toEqual(DEFAULT_LIMITS);
    expect(Object.values(g.limitOrigins).every((o) => o.kind === "built-in-default")).toBe(true);
  });

  it("takes [defaults] for every step, with their lines", () => {
    const g = granted(resolveGrant(profile('version = 1\n[defaults]\nmemory = "2GiB"\ntimeout = "1h"\nruntime = "runsc"\n'), builtins, openssl, "test"));
    expect(g.limits).toEqual({ ...DEFAULT_LIMITS, memoryBytes: 2 * 1024 ** 3, timeoutMs: 3_600_000 });
    expect(g.limitOrigins.memoryBytes).toEqual({ kind: "defaults", file: "cratebox.toml", line: 3 });
    expect(g.limitOrigins.pids).toEqual({ kind: "built-in-default" });
    expect(g.runtime).toEqual({ value: "runsc", origin: { kind: "defaults", file: "cratebox.toml", line: 5 } });
  });
});

describe("resolveGrant: precedence and provenance", () => {
  const p = profile(`version = 1
[defaults]
memory = "2GiB"
pids = 256
timeout = "20m"

[build.openssl-sys]
version = "0.9"
use = ["openssl", "c-toolchain"]
env = ["OPENSSL_DIR", "MY_SDK_ROOT"]
read = ["vendor/sdk"]
memory = "6GiB"
network = true
`);
  const g = granted(resolveGrant(p, builtins, openssl, "build"));

  it("built-in defaults < [defaults] < profiles in `use` < the crate's own keys", () => {
    expect(g.limits).toEqual({ ...DEFAULT_LIMITS, memoryBytes: 6 * 1024 ** 3, pids: 256, timeoutMs: 20 * 60_000 });
    expect(describeOrigin(g.limitOrigins.memoryBytes)).toBe("[build.openssl-sys] (cratebox.toml:12)");
    expect(describeOrigin(g.limitOrigins.pids)).toBe("[defaults] (cratebox.toml:4)");
    expect(describeOrigin(g.limitOrigins.tmpBytes)).toBe("cratebox default");
    expect(g.network).toEqual({ value: true, origin: { kind: "entry", file: "cratebox.toml", table: "build.openssl-sys", line: 13 } });
    expect(g.entry).toMatchObject({ table: "build.openssl-sys", line: 7 });
  });

  it("applies a profile's own `use` before it, each profile once, and says who pulled it in", () => {
    expect(g.use.map((s) => s.value)).toEqual(["pkg-config", "openssl", "c-toolchain"]);
    expect(describeOrigin(g.use[0]!.origin)).toMatch(/^built-in profile openssl \(profiles\/openssl\.toml:\d+\), used by build.openssl-sys$/);
    expect(describeOrigin(g.use[1]!.origin)).toBe("[build.openssl-sys] (cratebox.toml:9)");
  });

  it("accumulates env and paths, each with where it came from", () => {
    const env = new Map(g.env.map((e) => [e.value.text, e.origin]));
    expect(env.get("PKG_CONFIG*")).toMatchObject({ kind: "profile", name: "pkg-config", via: ["build.openssl-sys", "openssl"] });
    expect(env.get("OPENSSL_DIR")).toMatchObject({ kind: "profile", name: "openssl", via: ["build.openssl-sys"] });
    expect(env.get("CC")).toMatchObject({ kind: "profile", name: "c-toolchain" });
    expect(env.get("MY_SDK_ROOT")).toEqual({ kind: "entry", file: "cratebox.toml", table: "build.openssl-sys", line: 10 });
    expect(g.env.filter((e) => e.value.text === "OPENSSL_DIR")).toHaveLength(1);
    expect(g.read).toEqual([{ value: "vendor/sdk", origin: { kind: "entry", file: "cratebox.toml", table: "build.openssl-sys", line: 11 } }]);
  });

  it("command-line limits override everything", () => {
    const o = granted(resolveGrant(p, builtins, openssl, "build", { overrides: { memoryBytes: 1024 ** 3 } }));
    expect(o.limits.memoryBytes).toBe(1024 ** 3);
    expect(o.limitOrigins.memoryBytes).toEqual({ kind: "command-line" });
    expect(o.limits.pids).toBe(256);
  });

  it("keeps scopes apart: a build grant is not a test grant", () => {
    const t = granted(resolveGrant(p, builtins, { ...openssl, source: "path" }, "test"));
    expect(t.entry).toBeUndefined();
    expect(t.network.value).toBe(false);
  });
});

describe("resolveGrant: selection by source", () => {
  const p = profile(`version = 1
[build.openssl-sys]
env = ["OPENSSL_DIR"]
network = true

[test.my-app]
network = true
`);

  it("a registry grant never matches a git or path crate of the same name", () => {
    for (const source of ["git", "path"] as const) {
      const g = granted(resolveGrant(p, builtins, { name: "openssl-sys", version: "0.9.103", source }, "build"));
      expect(g.entry).toBeUndefined();
      expect(g.network.value).toBe(false);
      expect(g.env).toEqual([]);
      expect(g.skipped).toEqual([
        {
          entry: expect.objectContaining({ table: "build.openssl-sys", line: 2 }),
          reason: expect.stringMatching(/^it selects registry crates; this openssl-sys comes from/),
        },
      ]);
    }
  });

  it("[test.*] tables select path crates unless they say otherwise", () => {
    expect(granted(resolveGrant(p, builtins, { name: "my-app", version: "0.1.0", source: "path" }, "test")).network.value).toBe(true);
    expect(granted(resolveGrant(p, builtins, { name: "my-app", version: "0.1.0", source: "registry" }, "test")).network.value).toBe(false);
  });

  it("is exact about names", () => {
    expect(granted(resolveGrant(p, builtins, { ...openssl, name: "openssl_sys" }, "build")).entry).toBeUndefined();
    expect(granted(resolveGrant(p, builtins, { ...openssl, name: "constructor" }, "build")).entry).toBeUndefined();
  });
});

describe("resolveGrant: pins", () => {
  const p = profile(`version = 1
[build.openssl-sys]
version = "=0.9.103"
checksum = "sha256:${HEX_A}"
env = ["OPENSSL_DIR"]
`);

  it("applies when version and checksum hold (Cargo.lock's bare hex is fine)", () => {
    expect(granted(resolveGrant(p, builtins, openssl, "build")).env.map((e) => e.value.text)).toEqual(["OPENSSL_DIR"]);
    expect(granted(resolveGrant(p, builtins, { ...openssl, checksum: `sha256:${HEX_A.toUpperCase()}` }, "build")).entry).toBeDefined();
  });

  it("does not apply on another version, and names reviewed and resolved", () => {
    const r = resolveGrant(p, builtins, { ...openssl, version: "0.9.104" }, "build");
    if (r.kind !== "pin-mismatch") throw new Error(r.kind);
    expect(r.stale).toEqual([
      {
        entry: expect.objectContaining({ table: "build.openssl-sys", line: 2 }),
        version: "=0.9.103",
        checksum: `sha256:${HEX_A}`,
        content: {},
        failed: ["version"],
      },
    ]);
    expect(r.withoutEntry.env).toEqual([]);
    expect(r.withoutEntry.entry).toBeUndefined();
    expect(describePinMismatch(r)).toBe(
      `grant for the build script of openssl-sys does not apply: [build.openssl-sys] (cratebox.toml:2) was reviewed for version =0.9.103 and checksum sha256:${HEX_A}, ` +
        `but cargo resolved openssl-sys 0.9.104 (checksum ${HEX_A}). Review the change, then re-approve with: cratebox approve openssl-sys`,
    );
  });

  it("does not apply on another checksum (same version, different package contents)", () => {
    const r = resolveGrant(p, builtins, { ...openssl, checksum: HEX_B }, "build");
    expect(r.kind === "pin-mismatch" && r.stale[0]!.failed).toEqual(["checksum"]);
    const none = resolveGrant(p, builtins, { ...openssl, checksum: undefined }, "build");
    expect(none.kind === "pin-mismatch" && none.stale[0]!.failed).toEqual(["checksum"]);
  });

  it("picks the one of several pinned tables that matches; the others are noted, not errors", () => {
    const multi = profile(`version = 1
[[build.ring]]
version = "0.16"
env = ["OLD"]

[[build.ring]]
version = "0.17"
env = ["NEW"]
`);
    const ring = (version: string): CrateIdentity => ({ name: "ring", version, source: "registry" });
    const g = granted(resolveGrant(multi, builtins, ring("0.17.8"), "build"));
    expect(g.entry).toMatchObject({ table: "build.ring[1]", line: 6 });
    expect(g.env.map((e) => e.value.text)).toEqual(["NEW"]);
    expect(g.env[0]!.origin).toMatchObject({ table: "build.ring[1]", line: 8 });
    expect(g.skipped).toEqual([{ entry: expect.objectContaining({ table: "build.ring[0]" }), reason: "it is pinned to version 0.16" }]);
    const r = resolveGrant(multi, builtins, ring("0.18.0"), "build");
    expect(r.kind === "pin-mismatch" && r.stale.map((s) => s.entry.table)).toEqual(["build.ring[0]", "build.ring[1]"]);
  });

  it("refuses to guess between overlapping tables", () => {
    const overlap = profile(`version = 1
[[build.ring]]
version = ">=0.16"
env = ["A"]

[[build.ring]]
version = "0.17"
env = ["B"]
`);
    const r = resolveGrant(overlap, builtins, { name: "ring", version: "0.17.1", source: "registry" }, "build");
    expect(r.kind).toBe("ambiguous");
    expect(r.kind === "ambiguous" && r.entries.map((e) => e.table)).toEqual(["build.ring[0]", "build.ring[1]"]);
  });
});

describe("strictViolations", () => {
  const p = profile(`version = 1
strict = true

[build.openssl-sys]
use = ["openssl"]

[build.cc-demo]
reviewed = true

[build.later]
reviewed = false

[build.pinned]
version = "=1.0.0"
reviewed = true

[build.from-git]
reviewed = true
`);
  const crate = (name: string, version = "1.0.0", source: CrateIdentity["source"] = "registry"): CrateIdentity => ({ name, version, source });

  it("passes crates that are granted or reviewed", () => {
    expect(strictViolations(p, [crate("openssl-sys", "0.9.103"), crate("cc-demo"), crate("pinned")])).toEqual([]);
  });

  it("names every crate with a build script that is not listed, stale, or marked not reviewed", () => {
    const v = strictViolations(p, [crate("newcomer"), crate("later"), crate("pinned", "1.0.1"), crate("from-git", "1.0.0", "git")]);
    expect(v.map((x) => [x.crate.name, x.reason])).toEqual([
      ["newcomer", "unlisted"],
      ["later", "not-reviewed"],
      ["pinned", "pin-mismatch"],
      ["from-git", "unlisted"],
    ]);
    expect(v[0]!.message).toBe(
      "newcomer 1.0.0 (registry) has a build script but no [build.newcomer] table selects it; review it, then grant what it needs or write reviewed = true",
    );
    expect(v[3]!.message).toMatch(/\[build.from-git\] does not select it: it selects registry crates; this from-git comes from git/);
    expect(v[2]!.message).toMatch(/was reviewed for version =1.0.0, but cargo resolved pinned 1.0.1/);
  });
});
