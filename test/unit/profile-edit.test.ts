import { describe, expect, it } from "vitest";
import { removeTable, upsertTable } from "../../src/core/profile/edit.ts";
import { parseProfile } from "../../src/core/profile/parse.ts";

const FILE = `# our reviewed grants
version = 1

[defaults]
timeout = "20m"   # CI is slow

# openssl needs the system library
[build.openssl-sys]
version = "=0.9.80"   # reviewed by ana
use = ["pkg-config"]
env = [
  "OPENSSL_DIR", # the vendored one
  "OPENSSL_STATIC",
]

[test.app]
source = "path"
reviewed = true
`;

describe("upsertTable", () => {
  it("replaces keys in place, keeps comments and every other line", () => {
    const out = upsertTable(FILE, "build.openssl-sys", {
      set: { version: "=0.9.81", env: ["OPENSSL_DIR", "OPENSSL_STATIC", "OPENSSL_NO_VENDOR"], checksum: `sha256:${"a".repeat(64)}` },
    });
    expect(out).toContain('version = "=0.9.81" # reviewed by ana');
    expect(out).toContain('env = ["OPENSSL_DIR", "OPENSSL_STATIC", "OPENSSL_NO_VENDOR"]');
    expect(out).toContain(`checksum = "sha256:${"a".repeat(64)}"\n\n[test.app]`);
    expect(out).toContain("# openssl needs the system library\n[build.openssl-sys]");
    expect(out).toContain('timeout = "20m"   # CI is slow');
    expect(out.split("\n").filter((l) => l.includes("[test.app]"))).toHaveLength(1);
    expect(parseProfile(out, "cratebox.toml").ok).toBe(true);
  });

  it("removes keys and appends a new table with a comment", () => {
    const denied = upsertTable(FILE, "build.openssl-sys", { set: { reviewed: true }, remove: ["env", "use"] });
    expect(denied).not.toContain("OPENSSL_DIR");
    expect(denied).not.toContain("pkg-config");
    expect(denied).toContain('version = "=0.9.80"   # reviewed by ana\nreviewed = true');
    const added = upsertTable(FILE, "build.libz-sys", { set: { version: "=1.1.8", reviewed: true }, comment: ["reviewed with cratebox deny"] });
    expect(added.endsWith('\n# reviewed with cratebox deny\n[build.libz-sys]\nversion = "=1.1.8"\nreviewed = true\n')).toBe(true);
    expect(parseProfile(added, "cratebox.toml").ok).toBe(true);
  });

  it("finds quoted headers", () => {
    const out = upsertTable('version = 1\n[build."ring"]\nreviewed = true\n', "build.ring", { set: { version: "=0.16.20" } });
    expect(out).toBe('version = 1\n[build."ring"]\nreviewed = true\nversion = "=0.16.20"\n');
  });
});

describe("removeTable", () => {
  it("removes the table and the comment above it, nothing else", () => {
    const out = removeTable(FILE, "build.openssl-sys");
    expect(out).not.toContain("openssl");
    expect(out).toContain('[defaults]\ntimeout = "20m"   # CI is slow\n\n[test.app]');
    expect(parseProfile(out, "cratebox.toml").ok).toBe(true);
  });
});
