import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import semver from "semver";
import {
  matchesEnvPattern,
  parseChecksum,
  parseCrateName,
  parseEnvPattern,
  parseHostPath,
  parseHostPort,
  parseImageRef,
  type EnvPattern,
} from "../../src/core/profile/values.ts";
import { matchesCargoVersionReq, parseCargoVersionReq, type VersionReq } from "../../src/core/profile/version-req.ts";
import { toKeyPath } from "../../src/core/profile/key-path.ts";
import { lineOf, locateKeys } from "../../src/core/profile/toml-lines.ts";

function pattern(text: string): EnvPattern {
  const r = parseEnvPattern(text);
  if (!r.ok) throw new Error(r.message);
  return r.value;
}

describe("environment patterns", () => {
  it.each([
    ["OPENSSL_DIR", "OPENSSL_DIR", true],
    ["OPENSSL_DIR", "OPENSSL_DIRX", false],
    ["OPENSSL_*", "OPENSSL_STATIC", true],
    ["OPENSSL_*", "X86_64_UNKNOWN_LINUX_GNU_OPENSSL_DIR", false],
    ["*_OPENSSL_DIR", "X86_64_UNKNOWN_LINUX_GNU_OPENSSL_DIR", true],
    ["*_STATIC", "LIBZ_SYS_STATIC", true],
    ["*_STATIC", "STATIC", false],
    ["*_OPENSSL_*", "AARCH64_OPENSSL_LIB_DIR", true],
    ["CC_*", "CC_x86_64-unknown-linux-gnu", true],
    ["PKG_CONFIG*", "PKG_CONFIG", true],
    ["cc", "CC", false],
  ])("%s matches %s: %s", (p, name, expected) => {
    expect(matchesEnvPattern(pattern(p), name)).toBe(expected);
  });

  it("refuses patterns that pass everything, secrets, or the sandbox's own variables", () => {
    for (const [p, why] of [
      ["*", /whole host environment/],
      ["**", /whole host environment/],
      ["*_*", /not a variable name/],
      ["", /not a variable name/],
      ["A B", /not a variable name/],
      ["A*B", /start or the end/],
      ["*TOKEN*", /GITHUB_TOKEN, a credential|CARGO_REGISTRY_TOKEN, a credential/],
      ["AWS_*", /AWS_ACCESS_KEY_ID, a credential/],
      ["SSH_*", /SSH_AUTH_SOCK/],
      ["HOME", /set by the sandbox/],
      ["LD_*", /LD_PRELOAD, which the sandbox sets itself/],
      ["RUSTC_*", /RUSTC_WRAPPER/],
      ["CRATEBOX_SOCKET", /cratebox's own variables/],
    ] as const) {
      const r = parseEnvPattern(p);
      expect(r.ok, p).toBe(false);
      if (!r.ok) expect(r.message, p).toMatch(why);
    }
    // Naming a credential exactly is a visible, deliberate grant.
    expect(parseEnvPattern("GITHUB_TOKEN").ok).toBe(true);
  });
});

describe("host paths", () => {
  it.each([
    ["vendor/sdk/", "read", "vendor/sdk"],
    ["./vendor//sdk", "read", "vendor/sdk"],
    ["a/../b", "read", "b"],
    [".", "read", "."],
    ["/opt/sdk/", "read", "/opt/sdk"],
    ["/opt/../srv/data", "read", "/srv/data"],
    ["generated/", "write", "generated"],
    ["/var/cache/x", "write", "/var/cache/x"],
  ] as const)("%s (%s) -> %s", (raw, access, out) => {
    expect(parseHostPath(raw, access)).toEqual({ ok: true, value: out });
  });

  it.each([
    ["..", "read"],
    ["../x", "read"],
    ["a/../../x", "read"],
    ["", "read"],
    ["~/x", "read"],
    ["$HOME/x", "read"],
    ["/", "read"],
    ["/proc/self", "read"],
    ["/run/docker.sock", "read"],
    ["/var/run/docker.sock", "read"],
    ["/dev/sda", "write"],
    [".", "write"],
    ["./", "write"],
    [".git", "write"],
    [".git/hooks", "write"],
    ["target", "write"],
    ["target/debug/build", "write"],
    ["Cargo.toml", "write"],
    ["/usr", "write"],
    ["/usr/local/lib", "write"],
    ["/etc", "write"],
    ["/var", "write"],
  ] as const)("refuses %j for %s", (raw, access) => {
    expect(parseHostPath(raw, access).ok).toBe(false);
  });
});

describe("network entries", () => {
  it.each([
    ["static.example.org:443", "static.example.org:443"],
    ["Static.Example.ORG:443", "static.example.org:443"],
    ["*.internal:8443", "*.internal:8443"],
    ["10.0.0.7:80", "10.0.0.7:80"],
    ["[::1]:8080", "[::1]:8080"],
  ])("%s", (raw, out) => expect(parseHostPort(raw)).toEqual({ ok: true, value: out }));

  it.each(["example.org", ":443", "example.org:0", "example.org:65536", "exa mple.org:1", "*:443", "a.*.b:1", "300.1.1.1:1", "http://x:1", "-x.org:1"])(
    "refuses %j",
    (raw) => expect(parseHostPort(raw).ok).toBe(false),
  );
});

describe("checksums, images, crate names", () => {
  it("normalises checksums to sha256:<lowercase hex>", () => {
    const hex = "0123456789abcdef".repeat(4);
    expect(parseChecksum(hex.toUpperCase())).toEqual({ ok: true, value: `sha256:${hex}` });
    expect(parseChecksum(`sha256:${hex}`)).toEqual({ ok: true, value: `sha256:${hex}` });
    expect(parseChecksum(hex.slice(1)).ok).toBe(false);
    expect(parseChecksum(`sha512:${hex}`).ok).toBe(false);
  });
  it("takes docker image references", () => {
    for (const ok of ["debian:bookworm", "registry.example.org:5000/team/sandbox:1.2", `img@sha256:${"a".repeat(64)}`, "cratebox-sandbox"]) {
      expect(parseImageRef(ok).ok, ok).toBe(true);
    }
    for (const bad of ["", "Debian", "a b", "debian:", "x@sha256:zz"]) expect(parseImageRef(bad).ok, bad).toBe(false);
  });
  it("takes cargo package names", () => {
    for (const ok of ["openssl-sys", "my_app", "a", "_x"]) expect(parseCrateName(ok).ok, ok).toBe(true);
    for (const bad of ["", "1abc", "-x", "a b", "a.b", "a/b"]) expect(parseCrateName(bad).ok, bad).toBe(false);
  });
});

describe("cargo version requirements", () => {
  it.each([
    // requirement, version, matches (cargo's semantics, https://doc.rust-lang.org/cargo/reference/specifying-dependencies.html)
    ["0.9", "0.9.103", true],
    ["0.9", "0.10.0", false],
    ["1.2", "1.9.0", true], // bare = caret: not npm's 1.2.x
    ["1.2", "2.0.0", false],
    ["^1.2.3", "1.2.2", false],
    ["^0.0.3", "0.0.4", false],
    ["~1.2", "1.2.9", true],
    ["~1.2", "1.3.0", false],
    ["=0.9.103", "0.9.103", true],
    ["=0.9.103", "0.9.104", false],
    ["=1.2", "1.2.7", true],
    ["=1.2", "1.3.0", false],
    [">=1.2, <2", "1.5.0", true],
    [">=1.2, <2", "2.0.0", false],
    [">1.2", "1.2.9", false], // >1.2 means >=1.3.0
    ["<=1.2", "1.2.9", true],
    ["1.*", "1.9.0", true],
    ["1.*", "2.0.0", false],
    ["1.2.*", "1.3.0", false], // a wildcard is not a caret
    ["*", "3.0.0", true],
    ["*", "3.0.0-alpha", false],
    ["1.0", "1.1.0-beta.1", false], // pre-releases only match a comparator with one
    [">=1.1.0-beta.1", "1.1.0-beta.2", true],
    ["0.9", "0.9.103+openssl-3.0", true], // build metadata of the resolved version is ignored
    ["0.9", "not a version", false],
    // zero majors and pre-releases
    ["^0.0", "0.0.9", true],
    ["^0", "0.9.0", true],
    ["^0.2.3", "0.3.0", false],
    ["~1", "1.9.9", true],
    [">=1.*", "1.0.0", true],
    ["<1.2.3", "1.2.3-alpha", false], // no comparator of 1.2.3 carries a pre-release
    [">=1.2.3-alpha.2, <1.2.3", "1.2.3-alpha.10", true], // numeric identifiers compare as numbers
    [">=1.2.3-alpha.2, <1.2.3", "1.2.3-alpha.beta", true], // and below alphanumeric ones
    ["=1.2.3-alpha", "1.2.3-alpha.1", false],
    ["^1.2.3-beta", "1.2.3-alpha", false],
  ])("%s ~ %s: %s", (req, version, expected) => {
    expect(matchesCargoVersionReq(req, version)).toBe(expected);
  });

  // What cargo's own semver crate (1.0.27) answered for 2400 fixed random pairs, written by
  // scripts/cargo-version-cases.ts: half of the versions sit on a comparator's numbers, a fifth of
  // the requirements are spelled otherwise (spaces, tabs, x wildcards, leading zeros, stray commas),
  // and "badreq" is cargo's refusal, which must be cratebox's too.
  it("parses and answers as cargo's semver crate does on 2400 recorded cases", () => {
    const file = path.join(import.meta.dirname, "../fixtures/version-req/cargo-cases.jsonl");
    const cases = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as [string, string, "true" | "false" | "badreq"]);
    expect(cases).toHaveLength(2400);
    expect(cases.filter(([, , cargo]) => cargo === "badreq").length).toBeGreaterThan(100);
    const wrong = cases.filter(([req, version, cargo]) =>
      cargo === "badreq" ? parseCargoVersionReq(req).ok : String(matchesCargoVersionReq(req, version)) !== cargo,
    );
    expect(wrong).toEqual([]);
  });

  // Beyond the recorded cases: the npm package's matching, with cargo's syntax spelled the npm way,
  // is the same as cargo's for versions without a pre-release (with one they part: cargo's
  // `<=0.*, ~0.0.2-alpha` does not match 0.0.2-rc.2, npm's does).
  it("agrees with the npm semver package on random requirements and released versions", () => {
    const n = fc.integer({ min: 0, max: 3 });
    const pre = fc.constantFrom("", "alpha", "alpha.1", "beta", "1", "rc.2");
    const comparator = fc.tuple(fc.constantFrom("", "=", ">", ">=", "<", "<=", "~", "^"), n, fc.option(n), fc.option(n), pre, fc.boolean());
    const spell = ([op, a, b, c, p, wild]: [string, number, number | null, number | null, string, boolean]) => {
      if (wild) return `${op}${a}.*`;
      return `${op}${b === null ? `${a}` : c === null ? `${a}.${b}` : `${a}.${b}.${c}${p ? `-${p}` : ""}`}`;
    };
    const pair = fc.array(comparator, { minLength: 1, maxLength: 3 }).chain((cs) =>
      fc.tuple(fc.constant(cs.map(spell).join(", ")), fc.tuple(fc.boolean(), fc.nat(cs.length - 1), n, n, n)).map(([r, [near, i, a, b, c]]) => {
        const [, ca, cb, cc] = cs[i]!;
        const [x, y, z] = near ? [ca, cb ?? b, cc ?? c] : [a, b, c];
        return [r, `${x}.${y}.${z}`] as const;
      }),
    );
    const npmRange = (r: VersionReq) =>
      r.length === 0
        ? "*"
        : r
            .map((c) => {
              const pre = c.pre.length ? `-${c.pre.join(".")}` : "";
              if (c.op === "*") return `${c.major}.${c.minor ?? "x"}.${c.patch ?? "x"}`;
              return `${c.op}${[c.major, c.minor, c.patch].filter((x) => x !== undefined).join(".")}${pre}`;
            })
            .join(" ");
    fc.assert(
      fc.property(pair, ([r, v]) => {
        const parsed = parseCargoVersionReq(r);
        if (!parsed.ok) return false;
        expect(matchesCargoVersionReq(r, v), `${r} ~ ${v} (npm: ${npmRange(parsed.value)})`).toBe(semver.satisfies(v, npmRange(parsed.value)));
        return true;
      }),
      { numRuns: 3000 },
    );
  });

  // The last two cargo takes, and cratebox refuses on purpose (version-req.ts): build metadata
  // in a requirement, which cargo ignores, and numbers beyond 2^53.
  it.each([
    "",
    "1 - 2",
    "^1 || ^2",
    "v1.2",
    "1.*.3",
    "1.2.*-alpha",
    ">=",
    "1,",
    "01.2",
    "1.2.3-01",
    "~> 1.2",
    "latest",
    "1.2\t",
    Array(33).fill(">=1").join(", "), // cargo's limit is 32 comparators
    "1.2.3+build",
    "99999999999999999.0",
  ])("refuses %j with what is accepted", (req) => {
    const r = parseCargoVersionReq(req);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.accepted).toMatch(/^a cargo version requirement/);
  });
});

describe("key paths and their lines", () => {
  it("spells paths as users read them", () => {
    expect(toKeyPath(["build", "openssl-sys", 1, "env", 0])).toBe("build.openssl-sys[1].env[0]");
    expect(toKeyPath(["build", "a.b"])).toBe('build."a.b"');
  });

  it("finds lines through headers, arrays of tables, dotted keys, multi-line strings and arrays", () => {
    const text = `# comment [not.a.table]
version = 1
note = """
[build.fake]
memory = 1
"""

[[build.ring]]
version = "0.16"

[[build.ring]]
version = "0.17" # [x]
env = [
  "A", # a comment with "quotes"
  'B',
]

[ build . "openssl-sys" ]
read = [ "x",
  "y" ]
inline = { a = 1, b = { c = [1, 2] } }
`;
    const lines = locateKeys(text);
    expect(lines["build.fake"]).toBeUndefined();
    expect(lineOf(lines, ["version"])).toBe(2);
    expect(lineOf(lines, ["build", "ring", 0, "version"])).toBe(9);
    expect(lineOf(lines, ["build", "ring", 1])).toBe(11);
    expect(lineOf(lines, ["build", "ring", 1, "version"])).toBe(12);
    expect(lineOf(lines, ["build", "ring", 1, "env", 1])).toBe(15);
    expect(lineOf(lines, ["build", "openssl-sys"])).toBe(18);
    expect(lineOf(lines, ["build", "openssl-sys", "read", 1])).toBe(20);
    expect(lineOf(lines, ["build", "openssl-sys", "inline", "b", "c", 1])).toBe(21);
    // Unknown deeper keys fall back to the nearest enclosing one.
    expect(lineOf(lines, ["build", "openssl-sys", "nope", 3])).toBe(18);
  });
});
