/**
 * The egress rules (core/egress.ts) and what a host list becomes on its way from cratebox.toml
 * to the container: the resolved grant, the policies' ceilings, the container spec.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  canonicalIp,
  checkAddress,
  decideConnect,
  inCidr,
  matchFetch,
  parseAuthority,
  parseIp,
  proxyEnv,
  toNetworkAccess,
  type HostAddresses,
} from "../../src/core/egress.ts";
import { toCreateOptions } from "../../src/core/container-options.ts";
import { DEFAULT_LIMITS } from "../../src/core/limits.ts";
import { applyPolicies } from "../../src/core/policy/apply.ts";
import { hostCovers } from "../../src/core/policy/ceilings.ts";
import { CapsSchema } from "../../src/core/policy/schema.ts";
import { parseBuiltinProfiles } from "../../src/core/profile/builtins.ts";
import { formatProfileIssue, parseProfile } from "../../src/core/profile/parse.ts";
import { resolveGrant } from "../../src/core/profile/resolve.ts";
import { BUILTIN_PROFILE_NAMES } from "../../src/core/profile/schema.ts";
import { DENY_ALL, RELAY_DIR, SpecError, toSandboxSpec, type HostFacts } from "../../src/core/sandbox-spec.ts";
import { grantView } from "../helpers/policy-input.ts";

const t = (authority: string) => parseAuthority(authority)!;

describe("parseAuthority", () => {
  it("reads names, IPv4 and bracketed IPv6, lowercases, drops a trailing dot, applies a default port", () => {
    expect(parseAuthority("Static.Example.org.:443")).toEqual({ host: "static.example.org", port: 443, literal: false });
    expect(parseAuthority("10.0.0.7:80")).toEqual({ host: "10.0.0.7", port: 80, literal: true });
    expect(parseAuthority("[::1]:8080")).toEqual({ host: "::1", port: 8080, literal: true });
    expect(parseAuthority("example.org", 80)).toEqual({ host: "example.org", port: 80, literal: false });
    for (const bad of ["example.org", "a:0", "a:70000", "user@a:1", "a/b:1", ":80", "[::1"]) expect(parseAuthority(bad), bad).toBeUndefined();
  });
  it("refuses what the C resolver would read as an address in another spelling: leading zeros (octal), one number, hex", () => {
    for (const bad of ["127.0.0.010:80", "010.0.0.7:80", "2130706433:80", "0x7f.1:80", "127.1:80", "[fe80::1%eth0]:80"])
      expect(parseAuthority(bad), bad).toBeUndefined();
    expect(canonicalIp("0:0:0:0:0:ffff:7f00:1")).toBe("0:0:0:0:0:ffff:7f00:1");
    expect(canonicalIp("::1")).toBe("0:0:0:0:0:0:0:1");
    expect(canonicalIp("10.0.0.7")).toBe("10.0.0.7");
  });
});

describe("decideConnect", () => {
  const hosts = ["static.example.org:443", "*.internal:8443", "10.0.0.7:80", "[::1]:8080"];
  it("allows exactly the listed host and port", () => {
    expect(decideConnect(hosts, t("static.example.org:443"))).toEqual({ allowed: true, entry: "static.example.org:443" });
    expect(decideConnect(hosts, t("10.0.0.7:80"))).toEqual({ allowed: true, entry: "10.0.0.7:80" });
    expect(decideConnect(hosts, t("[0:0::1]:8080"))).toEqual({ allowed: true, entry: "[::1]:8080" });
  });
  it("`*.domain` is any name below the domain, never the domain itself or a look-alike", () => {
    expect(decideConnect(hosts, t("db.internal:8443")).allowed).toBe(true);
    expect(decideConnect(hosts, t("a.b.internal:8443")).allowed).toBe(true);
    expect(decideConnect(hosts, t("internal:8443")).allowed).toBe(false);
    expect(decideConnect(hosts, t("evilinternal:8443")).allowed).toBe(false);
    expect(decideConnect(hosts, t("db.internal.evil.example:8443")).allowed).toBe(false);
  });
  it("refuses another port of a listed host, saying which port is listed", () => {
    expect(decideConnect(hosts, t("static.example.org:22"))).toEqual({ allowed: false, reason: "static.example.org is listed for port 443 only" });
  });
  it("a listed name does not allow its address, nor a listed address a name", () => {
    expect(decideConnect(["localhost:80"], t("127.0.0.1:80"))).toEqual({ allowed: false, reason: "127.0.0.1:80 is not listed" });
    expect(decideConnect(["127.0.0.1:80"], t("localhost:80")).allowed).toBe(false);
    expect(decideConnect([], t("a.example:443"))).toEqual({ allowed: false, reason: "a.example:443 is not listed" });
  });
});

describe("checkAddress: where a listed NAME may lead", () => {
  const name = t("cdn.example.org:443");
  const host: HostAddresses = { own: ["192.0.2.2", "fd00::2"], bridges: ["172.17.0.1/16"] };
  it("refuses loopback, unspecified, link-local, multicast and broadcast, in both families and IPv4-mapped", () => {
    for (const [address, why] of [
      ["127.0.0.1", "loopback"],
      ["127.8.9.10", "loopback"],
      ["::1", "loopback"],
      ["::ffff:127.0.0.1", "loopback"],
      ["0.0.0.0", "unspecified"],
      ["::", "unspecified"],
      ["169.254.169.254", "link-local"],
      ["fe80::1", "link-local"],
      ["224.0.0.1", "multicast"],
      ["ff02::1", "multicast"],
      ["255.255.255.255", "broadcast"],
      ["100.100.100.200", "cloud metadata"],
      ["fd00:ec2::254", "cloud metadata"],
      // IPv6 forms that lead to an IPv4 host: NAT64, IPv4-compatible, 6to4, SIIT.
      ["64:ff9b::a9fe:a9fe", "link-local"],
      ["::127.0.0.1", "loopback"],
      ["2002:7f00:1::", "loopback"],
      ["::ffff:0:127.0.0.1", "loopback"],
    ] as const) {
      const d = checkAddress(address, name, host);
      expect(d.allowed, address).toBe(false);
      if (!d.allowed) expect(d.reason, address).toContain(why);
    }
  });
  it("refuses this machine's own addresses and its container bridges, and says how to list an address", () => {
    expect(checkAddress("192.0.2.2", name, host)).toEqual({
      allowed: false,
      reason: 'cdn.example.org resolves to 192.0.2.2, an address of this machine; list "192.0.2.2:443" if that address is really meant',
    });
    expect(checkAddress("fd00:0::2", name, host).allowed).toBe(false);
    const bridge = checkAddress("172.17.0.5", name, host);
    expect(bridge.allowed).toBe(false);
    if (!bridge.allowed) expect(bridge.reason).toContain("container bridge 172.17.0.1/16");
  });
  it("allows public and private addresses of other machines (a name under *.internal is meant to)", () => {
    for (const a of ["93.184.216.34", "10.1.2.3", "192.168.1.20", "2606:2800:220:1::1", "172.18.0.1"])
      expect(checkAddress(a, name, host), a).toEqual({ allowed: true });
  });
  it("a literal address was listed as meant: even loopback", () => {
    expect(checkAddress("127.0.0.1", t("127.0.0.1:80"), host)).toEqual({ allowed: true });
  });
});

describe("addresses", () => {
  it("parses IPv4, IPv6 with :: and an embedded IPv4; refuses the rest", () => {
    expect(parseIp("10.0.0.1")).toEqual({ kind: 4, value: 0x0a000001n });
    expect(parseIp("::ffff:1.2.3.4")).toEqual({ kind: 6, value: 0xffff01020304n });
    expect(parseIp("1:2:3:4:5:6:7:8")?.kind).toBe(6);
    for (const bad of ["1.2.3", "256.1.1.1", "1::2::3", "1:2:3:4:5:6:7:8:9", "example.org", "01.2.3.4x"]) expect(parseIp(bad), bad).toBeUndefined();
  });
  it("inCidr works across families for IPv4-mapped addresses", () => {
    expect(inCidr("172.17.3.4", "172.17.0.1/16")).toBe(true);
    expect(inCidr("::ffff:172.17.3.4", "172.17.0.0/16")).toBe(true);
    expect(inCidr("172.18.0.1", "172.17.0.0/16")).toBe(false);
    expect(inCidr("fd00::5", "fd00::/8")).toBe(true);
  });
});

describe("matchFetch", () => {
  const fetch = [
    { url: "https://static.example.org/schema-1.4.tar.gz", sha256: "a".repeat(64) },
    { url: "http://10.0.0.7/f", sha256: "b".repeat(64) },
  ];
  it("matches the exact URL by GET, and an https grant by its http:// form", () => {
    expect(matchFetch(fetch, "GET", "http://10.0.0.7/f")).toBe(fetch[1]);
    expect(matchFetch(fetch, "GET", "http://static.example.org/schema-1.4.tar.gz")).toBe(fetch[0]);
    expect(matchFetch(fetch, "GET", "http://STATIC.example.org:80/schema-1.4.tar.gz")).toBe(fetch[0]);
  });
  it("nothing else: another path, query, method, or an http grant asked for over https", () => {
    expect(matchFetch(fetch, "GET", "http://10.0.0.7/f?x=1")).toBeUndefined();
    expect(matchFetch(fetch, "GET", "http://10.0.0.7/g")).toBeUndefined();
    expect(matchFetch(fetch, "POST", "http://10.0.0.7/f")).toBeUndefined();
    expect(matchFetch(fetch, "GET", "https://10.0.0.7/f")).toBeUndefined();
  });
});

describe("toNetworkAccess and proxyEnv", () => {
  it("full wins; a list or a fetch grant means the proxy; nothing means none", () => {
    expect(toNetworkAccess(true, ["a:1"], [])).toEqual({ kind: "full" });
    expect(toNetworkAccess(false, [], [])).toEqual({ kind: "none" });
    expect(toNetworkAccess(false, [], [{ url: "http://a/f", sha256: "c".repeat(64) }])).toMatchObject({ kind: "proxy", hosts: [] });
  });
  it("sets every spelling clients read", () => {
    expect(Object.keys(proxyEnv("http://127.0.0.1:3128")).sort()).toEqual(["ALL_PROXY", "HTTPS_PROXY", "HTTP_PROXY", "all_proxy", "http_proxy", "https_proxy"]);
  });
});

describe("from cratebox.toml to the grant", () => {
  const builtins = (() => {
    // The real built-in profiles, pkg-config given a host list and a fetch grant for this test.
    const extra = `network = ["mirror.example:443"]\nfetch = [{ url = "http://m.example/a", sha256 = "${"d".repeat(64)}" }]\n`;
    const r = parseBuiltinProfiles(
      BUILTIN_PROFILE_NAMES.map((name) => {
        const text = readFileSync(path.join(import.meta.dirname, "../../profiles", `${name}.toml`), "utf8");
        return { name, file: `profiles/${name}.toml`, text: name === "pkg-config" ? text.replace(/^(\[|$)/m, `${extra}$1`) : text };
      }),
    );
    if (!r.ok) throw new Error(r.issues.map(formatProfileIssue).join("\n"));
    return r.value;
  })();
  const resolve = (table: string) => {
    const p = parseProfile(`version = 1\n[build.foo]\n${table}\n`, "cratebox.toml");
    if (!p.ok) throw new Error(p.issues.map(formatProfileIssue).join("\n"));
    const r = resolveGrant(p.value, builtins, { name: "foo", version: "1.0.0", source: "registry" }, "build");
    if (r.kind !== "granted") throw new Error(r.kind);
    return r.grant;
  };
  it("a list is one value: the table's list replaces a profile's, false takes it away; fetch accumulates", () => {
    const own = resolve(`use = ["pkg-config"]\nnetwork = ["a.example:443"]\nfetch = [{ url = "http://m.example/b", sha256 = "${"e".repeat(64)}" }]`);
    expect(own.hosts.map((h) => [h.value, h.origin])).toEqual([["a.example:443", { kind: "entry", file: "cratebox.toml", table: "build.foo", line: 4 }]]);
    expect(own.network.value).toBe(false);
    expect(own.fetch.map((f) => f.value.url)).toEqual(["http://m.example/a", "http://m.example/b"]);
    expect(resolve('use = ["pkg-config"]').hosts.map((h) => h.value)).toEqual(["mirror.example:443"]);
    expect(resolve('use = ["pkg-config"]\nnetwork = false').hosts).toEqual([]);
    const full = resolve('use = ["pkg-config"]\nnetwork = true');
    expect([full.network.value, full.hosts]).toEqual([true, []]);
  });
});

describe("policies and host lists", () => {
  const fetch = [{ url: "http://m.example/a", sha256: "d".repeat(64) }];
  const cap = (caps: object, rule = "r") => [
    { file: "org.js", decisions: [{ crate: "*", phase: "*" as const, action: "cap" as const, rule, caps: CapsSchema.parse(caps) }] },
  ];
  const target = (g: object) => ({ name: "foo", version: "1.0.0", phase: "build" as const, grant: grantView(g) });
  it("a hosts ceiling keeps only covered hosts and turns full access off, citing the rule", () => {
    const out = applyPolicies(
      target({ hosts: ["a.corp.example:443", "evil.example:443", "b.corp.example:22"] }),
      cap({ hosts: ["*.corp.example:443"] }, "corp-only"),
    );
    expect(out.grant.hosts).toEqual(["a.corp.example:443"]);
    expect(out.shapedBy.map((s) => s.detail)).toEqual([
      "evil.example:443 removed (ceiling: *.corp.example:443)",
      "b.corp.example:22 removed (ceiling: *.corp.example:443)",
    ]);
    const full = applyPolicies(target({ network: true }), cap({ hosts: ["*:443"] }));
    expect(full.grant.network).toBe(false);
    expect(full.shapedBy[0]).toMatchObject({ capability: "network", detail: "network on -> off (ceiling: hosts *:443)" });
  });
  it("network = false takes the host list and the fetch grants too", () => {
    const out = applyPolicies(target({ hosts: ["a.example:443"], fetch }), cap({ network: false }));
    expect([out.grant.hosts, out.grant.fetch]).toEqual([[], []]);
    expect(out.shapedBy.map((s) => s.capability)).toEqual(["hosts", "fetch"]);
  });
  it("fetch grants pass a hosts ceiling: each names one file by its hash", () => {
    expect(applyPolicies(target({ fetch }), cap({ hosts: ["*.corp.example:443"] })).grant.fetch).toEqual(fetch);
  });
  it("hostCovers: * and *.domain for hosts, * for ports; addresses only by * or themselves", () => {
    expect(hostCovers("*:*", "10.0.0.1:80")).toBe(true);
    expect(hostCovers("*.corp.example:443", "*.eu.corp.example:443")).toBe(true);
    expect(hostCovers("*.corp.example:443", "corp.example:443")).toBe(false);
    expect(hostCovers("*.corp.example:*", "a.corp.example:8443")).toBe(true);
    expect(hostCovers("10.0.0.1:80", "10.0.0.1:80")).toBe(true);
    expect(hostCovers("a.example:443", "a.example:80")).toBe(false);
  });
  it("the schema refuses a ceiling that is not host:port", () => {
    expect(CapsSchema.safeParse({ hosts: ["example.org"] }).success).toBe(false);
    expect(CapsSchema.safeParse({ hosts: ["*.corp.example:443", "*:*"] }).success).toBe(true);
  });
});

describe("the container of a proxied step", () => {
  const facts: HostFacts = {
    image: "img",
    uid: 1000,
    gid: 1000,
    sysroot: "/rust",
    home: "/home/u",
    buildRoots: ["/ws/target"],
    systemPaths: ["/usr"],
    realpath: (p) => p,
    isFile: () => false,
    egress: { node: "/opt/node/bin/node", script: "/opt/cratebox/dist/shims/egress-relay.js", socket: "/tmp/cratebox-x/egress-1.sock" },
  };
  const request = {
    phase: "build-script" as const,
    program: "/ws/target/debug/build/foo-1/build-script-build",
    args: [],
    cwd: "/reg/foo",
    env: { CARGO_MANIFEST_DIR: "/reg/foo", OUT_DIR: "/ws/target/debug/build/foo-2/out", NO_PROXY: "*", CARGO_PKG_NAME: "foo" },
  };
  const grant = {
    ...DENY_ALL,
    env: [{ text: "NO_PROXY", kind: "name" as const, literal: "NO_PROXY" }],
    network: toNetworkAccess(false, ["a.example:443"], []),
  };
  it("stays on network mode none, runs the command under the relay, sets the proxy variables; NO_PROXY is the step's own loopback unless granted", () => {
    const spec = toSandboxSpec(request, facts, DEFAULT_LIMITS, {}, grant as never);
    const o = toCreateOptions(spec);
    expect(o.HostConfig?.NetworkMode).toBe("none");
    expect(o.NetworkDisabled).toBe(false); // loopback is there for the relay
    expect(o.Cmd?.slice(0, 6)).toEqual([
      `${RELAY_DIR}/node`,
      "--max-old-space-size=64",
      `${RELAY_DIR}/egress-relay.js`,
      `${RELAY_DIR}/egress.sock`,
      "3128",
      "--",
    ]);
    expect(o.Cmd?.slice(6, 9)).toEqual(["/usr/bin/timeout", "--kill-after=5", String(spec.backstopSeconds)]);
    expect(spec.env).toMatchObject({ HTTP_PROXY: "http://127.0.0.1:3128", https_proxy: "http://127.0.0.1:3128" });
    expect(spec.env.NO_PROXY).toBe("*"); // granted: going around the proxy reaches only the container itself
    expect(spec.env.no_proxy).toBe("localhost,127.0.0.1,::1");
    expect(spec.mounts).toContainEqual({ source: "/tmp/cratebox-x/egress-1.sock", target: `${RELAY_DIR}/egress.sock`, readOnly: false });
    expect(spec.mounts).toContainEqual({ source: "/opt/node/bin/node", target: `${RELAY_DIR}/node`, readOnly: true });
  });
  it("refuses to run a proxied grant without a proxy, rather than run it with none or more", () => {
    expect(() => toSandboxSpec(request, (({ egress: _, ...rest }) => rest)(facts), DEFAULT_LIMITS, {}, grant as never)).toThrow(SpecError);
  });
  it("a step without network grants gets no relay and no proxy variables", () => {
    const spec = toSandboxSpec(request, facts, DEFAULT_LIMITS, {});
    expect(spec.relay).toBeUndefined();
    expect(spec.env.HTTP_PROXY).toBeUndefined();
    expect(toCreateOptions(spec).NetworkDisabled).toBe(true);
  });
});
