import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseBuiltinProfile, parseBuiltinProfiles, type BuiltinSource } from "../../src/core/profile/builtins.ts";
import { formatProfileIssue, parseProfile } from "../../src/core/profile/parse.ts";
import { resolveGrant } from "../../src/core/profile/resolve.ts";
import { BUILTIN_PROFILE_NAMES, type BuiltinProfileName } from "../../src/core/profile/schema.ts";
import { CREDENTIAL_CANARIES, matchesEnvPattern } from "../../src/core/profile/values.ts";

const DIR = path.resolve(import.meta.dirname, "../../profiles");
const sources: BuiltinSource[] = BUILTIN_PROFILE_NAMES.map((name) => ({
  name,
  file: `profiles/${name}.toml`,
  text: readFileSync(path.join(DIR, `${name}.toml`), "utf8"),
}));

function loaded() {
  const r = parseBuiltinProfiles(sources);
  if (!r.ok) throw new Error(r.issues.map(formatProfileIssue).join("\n"));
  return r.value;
}

/** Which of `names` a crate table with `use = [profile]` passes into the sandbox. */
function passes(profile: BuiltinProfileName, names: string[]): string[] {
  const parsed = parseProfile(`version = 1\n[build.x]\nuse = ["${profile}"]\n`, "cratebox.toml");
  if (!parsed.ok) throw new Error("bad test profile");
  const r = resolveGrant(parsed.value, loaded(), { name: "x", version: "1.0.0", source: "registry" }, "build");
  if (r.kind !== "granted") throw new Error(r.kind);
  return names.filter((n) => r.grant.env.some((e) => matchesEnvPattern(e.value, n)));
}

describe("the shipped built-in profiles", () => {
  it("are exactly the files in profiles/, each valid, described, and documented by a header comment", () => {
    const files = readdirSync(DIR)
      .filter((f) => f.endsWith(".toml"))
      .map((f) => f.slice(0, -5))
      .sort();
    expect(files).toEqual([...BUILTIN_PROFILE_NAMES].sort());
    const map = loaded();
    for (const s of sources) {
      expect(s.text.startsWith(`# ${s.name}: `), `${s.file} starts with "# ${s.name}: "`).toBe(true);
      expect(map.get(s.name as BuiltinProfileName)!.description.length).toBeGreaterThan(20);
    }
  });

  it("pass no well-known credential", () => {
    for (const name of BUILTIN_PROFILE_NAMES) expect(passes(name, [...CREDENTIAL_CANARIES]), name).toEqual([]);
  });

  it("c-toolchain: cc-rs's variables in all four forms", () => {
    const wanted = [
      "CC",
      "CXX",
      "CFLAGS",
      "CXXFLAGS",
      "CPPFLAGS",
      "AR",
      "ARFLAGS",
      "RANLIB",
      "LD",
      "LDFLAGS",
      "CC_x86_64_unknown_linux_gnu",
      "CC_x86_64-unknown-linux-gnu",
      "CFLAGS_aarch64-unknown-linux-gnu",
      "AR_x86_64_unknown_linux_gnu",
      "HOST_CC",
      "TARGET_CC",
      "TARGET_CFLAGS",
      "HOST_CXXFLAGS",
      "CRATE_CC_NO_DEFAULTS",
      "CC_ENABLE_DEBUG_OUTPUT",
    ];
    expect(passes("c-toolchain", wanted)).toEqual(wanted);
    expect(passes("c-toolchain", ["OPENSSL_DIR", "PKG_CONFIG_PATH", "HOSTNAME", "CCACHE_DIR"])).toEqual([]);
  });

  it("pkg-config: its settings, their target-specific forms and per-library switches", () => {
    const wanted = [
      "PKG_CONFIG",
      "PKG_CONFIG_PATH",
      "PKG_CONFIG_LIBDIR",
      "PKG_CONFIG_SYSROOT_DIR",
      "PKG_CONFIG_ALLOW_CROSS",
      "PKG_CONFIG_PATH_x86_64-unknown-linux-gnu",
      "PKG_CONFIG_PATH_x86_64_unknown_linux_gnu",
      "HOST_PKG_CONFIG_PATH",
      "TARGET_PKG_CONFIG_SYSROOT_DIR",
      "OPENSSL_NO_PKG_CONFIG",
      "FOO_STATIC",
      "FOO_DYNAMIC",
    ];
    expect(passes("pkg-config", wanted)).toEqual(wanted);
    expect(passes("pkg-config", ["CC", "OPENSSL_DIR"])).toEqual([]);
  });

  it("openssl: openssl-sys's variables, target-prefixed too, and pkg-config through `use`", () => {
    const wanted = [
      "OPENSSL_DIR",
      "OPENSSL_LIB_DIR",
      "OPENSSL_INCLUDE_DIR",
      "OPENSSL_STATIC",
      "OPENSSL_NO_VENDOR",
      "OPENSSL_LIBS",
      "X86_64_UNKNOWN_LINUX_GNU_OPENSSL_DIR",
      "AARCH64_UNKNOWN_LINUX_GNU_OPENSSL_LIB_DIR",
      "PKG_CONFIG_PATH",
    ];
    expect(passes("openssl", wanted)).toEqual(wanted);
    expect(passes("openssl", ["OPENSSL_CONF", "CC"])).toEqual([]);
  });

  it("sys-conventions: the common -sys switches by suffix", () => {
    const wanted = [
      "LIBGIT2_NO_VENDOR",
      "LIBZ_SYS_STATIC",
      "ZSTD_DYNAMIC",
      "SQLITE3_LIB_DIR",
      "SQLITE3_INCLUDE_DIR",
      "ZSTD_SYS_USE_PKG_CONFIG",
      "LIBSSH2_NO_PKG_CONFIG",
    ];
    expect(passes("sys-conventions", wanted)).toEqual(wanted);
    expect(passes("sys-conventions", ["CC", "XDG_RUNTIME_DIR", "STATIC"])).toEqual([]);
  });
});

describe("parseBuiltinProfile / parseBuiltinProfiles", () => {
  const src = (name: string, text: string): BuiltinSource => ({ name, file: `profiles/${name}.toml`, text });

  it("refuses crate selection keys, relative paths, unknown names", () => {
    const sel = parseBuiltinProfile(src("openssl", 'description = "x"\nversion = "1"\n'));
    expect(!sel.ok && sel.issues.map((i) => [i.line, i.path, i.message])).toEqual([[2, "version", 'unknown key "version"']]);
    const rel = parseBuiltinProfile(src("openssl", 'description = "x"\nread = ["/opt/ok", "vendor"]\n'));
    expect(!rel.ok && rel.issues.map((i) => [i.line, i.path])).toEqual([[2, "read[1]"]]);
    expect(parseBuiltinProfile(src("nope", 'description = "x"\n')).ok).toBe(false);
    const missing = parseBuiltinProfile(src("openssl", 'env = ["X"]\n'));
    expect(!missing.ok && missing.issues.map((i) => [i.path, i.message])).toEqual([["description", "is missing"]]);
  });

  it("requires the whole set, once each, without cycles", () => {
    const cyclic = sources.map((s) => (s.name === "pkg-config" ? { ...s, text: `${s.text}\nuse = ["openssl"]\n` } : s));
    const r = parseBuiltinProfiles(cyclic);
    expect(!r.ok && r.issues.map((i) => i.message)).toEqual([
      "built-in profiles use each other in a cycle: pkg-config -> openssl -> pkg-config",
      "built-in profiles use each other in a cycle: openssl -> pkg-config -> openssl",
    ]);
    const short = parseBuiltinProfiles(sources.slice(1));
    expect(!short.ok && short.issues.map((i) => i.message)).toEqual([`the built-in profile ${BUILTIN_PROFILE_NAMES[0]} is missing`]);
    const twice = parseBuiltinProfiles([...sources, sources[0]!]);
    expect(!twice.ok && twice.issues.map((i) => i.message)).toEqual([`the built-in profile ${BUILTIN_PROFILE_NAMES[0]} is given twice`]);
  });
});
