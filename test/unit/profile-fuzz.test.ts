/**
 * Property tests: whatever text or data comes in, parsing yields a valid profile or a clean list
 * of problems (each with file, key path, message, a line inside the file or none), never a throw;
 * and a valid profile always resolves without throwing.
 */
import fc from "fast-check";
import { stringify } from "smol-toml";
import { describe, expect, it } from "vitest";
import { parseBuiltinProfile } from "../../src/core/profile/builtins.ts";
import { formatProfileIssue, parseProfile, validate, type ParseResult, type ParsedProfile } from "../../src/core/profile/parse.ts";
import { revive } from "../../src/runtime/profile-cache.ts";
import { resolveGrant, strictViolations } from "../../src/core/profile/resolve.ts";
import { profileSchema } from "../../src/core/profile/schema.ts";
import { parseBuiltinProfiles } from "../../src/core/profile/builtins.ts";
import { readFileSync } from "node:fs";
import path from "node:path";
import { BUILTIN_PROFILE_NAMES } from "../../src/core/profile/schema.ts";

const FILE = "cratebox.toml";
const RUNS = { numRuns: 400 };

const builtinsResult = parseBuiltinProfiles(
  BUILTIN_PROFILE_NAMES.map((name) => ({
    name,
    file: `profiles/${name}.toml`,
    text: readFileSync(path.resolve(import.meta.dirname, "../../profiles", `${name}.toml`), "utf8"),
  })),
);
if (!builtinsResult.ok) throw new Error("built-in profiles invalid");
const builtins = builtinsResult.value;

function expectClean(r: ParseResult<unknown>, text: string | undefined): void {
  if (r.ok) return;
  expect(r.issues.length).toBeGreaterThan(0);
  const lines = text === undefined ? Infinity : text.split("\n").length;
  for (const i of r.issues) {
    expect(i.file).toBe(FILE);
    expect(typeof i.path).toBe("string");
    expect(typeof i.message).toBe("string");
    expect(i.message.length).toBeGreaterThan(0);
    expect(i.accepted === undefined || typeof i.accepted === "string").toBe(true);
    if (i.line !== undefined) {
      expect(Number.isInteger(i.line)).toBe(true);
      expect(i.line).toBeGreaterThanOrEqual(1);
      expect(i.line).toBeLessThanOrEqual(lines);
    }
  }
}

/** A valid profile resolves for any crate, both phases, and strict mode computes. */
function expectResolves(parsed: ParsedProfile, name: string): void {
  for (const phase of ["build", "test"] as const) {
    for (const source of ["registry", "path", "git"] as const) {
      const crate = { name, version: "0.9.103", source, checksum: "a".repeat(64) };
      const r = resolveGrant(parsed, builtins, crate, phase);
      expect(["granted", "pin-mismatch", "ambiguous"]).toContain(r.kind);
      strictViolations(parsed, [crate], phase);
    }
  }
}

// Pieces of cratebox.toml, valid and not, to build files that get past the TOML parser often.
const KEYS = [
  "version",
  "strict",
  "defaults",
  "build",
  "test",
  "memory",
  "pids",
  "timeout",
  "cpus",
  "tmp",
  "image",
  "runtime",
  "use",
  "env",
  "read",
  "write",
  "network",
  "source",
  "checksum",
  "reviewed",
  "memroy",
  "x",
  "openssl-sys",
  '"odd key"',
  "__proto__",
  "constructor",
];
const VALUES = [
  "1",
  "2",
  "0",
  "-1",
  "1.5",
  "true",
  "false",
  '"4GiB"',
  '"15m"',
  '"lots"',
  '""',
  '"../x"',
  '"/"',
  '"*"',
  '"OPENSSL_*"',
  '["pkg-config"]',
  '["nope"]',
  '["a:1"]',
  '["host:443"]',
  "[]",
  "[1, 2]",
  '["OPENSSL_DIR", "*_STATIC"]',
  '"registry"',
  '"git"',
  '"0.9"',
  '"1 - 2"',
  `"${"a".repeat(64)}"`,
  "1979-05-27",
  "inf",
  "nan",
  '{ memory = "1g" }',
  '"""\nmulti\n"""',
  "'lit'",
];
const HEADERS = [
  "[defaults]",
  "[build]",
  "[test]",
  "[build.openssl-sys]",
  "[[build.ring]]",
  "[test.my-app]",
  "[build.openssl-sys.env]",
  "[[test.my-app]]",
  '[build."a b"]',
  "[x.y.z]",
  "[[defaults]]",
  "[build.constructor]",
];

const line = fc.oneof(
  fc.constantFrom(...HEADERS),
  fc.tuple(fc.constantFrom(...KEYS), fc.constantFrom(...VALUES)).map(([k, v]) => `${k} = ${v}`),
  fc.tuple(fc.constantFrom(...KEYS), fc.constantFrom(...KEYS), fc.constantFrom(...VALUES)).map(([a, b, v]) => `${a}.${b} = ${v}`),
  fc.string({ maxLength: 20 }),
  fc.constant("# comment"),
  fc.constant(""),
);
const tomlish = fc.tuple(fc.boolean(), fc.array(line, { maxLength: 25 })).map(([v, lines]) => (v ? ["version = 1", ...lines] : lines).join("\n"));

describe("parseProfile never throws", () => {
  it("on arbitrary text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300, unit: "binary" }), (text) => {
        expectClean(parseProfile(text, FILE), text);
      }),
      RUNS,
    );
  });

  it("on TOML built from cratebox's own vocabulary; the line named holds the key named", () => {
    fc.assert(
      fc.property(tomlish, (text) => {
        const r = parseProfile(text, FILE);
        expectClean(r, text);
        if (r.ok) expectResolves(r.value, "openssl-sys");
        else {
          for (const i of r.issues) {
            const key = /([A-Za-z_-]+)(\[\d+\])*$/.exec(i.path)?.[1];
            if (key !== undefined && i.line !== undefined) expect(text.split("\n")[i.line - 1]).toContain(key);
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("a valid profile survives a JSON round trip unchanged (runtime/profile-cache.ts stores it so)", () => {
    let valid = 0;
    fc.assert(
      fc.property(tomlish, (text) => {
        const r = parseProfile(text, FILE);
        if (!r.ok) return;
        valid++;
        const loaded = { parsed: r.value, exists: true, warnings: r.warnings.map(formatProfileIssue) };
        const stored = JSON.parse(JSON.stringify({ profile: loaded, builtins: [...builtins] }));
        expect(revive(stored.profile, stored.builtins)).toStrictEqual({ profile: loaded, builtins });
      }),
      { numRuns: 3000 },
    );
    expect(valid).toBeGreaterThan(50);
  });

  it("on arbitrary data written as TOML", () => {
    const data = fc.dictionary(fc.constantFrom(...KEYS, "k"), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 });
    fc.assert(
      fc.property(data, fc.boolean(), (obj, withVersion) => {
        const doc = withVersion ? { version: 1, ...obj } : obj;
        let text: string;
        try {
          text = stringify(doc);
        } catch {
          return; // not representable in TOML (null, mixed arrays in old TOML...): nothing to parse
        }
        expectClean(parseProfile(text, FILE), text);
      }),
      RUNS,
    );
  });

  it("on arbitrary values handed to the schema directly", () => {
    const grant = fc.dictionary(fc.constantFrom(...KEYS), fc.anything({ maxDepth: 2 }), { maxKeys: 5 });
    const doc = fc.record(
      {
        version: fc.oneof(fc.constant(1), fc.anything()),
        defaults: fc.oneof(grant, fc.anything()),
        build: fc.dictionary(
          fc.constantFrom("openssl-sys", "ring", "a b", "constructor", ""),
          fc.oneof(grant, fc.array(grant, { maxLength: 3 }), fc.anything()),
        ),
        test: fc.anything(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(doc, fc.anything()), (value) => {
        const r = validate(profileSchema, value, { file: FILE, lines: {}, root: "profile" });
        expectClean(r, undefined);
        if (r.ok) expectResolves({ file: FILE, profile: r.value, lines: {} }, "ring");
      }),
      RUNS,
    );
  });

  it("on arbitrary built-in profile text", () => {
    fc.assert(
      fc.property(tomlish, (text) => {
        const r = parseBuiltinProfile({ name: "openssl", file: FILE, text });
        expectClean(r, text);
      }),
      RUNS,
    );
  });
});
