/**
 * What the egress proxy lets through, decided from a step's grant. Pure: the proxy
 * (runtime/egress-proxy.ts) hands in the request and the addresses it resolved; nothing here
 * reads the network.
 *
 * Two grants open the way out (cratebox.toml):
 * - `network = ["host:port", "*.domain:port", "10.0.0.7:80", "[::1]:8080"]`: CONNECT tunnels
 *   and plain-HTTP requests to exactly these hosts and ports;
 * - `fetch = [{ url, sha256 }]`: a GET of exactly that URL, answered only when the body's
 *   SHA-256 is the one granted (the proxy downloads it itself, so an https URL works too).
 *
 * Names are resolved by the proxy, never by the step, and a listed NAME may not lead to this
 * machine: loopback, unspecified, link-local (cloud metadata lives there), multicast, the
 * host's own addresses and its Docker bridges are refused (a DNS-rebinding trick: list a name
 * you control, make it resolve to 127.0.0.1). A literal address listed is taken as meant.
 */

/** A `fetch` grant: one URL and the SHA-256 its body must have (lowercase hex). */
export interface FetchGrant {
  url: string;
  sha256: string;
}

/** The network of one step, as the sandbox enforces it. */
export type NetworkAccess =
  | { kind: "none" }
  /** `network = true`: the engine's bridge, everything reachable. */
  | { kind: "full" }
  /** Only through cratebox's proxy, to the listed hosts and the fetch URLs. */
  | { kind: "proxy"; hosts: string[]; fetch: FetchGrant[] };

export const NO_NETWORK: NetworkAccess = Object.freeze({ kind: "none" });

/** `network` and `fetch` of a resolved grant -> what the sandbox does. */
export function toNetworkAccess(full: boolean, hosts: readonly string[], fetch: readonly FetchGrant[]): NetworkAccess {
  if (full) return { kind: "full" };
  if (hosts.length === 0 && fetch.length === 0) return { kind: "none" };
  return { kind: "proxy", hosts: [...hosts], fetch: fetch.map((f) => ({ ...f })) };
}

// ---- targets ----------------------------------------------------------------------------------

export interface Target {
  /** Lowercase, without brackets or a trailing dot. */
  host: string;
  port: number;
  /** The host is an IP address, not a name. */
  literal: boolean;
}

/** `host:port` as a CONNECT request or a URL names it; undefined when it is not one. */
export function parseAuthority(authority: string, defaultPort?: number): Target | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:\s[\]/@]+)(?::(\d{1,5}))?$/.exec(authority.trim());
  if (!m) return undefined;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port === undefined || port < 1 || port > 65535) return undefined;
  let host = m[1]!.toLowerCase().replace(/\.$/, "");
  if (host.startsWith("[")) host = host.slice(1, -1);
  if (host === "") return undefined;
  const literal = parseIp(host) !== undefined;
  // Not an address, yet the C resolver would read it as one ("2130706433", "0x7f.1", "127.1",
  // "127.0.0.010"): no real name ends in a numeric label, so it is refused as a target.
  if (!literal && looksNumeric(host)) return undefined;
  return { host, port, literal };
}

export function looksNumeric(host: string): boolean {
  return /^(0x[0-9a-f]*|\d+)$/i.test(host.split(".").at(-1) ?? "") || host.includes(":");
}

/** `host:port` as written in a grant (IPv6 in brackets). */
export function formatTarget(t: Pick<Target, "host" | "port">): string {
  return `${t.host.includes(":") ? `[${t.host}]` : t.host}:${t.port}`;
}

// ---- the allowlist ----------------------------------------------------------------------------

export type ConnectDecision = { allowed: true; entry: string } | { allowed: false; reason: string };

/**
 * Is `target` listed? Entries are "host:port" as the profile schema normalised them: a name,
 * `*.domain` (any name below domain, not domain itself), an IPv4 address or a bracketed IPv6.
 * A literal address is allowed only by an entry naming that address; a name only by a name.
 */
export function decideConnect(hosts: readonly string[], target: Target): ConnectDecision {
  const entries = hosts.map((h) => ({ text: h, t: parseAuthority(h) })).filter((e) => e.t !== undefined);
  const sameHost = entries.filter((e) => hostMatches(e.t!, target));
  const hit = sameHost.find((e) => e.t!.port === target.port);
  if (hit) return { allowed: true, entry: hit.text };
  if (sameHost.length > 0) {
    return { allowed: false, reason: `${target.host} is listed for port ${sameHost.map((e) => e.t!.port).join(", ")} only` };
  }
  return { allowed: false, reason: `${formatTarget(target)} is not listed` };
}

function hostMatches(entry: Target, target: Target): boolean {
  if (entry.literal || target.literal) return entry.literal && target.literal && sameIp(entry.host, target.host);
  if (entry.host.startsWith("*.")) return target.host.endsWith(entry.host.slice(1));
  return entry.host === target.host;
}

// ---- fetch grants -----------------------------------------------------------------------------

/** The URL in the form grants are compared in (WHATWG URL serialisation, no fragment). */
function normaliseUrl(raw: string): string | undefined {
  try {
    const u = new URL(raw);
    if (u.protocol !== "http:" && u.protocol !== "https:") return undefined;
    u.hash = "";
    return u.href;
  } catch {
    return undefined;
  }
}

/**
 * The fetch grant a plain-HTTP request through the proxy asks for: the same URL, or, for an
 * https grant, its http:// form (a client cannot send an https URL to a proxy without a
 * tunnel the proxy cannot look into; the proxy downloads the https URL itself).
 */
export function matchFetch(fetch: readonly FetchGrant[], method: string, url: string): FetchGrant | undefined {
  if (method !== "GET") return undefined;
  const asked = normaliseUrl(url);
  if (asked === undefined) return undefined;
  return fetch.find((f) => {
    const granted = normaliseUrl(f.url);
    return granted === asked || (granted?.startsWith("https:") && asked.startsWith("http:") && granted.slice("https:".length) === asked.slice("http:".length));
  });
}

// ---- addresses --------------------------------------------------------------------------------

/** Addresses of this machine, from its interfaces: its own, and the subnets of its container bridges. */
export interface HostAddresses {
  own: string[];
  /** CIDR blocks of Docker bridges (docker0, br-*): other containers live there. */
  bridges: string[];
}

export type AddressDecision = { allowed: true } | { allowed: false; reason: string };

/**
 * May the proxy connect to `address` for this target? A literal address was listed as it is
 * (decideConnect checked that); a name must not lead to this machine or its link-local
 * neighbours, whatever its DNS says.
 */
export function checkAddress(address: string, target: Target, host: HostAddresses): AddressDecision {
  if (target.literal) return { allowed: true };
  const ip = parseIp(address);
  if (!ip) return { allowed: false, reason: `${address} is not an IP address` };
  const v4 = ip.kind === 4 ? ip.value : embeddedV4(ip.value);
  const special = (v4 !== undefined ? specialV4(v4) : undefined) ?? (ip.kind === 6 ? specialV6(ip.value) : undefined);
  const literalHint = `list "${formatTarget({ host: address, port: target.port })}" if that address is really meant`;
  if (special) return { allowed: false, reason: `${target.host} resolves to ${address}, ${special}; ${literalHint}` };
  const asV4 = v4 === undefined ? undefined : formatV4(v4);
  if (host.own.some((a) => sameIp(a, address) || (asV4 !== undefined && sameIp(a, asV4)))) {
    return { allowed: false, reason: `${target.host} resolves to ${address}, an address of this machine; ${literalHint}` };
  }
  const bridge = host.bridges.find((cidr) => inCidr(address, cidr) || (asV4 !== undefined && inCidr(asV4, cidr)));
  if (bridge) return { allowed: false, reason: `${target.host} resolves to ${address}, on this machine's container bridge ${bridge}; ${literalHint}` };
  return { allowed: true };
}

function specialV4(a: bigint): string | undefined {
  const in4 = (base: string, bits: number) => inBlock(a, parseV4(base)!, 32, bits);
  if (in4("127.0.0.0", 8)) return "a loopback address";
  if (in4("0.0.0.0", 8)) return "an unspecified address";
  if (in4("169.254.0.0", 16)) return "a link-local address (where cloud metadata services answer)";
  if (in4("224.0.0.0", 4)) return "a multicast address";
  if (in4("240.0.0.0", 4)) return "a reserved or broadcast address";
  if (in4("100.100.100.200", 32)) return "a cloud metadata address";
  return undefined;
}

/**
 * The IPv4 address an IPv6 one carries, where it leads to that IPv4 host: mapped
 * (::ffff:a.b.c.d), SIIT (::ffff:0:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64
 * (64:ff9b::a.b.c.d) and 6to4 (2002:aabb:ccdd::).
 */
function embeddedV4(v6: bigint): bigint | undefined {
  const low32 = v6 & 0xffffffffn;
  const high96 = v6 >> 32n;
  if (high96 === 0xffffn || high96 === 0xffff0000n || high96 === 0x64ff9b0000000000000000n) return low32;
  if (high96 === 0n && low32 > 1n) return low32;
  if (v6 >> 112n === 0x2002n) return (v6 >> 80n) & 0xffffffffn;
  return undefined;
}

function specialV6(a: bigint): string | undefined {
  if (a === 1n) return "a loopback address";
  if (a === 0n) return "an unspecified address";
  if (a >> 118n === 0x3fan) return "a link-local address";
  if (a >> 120n === 0xffn) return "a multicast address";
  if (a === parseV6("fd00:ec2::254")) return "a cloud metadata address";
  return undefined;
}

type Ip = { kind: 4; value: bigint } | { kind: 6; value: bigint };

/**
 * The one spelling of an address that is connected to: dotted decimal, or all eight IPv6 groups.
 * Never the text a request carried (the C resolver reads "127.0.0.010" as 127.0.0.8).
 */
export function canonicalIp(text: string): string | undefined {
  const ip = parseIp(text);
  if (!ip) return undefined;
  if (ip.kind === 4) return formatV4(ip.value);
  return [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((s) => ((ip.value >> s) & 0xffffn).toString(16)).join(":");
}

function formatV4(v: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join(".");
}

export function parseIp(text: string): Ip | undefined {
  const v4 = parseV4(text);
  if (v4 !== undefined) return { kind: 4, value: v4 };
  const v6 = parseV6(text);
  return v6 === undefined ? undefined : { kind: 6, value: v6 };
}

/** Dotted decimal, canonical only: "010" is octal to the C resolver, so it is no address here. */
function parseV4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n);
}

/** IPv6 text (with "::" and an embedded dotted IPv4); a zone id ("%eth0") is refused. */
function parseV6(text: string): bigint | undefined {
  let s = text;
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(":")) return undefined;
  // A trailing dotted IPv4 (::ffff:1.2.3.4) counts as the last two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const v4 = parseV4(dotted[1]!);
    if (v4 === undefined) return undefined;
    s = `${s.slice(0, -dotted[1]!.length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || (halves.length === 2 && missing < 1)) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (!all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  return all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function inBlock(a: bigint, base: bigint, width: number, bits: number): boolean {
  const shift = BigInt(width - bits);
  return a >> shift === base >> shift;
}

/** Every address in one space: IPv4 as its IPv4-mapped IPv6 form (::ffff:a.b.c.d). */
function to128(ip: Ip): bigint {
  return ip.kind === 4 ? (0xffffn << 32n) | ip.value : ip.value;
}

function sameIp(a: string, b: string): boolean {
  const x = parseIp(a);
  const y = parseIp(b);
  return x !== undefined && y !== undefined && to128(x) === to128(y);
}

/** Is `address` inside the block `cidr` ("172.17.0.0/16", "fd00::/8")? */
export function inCidr(address: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split("/");
  const ip = parseIp(address);
  const net = parseIp(base ?? "");
  const bits = Number(bitsText);
  if (!ip || !net || !Number.isInteger(bits)) return false;
  return inBlock(to128(ip), to128(net), 128, net.kind === 4 ? bits + 96 : bits);
}

// ---- what the step is told --------------------------------------------------------------------

/** The variables a proxied step gets: every spelling HTTP clients read. */
export function proxyEnv(proxyUrl: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"]) {
    env[name] = proxyUrl;
    env[name.toLowerCase()] = proxyUrl;
  }
  return env;
}

/**
 * What goes around the proxy: the step's own loopback (a test's mock server), unless a grant
 * passes the host's NO_PROXY. Going around the proxy reaches nothing else: the container has no
 * other interface.
 */
export const NO_PROXY_DEFAULT = "localhost,127.0.0.1,::1";

// ---- the log ----------------------------------------------------------------------------------

/** One connection or request the proxy saw, as the report and the summary show it. */
export interface EgressEvent {
  /** ISO 8601 time the proxy decided. */
  at: string;
  /** CONNECT (a tunnel, usually TLS), or the HTTP method of a plain request. */
  method: string;
  /** `host:port` asked for. */
  target: string;
  /** The URL of a plain-HTTP request. */
  url?: string;
  decision: "allowed" | "refused";
  /** Which grant allowed it (`network entry "x:443"`, `fetch sha256 ok`), or why it was refused. */
  reason: string;
  /** The address the proxy connected to. */
  address?: string;
  /** An allowed connection that then failed (refused by the server, timed out, a fetch that got a 404). */
  error?: string;
  /** What the refusal would need: the grant line to add. */
  grant?: string;
}

/** The grant that would allow a refused target: the list as it is, plus the target (a list is one value). */
export function networkGrantFor(target: string, listed: readonly string[] = []): string {
  return `network = [${[...listed.filter((h) => h !== target), target].map((h) => JSON.stringify(h)).join(", ")}]`;
}
