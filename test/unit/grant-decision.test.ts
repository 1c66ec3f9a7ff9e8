/** From cratebox.toml and the policies to one step's decision, and the checks before cargo starts. Pure. */
import { describe, expect, it } from "vitest";
import type { GraphCrate } from "../../src/core/crate-graph.ts";
import {
  capGrant,
  decideStep,
  describeGrantStatus,
  type GrantPathFacts,
  preflightProblems,
  toPolicyInput,
  toPreflightError,
  toSandboxGrant,
} from "../../src/core/grant-decision.ts";
import type { PolicyDecisions } from "../../src/core/policy/schema.ts";
import { grantContext } from "../helpers/grants.ts";

const HEX = "c".repeat(64);
const existing = new Set([
  "/work/app",
  "/work/app/schemas",
  "/work/app/gen",
  "/opt/sdk",
  "/home/u",
  "/home/u/sdk",
  "/home/u/.cache",
  "/home/u/.cache/cratebox/tickets",
  "/work/app/target",
  "/work/app/link",
]);
const links: Record<string, string> = { "/work/app/link": "/etc" };
const paths: GrantPathFacts = {
  workspaceRoot: "/work/app",
  home: "/home/u",
  buildRoots: ["/work/app/target"],
  realpath: (p) => links[p] ?? (existing.has(p) || p === "/etc" ? p : undefined),
  crateboxState: "/home/u/.cache/cratebox",
};

function crate(over: Partial<GraphCrate> = {}): GraphCrate {
  return {
    id: "foo 1.0.0",
    name: "foo",
    version: "1.0.0",
    source: "registry",
    checksum: HEX,
    manifestDir: "/reg/foo-1.0.0",
    hasBuildScript: true,
    isProcMacro: false,
    features: ["default"],
    isWorkspaceMember: false,
    dependents: ["app"],
    requests: undefined,
    ...over,
  };
}

const policy = (decisions: PolicyDecisions["decisions"]): PolicyDecisions[] => [{ file: "/org/p.js", decisions }];

describe("decideStep", () => {
  it("turns a table into host terms: env patterns, real read paths, a proxied host list, directives, limits", () => {
    const ctx = grantContext(
      'version = 1\n[build.foo]\nenv = ["FOO_*"]\nread = ["schemas", "/opt/sdk"]\nnetwork = ["static.example.org:443"]\ndirectives = ["rustc-link-arg=-Wl,-T*"]\nmemory = "1GiB"\n',
    );
    const d = decideStep(ctx, crate(), "build", paths);
    expect(d.grant.env.map((e) => e.text)).toEqual(["FOO_*"]);
    expect(d.grant.read).toEqual(["/work/app/schemas", "/opt/sdk"]);
    expect(d.grant.network).toEqual({ kind: "proxy", hosts: ["static.example.org:443"], fetch: [] });
    expect(d.directives).toEqual(["rustc-link-arg=-Wl,-T*"]);
    expect(d.limits.memoryBytes).toBe(1024 ** 3);
    expect(d.summary.table).toMatch(/^\[build\.foo\] \(\/work\/app\/cratebox\.toml:2\)$/);
    expect(d.summary.items).toContainEqual({ key: "env", value: "FOO_*", from: "[build.foo] (/work/app/cratebox.toml:3)" });
  });

  it("gives a crate no table names the default: deny", () => {
    const d = decideStep(grantContext(), crate(), "build", paths);
    expect(d.grant).toEqual({ env: [], read: [], write: [], network: { kind: "none" }, runtime: "runc", cargo: false });
    expect(d.summary.table).toBeNull();
  });

  it("applies the policies' ceilings and cites the rule", () => {
    const ctx = grantContext('version = 1\n[build.foo]\nenv = ["FOO_*", "CC"]\nnetwork = true\ntimeout = "1h"\n', {
      policies: policy([{ crate: "*", phase: "build", action: "cap", caps: { network: false, env: ["CC"], timeoutMs: 60_000 }, rule: "tight" }]),
    });
    const d = decideStep(ctx, crate(), "build", paths);
    expect(d.grant.network).toEqual({ kind: "none" });
    expect(d.grant.env.map((e) => e.text)).toEqual(["CC"]);
    expect(d.limits.timeoutMs).toBe(60_000);
    expect(d.summary.items.filter((i) => i.key.startsWith("policy:")).map((i) => i.key)).toEqual(["policy:network", "policy:timeoutMs", "policy:env"]);
    expect(d.summary.items.find((i) => i.key === "timeout")?.from).toBe("[policy rule tight] (/org/p.js)");
  });
});

describe("capGrant", () => {
  it("keeps lists the policies do not see (directives) and removes listed hosts outside a ceiling", () => {
    const ctx = grantContext('version = 1\n[build.foo]\ndirectives = ["rustc-cfg=x"]\nnetwork = ["a.example:443", "b.example:443"]\n', {
      policies: policy([{ crate: "foo", phase: "build", action: "cap", caps: { hosts: ["a.example:*"] } }]),
    });
    const { effective, outcome } = capGrant(ctx, crate(), "build");
    expect(effective.directives.map((d) => d.value)).toEqual(["rustc-cfg=x"]);
    expect(effective.hosts.map((h) => h.value)).toEqual(["a.example:443"]);
    expect(outcome?.shapedBy.map((s) => s.detail)).toEqual(["b.example:443 removed (ceiling: a.example:*)"]);
  });

  it("returns the grant untouched without policies", () => {
    const { effective, outcome } = capGrant(grantContext('version = 1\n[build.foo]\nenv = ["A"]\n'), crate(), "build");
    expect(outcome).toBeUndefined();
    expect(effective.env.map((e) => e.value.text)).toEqual(["A"]);
  });
});

describe("toSandboxGrant: granted paths on the real file system", () => {
  const decide = (table: string) => () => decideStep(grantContext(`version = 1\n[build.foo]\n${table}\n`), crate(), "build", paths);
  it("refuses a path that does not exist", () => expect(decide('read = ["missing"]')).toThrow(/read path missing does not exist \(\/work\/app\/missing\)/));
  it("refuses a relative path that leaves the workspace through a symlink", () =>
    expect(decide('read = ["link"]')).toThrow(/leads out of the workspace through a symbolic link \(to \/etc\)/));
  it("refuses a path that would expose the whole home", () => expect(decide('read = ["/home/u"]')).toThrow(/would expose your whole home directory/));
  it("allows a directory below the home", () => expect(decide('read = ["/home/u/sdk"]')().grant.read).toEqual(["/home/u/sdk"]));
  it.each([
    ['read = ["/home/u/.cache"]', "read"],
    ['write = ["/home/u/.cache"]', "write"],
    ['read = ["/home/u/.cache/cratebox/tickets"]', "read"],
  ])("refuses a path that reaches cratebox's own state (%s)", (table, key) =>
    expect(decide(table)).toThrow(new RegExp(`${key} path .* reaches cratebox's own state \\(/home/u/.cache/cratebox`)),
  );
  it("refuses writing into cargo's build directory", () =>
    expect(() =>
      toSandboxGrant(
        {
          ...capGrant(grantContext('version = 1\n[build.foo]\nwrite = ["gen"]\n'), crate(), "build").effective,
          write: [{ value: "target", origin: { kind: "built-in-default" } }],
        },
        paths,
      ),
    ).toThrow(/overlaps cargo's build directory/));
  it("allows writing a generated-files directory", () => expect(decide('write = ["gen"]')().grant.write).toEqual(["/work/app/gen"]));
  it("names the file and line of the grant", () => expect(decide('read = ["missing"]')).toThrow(/^\/work\/app\/cratebox\.toml:3: read path/));
});

describe("preflightProblems", () => {
  it("collects stale pins, bad paths, policy refusals and unreviewed build scripts at once", () => {
    const ctx = grantContext('version = 1\n[build.foo]\nversion = "=0.9.0"\nenv = ["A"]\n[build.bar]\nread = ["missing"]\n[build.baz]\nenv = ["B"]\n', {
      policies: policy([{ crate: "baz", phase: "build", action: "deny", rule: "no-baz", message: "baz is banned" }]),
    });
    const crates = [crate(), crate({ name: "bar", id: "bar" }), crate({ name: "baz", id: "baz" }), crate({ name: "qux", id: "qux" })];
    const problems = preflightProblems(ctx, crates, true, paths, (c, stale) => ` [diff of ${c.name} since ${stale.map((s) => s.version).join()}]`);
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/^grant for the build script of foo does not apply: .*was reviewed for version =0\.9\.0.* \[diff of foo since =0\.9\.0\]$/);
    expect(problems[1]).toMatch(/read path missing does not exist/);
    expect(problems[2]).toBe("baz 1.0.0 build script: denied by /org/p.js (rule no-baz): baz is banned");
    expect(problems[3]).toMatch(/^strict: qux 1\.0\.0 \(registry\) has a build script but no \[build\.qux\] table selects it/);
    expect(toPreflightError("/work/app/cratebox.toml", problems)).toMatchObject({ code: "GRANTS_STOP", exitCode: 2 });
  });

  it("finds nothing to say about a fitting file", () => {
    expect(preflightProblems(grantContext('version = 1\n[build.foo]\nenv = ["A"]\n'), [crate()], true, paths)).toEqual([]);
  });
});

describe("toPolicyInput", () => {
  it("shows every crate with the grant cratebox.toml requests for each of its phases, before any policy", () => {
    const ctx = grantContext('version = 1\n[build.foo]\nversion = "=1.0.0"\nenv = ["A"]\n[test.app]\nnetwork = true\n', {
      policies: policy([{ crate: "*", phase: "*", action: "cap", caps: { network: false } }]),
    });
    const input = toPolicyInput(
      ctx,
      [crate(), crate({ name: "app", id: "app", source: "path", checksum: undefined, hasBuildScript: false, isWorkspaceMember: true })],
      ["build"],
      true,
    );
    expect(input.run).toEqual({ command: ["build"], ci: true });
    expect(input.crates[0]).toMatchObject({
      name: "foo",
      checksum: `sha256:${HEX}`,
      requested: { build: { table: "build.foo", env: ["A"], pinned: { version: "=1.0.0" } }, test: null, rustc: null },
    });
    expect(input.crates[1]).toMatchObject({ name: "app", checksum: null, requested: { build: null, test: { network: true }, rustc: null } });
  });
});

describe("describeGrantStatus (profiles ls)", () => {
  it("says what a table grants, loudly for writes and full network", () => {
    const ctx = grantContext('version = 1\n[build.foo]\nuse = ["pkg-config"]\nwrite = ["gen"]\nnetwork = true\n[build.bar]\nreviewed = true\n');
    expect(describeGrantStatus(ctx, crate(), "build")).toMatch(/^\[build\.foo\] use pkg-config; env PKG_CONFIG\*,.*; WRITE gen; NETWORK$/);
    expect(describeGrantStatus(ctx, crate({ name: "bar" }), "build")).toBe("[build.bar] reviewed: default deny");
    expect(describeGrantStatus(ctx, crate({ name: "qux" }), "build")).toBe("default: deny");
  });
});
