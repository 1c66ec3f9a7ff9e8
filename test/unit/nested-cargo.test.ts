/**
 * A nested cargo in a test's sandbox (`[test.<package>] cargo = true`, trybuild): the cleaned
 * configuration, the grant from cratebox.toml to the sandbox spec, what policies see and cap,
 * the failure line without the grant, and what learn proposes. Pure.
 */
import { parse } from "smol-toml";
import { describe, expect, it } from "vitest";
import type { GraphCrate } from "../../src/core/crate-graph.ts";
import { capGrant, decideStep, describeGrantStatus, type GrantPathFacts, toPolicyInput } from "../../src/core/grant-decision.ts";
import { proposeGrants } from "../../src/core/learn.ts";
import { DEFAULT_LIMITS } from "../../src/core/limits.ts";
import { cleanCargoConfig, NESTED_CARGO_HOME, NestedCargoWatch } from "../../src/core/nested-cargo.ts";
import { parseProfile } from "../../src/core/profile/parse.ts";
import { DENY_ALL, type HostFacts, type NestedCargoFacts, type SandboxGrant, SpecError, type StepRequest, toSandboxSpec } from "../../src/core/sandbox-spec.ts";
import { describeFailure, type StepOutcome } from "../../src/core/step-outcome.ts";
import { grantContext } from "../helpers/grants.ts";

const SECRETS = ["SECRET-CONFIG-TOKEN", "SECRET-CORP-TOKEN", "cargo:token", "hunter2"];

describe("cleanCargoConfig", () => {
  const home = {
    file: "/home/u/.cargo/config.toml",
    text: [
      "[source.crates-io]",
      'replace-with = "vendored"',
      "[source.vendored]",
      'directory = "vendor"', // relative to CARGO_HOME's parent: /home/u/vendor
      "[registry]",
      'default = "corp"',
      'token = "SECRET-CONFIG-TOKEN"',
      'global-credential-providers = ["cargo:token"]',
      "[registries.corp]",
      'index = "sparse+file:///srv/corp-index/"',
      'token = "SECRET-CORP-TOKEN"',
      'credential-provider = ["cargo:token"]',
      "[http]",
      'proxy = "http://user:hunter2@proxy:3128"',
      "[build]",
      'rustc-wrapper = "/usr/bin/sccache"',
      'target-dir = "/somewhere"',
      "[env]",
      'API_KEY = "hunter2"',
      "[net]",
      "offline = false",
      "retry = 3",
      "",
    ].join("\n"),
  };
  const workspace = {
    file: "/work/app/.cargo/config.toml",
    text: '[source.vendored]\ndirectory = "third_party"\n[source.local]\nlocal-registry = "/opt/local-reg"\n[net]\noffline = true\n',
  };

  it("keeps sources, registries by index, registry.default and net; drops tokens, credential providers, http, build, env", () => {
    const c = cleanCargoConfig([home]);
    for (const s of SECRETS) expect(c.toml).not.toContain(s);
    expect(parse(c.toml)).toEqual({
      source: { "crates-io": { "replace-with": "vendored" }, vendored: { directory: "/home/u/vendor" } },
      registries: { corp: { index: "sparse+file:///srv/corp-index/" } },
      registry: { default: "corp" },
      net: { offline: false, retry: 3 },
    });
    expect(c.paths.sort()).toEqual(["/home/u/vendor", "/srv/corp-index"]);
    expect(c.dropped).toEqual(
      expect.arrayContaining([
        "/home/u/.cargo/config.toml: registry.token",
        "/home/u/.cargo/config.toml: registries.corp.token",
        "/home/u/.cargo/config.toml: registries.corp.credential-provider",
        "/home/u/.cargo/config.toml: http",
        "/home/u/.cargo/config.toml: build",
        "/home/u/.cargo/config.toml: env",
      ]),
    );
  });

  it("merges as cargo does: the closer file wins a key, relative paths from the directory holding .cargo/", () => {
    const c = cleanCargoConfig([workspace, home]);
    const doc = parse(c.toml) as { source: Record<string, Record<string, string>>; net: Record<string, unknown> };
    expect(doc.source.vendored).toEqual({ directory: "/work/app/third_party" });
    expect(doc.source.local).toEqual({ "local-registry": "/opt/local-reg" });
    expect(doc.net).toEqual({ offline: true, retry: 3 });
    expect(c.paths.sort()).toEqual(["/opt/local-reg", "/srv/corp-index", "/work/app/third_party"]);
  });

  it("drops a source or index URL that carries a user or password; an ssh user stays", () => {
    const c = cleanCargoConfig([
      {
        file: "/w/.cargo/config.toml",
        text: [
          "[source.fork]",
          'git = "https://x-access-token:ghp_SECRET@github.com/org/fork"',
          "[source.mirror]",
          'registry = "sparse+https://ci:hunter2@mirror.corp/index/"',
          "[source.ssh]",
          'git = "ssh://git@github.com/org/repo"',
          "[registries.corp]",
          'index = "https://TOKEN123@git.corp/index"',
          "",
        ].join("\n"),
      },
    ]);
    for (const s of ["ghp_SECRET", "hunter2", "TOKEN123"]) expect(c.toml).not.toContain(s);
    // an entry left without a location goes as a whole: cargo would refuse it
    expect(parse(c.toml)).toEqual({ source: { ssh: { git: "ssh://git@github.com/org/repo" } } });
    expect(c.dropped).toEqual([
      "/w/.cargo/config.toml: source.fork.git",
      "/w/.cargo/config.toml: source.mirror.registry",
      "/w/.cargo/config.toml: registries.corp.index",
      "source.fork (no location left)",
      "source.mirror (no location left)",
      "registries.corp (no index left)",
    ]);
  });

  it("takes CARGO_NET_OFFLINE from the environment over the files, and skips a file that does not parse", () => {
    const c = cleanCargoConfig([{ file: "/x/.cargo/config.toml", text: "[net\n" }, home], { CARGO_NET_OFFLINE: "true" });
    expect((parse(c.toml) as { net: { offline: boolean } }).net.offline).toBe(true);
  });

  it("sees a nested cargo's failure in test output, also across two chunks", () => {
    const w = new NestedCargoWatch();
    w.push(Buffer.from("error: no matching package "));
    expect(w.seen).toBe(false);
    w.push(Buffer.from("named `glob` found\n"));
    expect(w.seen).toBe(true);
    for (const text of [
      "thread 'ui' panicked at /usr/share/cargo/registry/trybuild-1.0.76/src/run.rs:61:13:",
      "error: failed to get `glob` as a dependency of package `x-tests v0.0.0`",
      "error: could not find `Cargo.toml` in `/w` or any parent directory",
    ]) {
      const one = new NestedCargoWatch();
      one.push(Buffer.from(text));
      expect(one.seen, text).toBe(true);
    }
    const other = new NestedCargoWatch();
    other.push(Buffer.from("assertion `left == right` failed\n  left: 1\n right: 2"));
    expect(other.seen).toBe(false);
  });
});

const profileOk = (text: string) => parseProfile(text, "/work/app/cratebox.toml");

describe("the cargo grant in cratebox.toml", () => {
  it("is a [test.*] key; elsewhere it is an error naming where it belongs", () => {
    expect(profileOk("version = 1\n[test.mymacro]\ncargo = true\n").ok).toBe(true);
    const r = profileOk('version = 1\n[build.foo]\ncargo = true\nenv = ["X"]\n');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.map((i) => i.message).join("\n")).toMatch(/cargo \(a nested cargo\) belongs in \[test\.<package>\]/);
    // cargo = false alone grants nothing: it must say reviewed
    expect(profileOk("version = 1\n[test.mymacro]\ncargo = false\n").ok).toBe(false);
  });

  const member: GraphCrate = {
    id: "mymacro 0.1.0",
    name: "mymacro",
    version: "0.1.0",
    source: "path",
    checksum: undefined,
    manifestDir: "/work/app/mymacro",
    hasBuildScript: false,
    isProcMacro: true,
    features: [],
    isWorkspaceMember: true,
    dependents: [],
    requests: undefined,
  };
  const paths: GrantPathFacts = { workspaceRoot: "/work/app", home: "/home/u", buildRoots: ["/work/app/target"], realpath: (p) => p };

  it("reaches the step's grant, its summary, profiles ls and the policy input; absent, nothing of it", () => {
    const ctx = grantContext("version = 1\n[test.mymacro]\ncargo = true\n");
    const d = decideStep(ctx, member, "test", paths);
    expect(d.grant.cargo).toBe(true);
    expect(d.summary.items).toContainEqual({ key: "cargo", value: "true", from: "[test.mymacro] (/work/app/cratebox.toml:3)" });
    expect(describeGrantStatus(ctx, member, "test")).toBe("[test.mymacro] nested cargo");
    expect(toPolicyInput(ctx, [member], ["test"], false).crates[0]?.requested.test?.cargo).toBe(true);

    const none = grantContext();
    expect(decideStep(none, member, "test", paths).grant.cargo).toBe(false);
    expect(decideStep(none, member, "test", paths).summary.items.some((i) => i.key === "cargo")).toBe(false);
    expect(toPolicyInput(none, [member], ["test"], false).crates[0]?.requested.test?.cargo).toBe(false);
  });

  it("is taken away by a policy's cap cargo: false, citing the rule", () => {
    const ctx = grantContext("version = 1\n[test.mymacro]\ncargo = true\n", {
      policies: [{ file: "/org/p.js", decisions: [{ crate: "*", phase: "test", action: "cap", caps: { cargo: false }, rule: "no-nested-cargo" }] }],
    });
    const { effective, outcome } = capGrant(ctx, member, "test");
    expect(effective.cargo.value).toBe(false);
    expect(outcome?.shapedBy).toContainEqual({ file: "/org/p.js", rule: "no-nested-cargo", capability: "cargo", detail: "cargo (nested cargo) on -> off" });
    expect(decideStep(ctx, member, "test", paths).grant.cargo).toBe(false);
  });
});

describe("toSandboxSpec with a nested cargo", () => {
  const target = "/work/app/target";
  const testBin = `${target}/debug/deps/ui-dddddddddddddddd`;
  const nested: NestedCargoFacts = {
    configFile: "/tmp/cratebox-run/nested-cargo-config.toml",
    sourcePaths: ["/srv/vendor"],
    caches: [{ name: "registry", path: "/home/u/.cargo/registry" }],
    workspaceRoot: "/work/app",
  };
  const host = (over: Partial<HostFacts> = {}): HostFacts => ({
    image: "img",
    uid: 1000,
    gid: 1000,
    sysroot: "/opt/rust",
    home: "/home/u",
    buildRoots: [target],
    systemPaths: ["/usr"],
    realpath: (p) => p,
    isFile: () => true,
    targetTmpDir: `${target}/tmp`,
    binExecutables: [],
    nestedCargo: nested,
    ...over,
  });
  const req: StepRequest = {
    phase: "test",
    program: testBin,
    args: [],
    cwd: "/work/app/mymacro",
    env: { CARGO_PKG_NAME: "mymacro", CARGO_MANIFEST_DIR: "/work/app/mymacro", CARGO: "/opt/rust/bin/cargo", CARGO_HOME: "/home/u/.cargo" },
  };
  const granted: SandboxGrant = { ...DENY_ALL, cargo: true };

  it("without the grant: no CARGO_HOME, no configuration, no workspace root, no caches", () => {
    const s = toSandboxSpec(req, host(), DEFAULT_LIMITS, {});
    expect(s.env.CARGO_HOME).toBeUndefined();
    expect(s.withheldEnv).toContain("CARGO_HOME");
    const targets = s.mounts.map((m) => m.target);
    expect(targets).not.toContain(`${NESTED_CARGO_HOME}/config.toml`);
    expect(targets).not.toContain("/work/app");
    expect(targets).not.toContain("/srv/vendor");
    expect(s.mounts.some((m) => m.source.startsWith("/home/u/.cargo"))).toBe(false);
  });

  it("with it: a private writable CARGO_HOME holding the cleaned config read-only, the sources, caches and workspace root read-only", () => {
    const s = toSandboxSpec(req, host(), DEFAULT_LIMITS, {}, granted);
    expect(s.env.CARGO_HOME).toBe(NESTED_CARGO_HOME);
    expect(s.tmpfs).toContainEqual({ target: NESTED_CARGO_HOME, options: "rw,nosuid,nodev,noexec,size=64m,mode=1777" });
    expect(s.mounts).toContainEqual({ source: nested.configFile, target: `${NESTED_CARGO_HOME}/config.toml`, readOnly: true });
    expect(s.mounts).toContainEqual({ source: "/home/u/.cargo/registry", target: `${NESTED_CARGO_HOME}/registry`, readOnly: true });
    expect(s.mounts).toContainEqual({ source: "/srv/vendor", target: "/srv/vendor", readOnly: true });
    expect(s.mounts).toContainEqual({ source: "/work/app", target: "/work/app", readOnly: true });
    // never the host's CARGO_HOME itself (config.toml with tokens, credentials.toml)
    expect(s.mounts.some((m) => m.source === "/home/u/.cargo" || m.source.endsWith("credentials.toml"))).toBe(false);
    // target/ stays the private tmpfs laid over the read-only workspace root
    expect(s.tmpfs.find((t) => t.target === target)?.options).toMatch(/(^|,)exec(,|$)/);
    expect(s.mounts.every((m) => !m.readOnly || m.target !== target)).toBe(true);
  });

  it("refuses a configured source that contains the home directory, and a grant without prepared facts", () => {
    expect(() => toSandboxSpec(req, host({ nestedCargo: { ...nested, sourcePaths: ["/home"] } }), DEFAULT_LIMITS, {}, granted)).toThrow(SpecError);
    const { nestedCargo: _, ...without } = host();
    expect(() => toSandboxSpec(req, without, DEFAULT_LIMITS, {}, granted)).toThrow(/no cargo configuration was prepared/);
  });
});

const failedTest = (over: Partial<StepOutcome> = {}): StepOutcome => ({
  phase: "test",
  crate: "mymacro",
  version: "0.1.0",
  program: "ui",
  manifestDir: "/work/app/mymacro",
  image: "img",
  containerId: "c",
  backend: "bwrap",
  ok: false,
  cause: "exit",
  exitCode: 101,
  signal: undefined,
  durationMs: 1,
  runMs: 1,
  limits: DEFAULT_LIMITS,
  grant: { table: null, items: [] },
  withheldEnv: [],
  withheldPaths: [],
  blockedDirectives: [],
  askedWithheld: [],
  source: "path",
  network: "none",
  egress: [],
  nestedCargoSeen: true,
  ...over,
});

describe("a nested cargo failing without the grant", () => {
  it("says the sandbox was involved and names the exact grant", () => {
    expect(describeFailure(failedTest())).toBe(
      'test binary ui of mymacro 0.1.0 failed in the sandbox after a nested cargo (trybuild) in it failed: without a grant it sees none of your cargo configuration (source replacement, registries), registry caches or workspace root; if it runs cargo, grant in cratebox.toml: [test.mymacro] version = "=0.1.0" cargo = true (a cleaned copy of the configuration, no credentials)',
    );
  });

  it("names the policy rule that took the grant away instead", () => {
    const grant = {
      table: "[test.mymacro]",
      items: [{ key: "policy:cargo", value: "cargo (nested cargo) on -> off", from: "policy rule no-nested (/org/p.js)" }],
    };
    expect(describeFailure(failedTest({ grant }))).toBe(
      "test binary ui of mymacro 0.1.0 failed in the sandbox after a nested cargo (trybuild) in it failed: cratebox.toml grants it cargo = true, but policy rule no-nested (/org/p.js) took that away",
    );
  });

  it("says nothing of it when the grant was there (the test failed on its own) or nothing showed a nested cargo", () => {
    expect(describeFailure(failedTest({ grant: { table: "[test.mymacro]", items: [{ key: "cargo", value: "true", from: "x" }] } }))).toBeUndefined();
    expect(describeFailure(failedTest({ nestedCargoSeen: false }))).toBeUndefined();
  });

  it("learn proposes cargo = true, pinned, and nothing else", () => {
    const p = proposeGrants({
      current: undefined,
      file: "/work/app/cratebox.toml",
      workspaceRoot: "/work/app",
      outcomes: [
        failedTest({
          denials: {
            reads: ["/work/app/Cargo.toml", "/etc/gitconfig"],
            writes: [],
            connects: [],
            sockets: [],
            sequence: [
              { kind: "read", value: "/etc/gitconfig" },
              { kind: "read", value: "/work/app/Cargo.toml" },
            ],
          },
        }),
      ],
      checksumOf: () => undefined,
      isDirectory: () => false,
    });
    expect(p.tables).toEqual(["test.mymacro"]);
    expect(p.text).toContain('[test.mymacro]\nversion = "=0.1.0"\ncargo = true\n');
    expect(p.text).not.toContain("read =");
    expect(p.lines[0]).toBe(
      "learn: mymacro 0.1.0 (ui) failed after a nested cargo in it failed; proposing cargo = true; also tried (not proposed): read /work/app/Cargo.toml, read /etc/gitconfig",
    );
  });
});
