import { describe, expect, it } from "vitest";
import { formatProfileIssue, parseProfile, ProfileInvalidError, type ProfileIssue } from "../../src/core/profile/parse.ts";
import { emptyProfile } from "../../src/core/profile/empty.ts";
import { SIZE_ACCEPTED, DURATION_ACCEPTED } from "../../src/core/limits.ts";

const FILE = "cratebox.toml";
const HEX = "ab".repeat(32);

function issuesOf(text: string): ProfileIssue[] {
  const r = parseProfile(text, FILE);
  if (r.ok) throw new Error(`expected problems, got a valid profile: ${JSON.stringify(r.value.profile)}`);
  return r.issues;
}

/** The single problem of a file, checked to carry file, line and path. */
function oneIssue(text: string): ProfileIssue {
  const issues = issuesOf(text);
  expect(issues, issues.map(formatProfileIssue).join("\n")).toHaveLength(1);
  expect(issues[0]!.file).toBe(FILE);
  return issues[0]!;
}

const entry = (body: string) => `version = 1\n\n[build.openssl-sys]\n${body}\n`;
/** An entry that is valid apart from `body` (which is on line 4). */
const reviewed = (body: string) => `version = 1\n\n[build.openssl-sys]\n${body}\nreviewed = true\n`;

describe("parseProfile: a valid file", () => {
  it("normalises sizes, durations, paths and checksums, and applies the scope's default source", () => {
    const r = parseProfile(
      `#:schema ./node_modules/cratebox/profiles/schema.json
version = 1
strict = true

[defaults]
memory = "4GiB"
pids = 512
timeout = "15m"
cpus = 2
tmp = "1GiB"

[build.openssl-sys]
version = "0.9"
checksum = "${HEX.toUpperCase()}"
use = ["pkg-config", "openssl"]
env = ["OPENSSL_DIR", "OPENSSL_*", "*_STATIC"]
read = ["./vendor/sdk/", "/opt/sdk"]
network = false
memory = 1073741824
timeout = 90

[[build.ring]]
version = "=0.17.8"
reviewed = true

[[build.ring]]
version = ">=0.16, <0.17"
runtime = "runsc"
image = "debian:bookworm"

[test.my-app]
network = true
read = ["fixtures/"]
`,
      FILE,
    );
    if (!r.ok) throw new Error(r.issues.map(formatProfileIssue).join("\n"));
    const p = r.value.profile;
    expect(p.strict).toBe(true);
    expect(p.defaults).toEqual({ memory: 4 * 1024 ** 3, pids: 512, timeout: 900_000, cpus: 2, tmp: 1024 ** 3 });
    const openssl = p.build!["openssl-sys"];
    expect(openssl).toMatchObject({
      version: "0.9",
      source: "registry",
      checksum: `sha256:${HEX}`,
      use: ["pkg-config", "openssl"],
      read: ["vendor/sdk", "/opt/sdk"],
      network: false,
      memory: 1024 ** 3,
      timeout: 90_000,
    });
    expect(Array.isArray(p.build!.ring) && p.build!.ring.map((e) => e.version)).toEqual(["=0.17.8", ">=0.16, <0.17"]);
    expect(p.test!["my-app"]).toMatchObject({ source: "path", network: true, read: ["fixtures"] });
    expect(r.warnings).toEqual([]);
  });

  it("defaults strict to false and accepts the smallest file", () => {
    const r = parseProfile("version = 1\n", FILE);
    expect(r.ok && r.value.profile).toEqual({ version: 1, strict: false });
  });

  it("is what a workspace without cratebox.toml gets, without parsing (emptyProfile)", () => {
    const r = parseProfile("version = 1\n", FILE);
    expect(r.ok && r.value.profile).toEqual(emptyProfile(FILE).profile);
  });

  it("warns loudly, with the line, about every writable path", () => {
    const r = parseProfile(entry('write = ["generated/", "/var/cache/sdk"]'), FILE);
    if (!r.ok) throw new Error("expected valid");
    expect(r.warnings.map(formatProfileIssue)).toEqual([
      "cratebox.toml:4: build.openssl-sys.write[0]: grants WRITE access to generated on the host to the build script of openssl-sys: it can change or plant files there",
      "cratebox.toml:4: build.openssl-sys.write[1]: grants WRITE access to /var/cache/sdk on the host to the build script of openssl-sys: it can change or plant files there",
    ]);
  });
});

describe("parseProfile: every class of invalid file has its message", () => {
  it("a TOML syntax error is one problem with its line", () => {
    const i = oneIssue('version = 1\n\n[build.x]\nmemory = "1g\n');
    expect(i).toMatchObject({ line: 4, path: "" });
    expect(i.message).toMatch(/^TOML syntax error: /);
  });

  it("a table defined twice is a syntax error with the second line", () => {
    expect(oneIssue("version = 1\n[build.x]\nreviewed = true\n[build.x]\n").line).toBe(4);
  });

  it("an unknown key names the key, suggests the near one, and lists what is valid", () => {
    const i = oneIssue(entry('memroy = "1g"'));
    expect(i).toMatchObject({ line: 4, path: "build.openssl-sys.memroy" });
    expect(i.message).toBe('unknown key "memroy" (did you mean "memory"?)');
    expect(i.accepted).toContain("memory");
    expect(oneIssue("version = 1\nstrikt = true\n").message).toBe('unknown key "strikt" (did you mean "strict"?)');
    expect(oneIssue("version = 1\nfrobnicate = 1\n").message).toBe('unknown key "frobnicate"');
  });

  it("[defaults] takes limits only: a capability there is an unknown key", () => {
    const i = oneIssue('version = 1\n[defaults]\nenv = ["CC"]\n');
    expect(i).toMatchObject({ line: 3, path: "defaults.env", message: 'unknown key "env"' });
    expect(i.accepted).toBe("one of memory, pids, timeout, cpus, tmp, image, runtime");
  });

  it("a wrong type says what was given and what is accepted", () => {
    const i = oneIssue(entry('env = "OPENSSL_DIR"'));
    expect(i).toMatchObject({ line: 4, path: "build.openssl-sys.env", message: 'has the wrong type: the string "OPENSSL_DIR"' });
    expect(i.accepted).toMatch(/^a list of variable names or patterns/);
    expect(oneIssue(entry("memory = true"))).toMatchObject({ message: "has the wrong type: true", accepted: SIZE_ACCEPTED });
    expect(oneIssue(entry("reviewed = 1979-05-27"))).toMatchObject({ message: "has the wrong type: a date" });
    expect(oneIssue("version = 1\n[build]\nopenssl-sys = 5\n")).toMatchObject({
      line: 3,
      path: "build.openssl-sys",
      message: "has the wrong type: the number 5",
      accepted: "a table [build.openssl-sys], or several [[build.openssl-sys]]",
    });
  });

  it("a missing or unsupported version", () => {
    expect(oneIssue("[defaults]\n")).toMatchObject({ path: "version", message: "is missing", accepted: expect.stringMatching(/^1 /) });
    expect(oneIssue("version = 2\n")).toMatchObject({ line: 1, path: "version", message: "the number 2 is not accepted here" });
  });

  it("a bad size and a bad duration use the accepted texts of limits.ts", () => {
    expect(oneIssue(entry('memory = "lots"'))).toEqual({
      file: FILE,
      line: 4,
      path: "build.openssl-sys.memory",
      message: '"lots" is not a size',
      accepted: SIZE_ACCEPTED,
    });
    expect(oneIssue(entry("tmp = 0"))).toMatchObject({ message: "0 is not a size", accepted: SIZE_ACCEPTED });
    expect(oneIssue(entry('timeout = "soon"'))).toMatchObject({
      path: "build.openssl-sys.timeout",
      message: '"soon" is not a duration',
      accepted: DURATION_ACCEPTED,
    });
    expect(oneIssue(entry("pids = 1.5"))).toMatchObject({ message: "1.5 is not a positive whole number" });
    expect(oneIssue(entry("cpus = -1"))).toMatchObject({ message: "-1 is not a positive number of CPUs" });
  });

  it("a path escaping the workspace root, and other refused paths", () => {
    const i = oneIssue(entry('read = ["vendor", "../secrets"]'));
    expect(i).toMatchObject({ line: 4, path: "build.openssl-sys.read[1]" });
    expect(i.message).toBe('"../secrets" leaves the workspace root; write an absolute path if you mean a place outside it');
    expect(oneIssue(entry('read = ["a/../../b"]')).message).toMatch(/leaves the workspace root/);
    expect(oneIssue(entry('read = ["~/.ssh"]')).message).toMatch(/"~" is not expanded/);
    expect(oneIssue(entry('read = ["/"]')).message).toMatch(/whole host filesystem/);
    expect(oneIssue(entry('read = ["/var/run/docker.sock"]')).message).toMatch(/never mounted/);
    expect(oneIssue(entry('write = ["."]')).message).toMatch(/whole workspace writable/);
    expect(oneIssue(entry('write = [".git/hooks"]')).message).toMatch(/write .git, which leads to code running on the host/);
    expect(oneIssue(entry('write = ["target/debug"]')).message).toMatch(/write target/);
    expect(oneIssue(entry('write = ["/usr/local"]')).message).toMatch(/would make \/usr writable/);
  });

  it("a bad semver requirement", () => {
    const i = oneIssue(reviewed('version = "1 - 2"'));
    expect(i).toMatchObject({ path: "build.openssl-sys.version", line: 4 });
    expect(i.message).toMatch(/^"1 - 2" is not a cargo version requirement/);
    expect(i.accepted).toMatch(/^a cargo version requirement such as "0.9"/);
    expect(oneIssue(reviewed('version = "^1.2 || ^2"')).message).toMatch(/not a cargo version requirement/);
  });

  it("a bad checksum, and a checksum on a source that has none", () => {
    const i = oneIssue(reviewed('checksum = "md5:abc"'));
    expect(i).toMatchObject({ path: "build.openssl-sys.checksum", message: '"md5:abc" is not a sha256 checksum' });
    expect(i.accepted).toMatch(/Cargo.lock/);
    expect(oneIssue(reviewed(`source = "git"\nchecksum = "${HEX}"`))).toMatchObject({
      line: 5,
      path: "build.openssl-sys.checksum",
      message: "a checksum pins a registry package, but this entry selects git crates (Cargo.lock has no checksum for them)",
    });
  });

  it("a bad network entry; a list of hosts is a grant of its own, never taken as true", () => {
    const bad = oneIssue(entry('network = ["static.example.org"]'));
    expect(bad).toMatchObject({ path: "build.openssl-sys.network[0]", message: '"static.example.org" is not "host:port"' });
    expect(oneIssue(entry('network = ["example.org:99999"]')).message).toMatch(/out of range/);
    expect(oneIssue(entry('network = ["*:443"]')).message).toMatch(/is not a host name/);
    expect(oneIssue(entry('network = ["127.0.0.010:80"]')).message).toMatch(/127\.0\.0\.010 is not an IPv4 address/);
    expect(oneIssue(entry('network = ["2130706433:80"]')).message).toMatch(/is not a host name \(nor an address in dotted decimal\)/);
    expect(oneIssue(entry('network = ["[fe80::1%eth0]:80"]')).message).toMatch(/not "host:port"|not an IPv6 address/);
    expect(oneIssue(entry('network = ["a.example:443", "A.example:443"]'))).toMatchObject({
      path: "build.openssl-sys.network[1]",
      message: '"a.example:443" is listed twice',
    });
    expect(oneIssue(entry('network = "yes"'))).toMatchObject({
      message: 'has the wrong type: the string "yes"',
      accepted: expect.stringMatching(/^false .*a list of hosts.* or true/),
    });
    const r = parseProfile(entry('network = ["Static.Example.org:443", "*.internal:8443", "[::1]:80"]'), FILE);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.value.profile.build?.["openssl-sys"]).toMatchObject({ network: ["static.example.org:443", "*.internal:8443", "[::1]:80"] });
  });

  it("fetch entries: an http(s) URL without credentials or fragment, and a SHA-256", () => {
    const sha = "AB".repeat(32);
    const r = parseProfile(entry(`fetch = [{ url = "https://static.example.org/a b.tar.gz", sha256 = "sha256:${sha}" }]`), FILE);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.value.profile.build?.["openssl-sys"]).toMatchObject({ fetch: [{ url: "https://static.example.org/a%20b.tar.gz", sha256: "ab".repeat(32) }] });
    expect(oneIssue(entry(`fetch = [{ url = "ftp://x.example/f", sha256 = "${sha}" }]`))).toMatchObject({
      path: "build.openssl-sys.fetch[0].url",
      message: expect.stringMatching(/only http and https/),
    });
    expect(oneIssue(entry(`fetch = [{ url = "https://u:p@x.example/f", sha256 = "${sha}" }]`)).message).toMatch(/credentials/);
    expect(oneIssue(entry(`fetch = [{ url = "https://x.example/f#top", sha256 = "${sha}" }]`)).message).toMatch(/fragment/);
    expect(oneIssue(entry(`fetch = [{ url = "https://x.example/f", sha256 = "abc" }]`))).toMatchObject({
      path: "build.openssl-sys.fetch[0].sha256",
      message: '"abc" is not a SHA-256 (64 hex digits)',
    });
    expect(oneIssue(entry(`fetch = [{ url = "https://x.example/f" }]`)).path).toBe("build.openssl-sys.fetch[0].sha256");
    expect(oneIssue(entry(`fetch = [{ url = "https://x.example/f", sha256 = "${sha}", size = 3 }]`)).message).toMatch(/unknown key "size"/);
  });

  it("an unknown built-in profile name, with a suggestion", () => {
    const i = oneIssue(entry('use = ["pkgconfig"]'));
    expect(i).toMatchObject({ path: "build.openssl-sys.use[0]", message: 'the string "pkgconfig" is not accepted here (did you mean "pkg-config"?)' });
    expect(i.accepted).toContain('"c-toolchain"');
    expect(oneIssue(entry('use = ["openssl", "openssl"]')).message).toBe('"openssl" is listed twice');
  });

  it("environment patterns that would pass secrets or the sandbox's own variables", () => {
    expect(oneIssue(entry('env = ["*"]')).message).toMatch(/whole host environment/);
    expect(oneIssue(entry('env = ["CARGO_*"]')).message).toMatch(/would also pass CARGO_REGISTRY_TOKEN, a credential/);
    expect(oneIssue(entry('env = ["*_TOKEN"]')).message).toMatch(/a credential/);
    expect(oneIssue(entry('env = ["PATH"]')).message).toMatch(/set by the sandbox itself/);
    expect(oneIssue(entry('env = ["A*B"]')).message).toMatch(/only stand at the start or the end/);
  });

  it("a crate name that is not one, and a table that grants nothing", () => {
    expect(oneIssue('version = 1\n[build."no such crate"]\nreviewed = true\n')).toMatchObject({
      line: 2,
      path: 'build."no such crate"',
      message: '"no such crate" is not a crate name',
    });
    expect(oneIssue("version = 1\n\n[build.cc-demo]\n")).toMatchObject({
      line: 3,
      path: "build.cc-demo",
      message: "this entry grants nothing and is not marked reviewed",
    });
  });

  it("reports every problem at once, in file order, each with its line", () => {
    const issues = issuesOf(`version = 1
strict = "yes"

[defaults]
memory = "4 parsecs"

[build.openssl-sys]
version = "0.9.x.1"
env = [
  "OPENSSL_DIR",
  "BAD NAME",
]
read = ["../up"]
netwrok = true

[[build.ring]]
timeout = "forever"

[[build.ring]]
checksum = "nope"
reviewed = true

[test.my-app]
network = ["db.internal"]
`);
    expect(issues.map((i) => [i.line, i.path])).toEqual([
      [2, "strict"],
      [5, "defaults.memory"],
      [8, "build.openssl-sys.version"],
      [11, "build.openssl-sys.env[1]"],
      [13, "build.openssl-sys.read[0]"],
      [14, "build.openssl-sys.netwrok"],
      [17, "build.ring[0].timeout"],
      [20, "build.ring[1].checksum"],
      [24, "test.my-app.network[0]"],
    ]);
    expect(formatProfileIssue(issues[1]!)).toBe(`cratebox.toml:5: defaults.memory: "4 parsecs" is not a size (accepted: ${SIZE_ACCEPTED})`);
  });

  it("finds lines in inline tables and dotted keys too", () => {
    const issues = issuesOf(`version = 1
[build]
openssl-sys = { env = ["OPENSSL_DIR"], memory = "x" }
ring.timeout = "y"
`);
    expect(issues.map((i) => [i.line, i.path])).toEqual([
      [3, "build.openssl-sys.memory"],
      [4, "build.ring.timeout"],
    ]);
  });
});

describe("ProfileInvalidError", () => {
  it("is a known error (exit 2) listing every problem", () => {
    const r = parseProfile(entry('memory = "x"\ntimeout = "y"'), FILE);
    if (r.ok) throw new Error("expected problems");
    const e = new ProfileInvalidError(r.issues);
    expect(e.code).toBe("PROFILE_INVALID");
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe(
      `cratebox.toml is not valid (2 problems):\n  cratebox.toml:4: build.openssl-sys.memory: "x" is not a size (accepted: ${SIZE_ACCEPTED})\n` +
        `  cratebox.toml:5: build.openssl-sys.timeout: "y" is not a duration (accepted: ${DURATION_ACCEPTED})`,
    );
  });
});

describe("lists", () => {
  it("refuse repeats after normalisation, naming the repeated item", () => {
    expect(oneIssue(entry('env = ["CC", "CC"]'))).toMatchObject({ path: "build.openssl-sys.env[1]", message: '"CC" is listed twice' });
    expect(oneIssue(entry('read = ["vendor/", "./vendor"]'))).toMatchObject({ path: "build.openssl-sys.read[1]", message: '"vendor" is listed twice' });
  });
});
