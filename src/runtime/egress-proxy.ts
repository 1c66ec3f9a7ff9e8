/**
 * The egress proxy of one proxied step: an HTTP proxy on a Unix socket that only that step's
 * container sees (its relay, shims/egress-relay.ts, carries the step's TCP connections here).
 * HTTP CONNECT tunnels (TLS) and absolute-URI HTTP requests go to the hosts the grant lists;
 * `fetch` grants are downloaded by the proxy itself and answered only if the body's SHA-256 is
 * the granted one. Names are resolved here, once, and only the checked addresses are connected
 * to (in their canonical spelling), so a name cannot resolve to one address for the check and
 * another for the connection. Every decision is logged as an EgressEvent. The rules are
 * core/egress.ts.
 *
 * What a hostile step can do to this process is bounded: connections per step, events kept per
 * step, one download per fetch grant (streamed to a file while hashed, not held in memory),
 * name lookups a few at a time with a time limit, and a bad upstream answer becomes a 502.
 */
import { createHash } from "node:crypto";
import { lookup as dnsLookup } from "node:dns/promises";
import { chmodSync, createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect, isIP, type LookupFunction, type Socket } from "node:net";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import {
  canonicalIp,
  checkAddress,
  decideConnect,
  formatTarget,
  matchFetch,
  networkGrantFor,
  parseAuthority,
  type EgressEvent,
  type FetchGrant,
  type HostAddresses,
  type Target,
} from "../core/egress.ts";
import { isLocalAddress } from "./host-facts.ts";

export interface EgressProxyOptions {
  socket: string;
  hosts: readonly string[];
  fetch: readonly FetchGrant[];
  hostAddresses: HostAddresses;
  /** Where a grant goes, for refusal messages: `[build.foo]`. */
  table: string;
  /** Told of each decision as it is made (cratebox's log); repeats of a refusal are not told. */
  onEvent?: (event: EgressEvent) => void;
  /** Name -> addresses; default: the system resolver (getaddrinfo, so /etc/hosts counts). */
  resolve?: (name: string) => Promise<string[]>;
  /** Whether an address is this machine's own; default: ask the kernel (host-facts.ts). */
  isLocal?: (address: string) => Promise<boolean>;
}

/** The largest file a fetch grant downloads (to a file next to the socket, hashed as it comes). */
const MAX_FETCH_BYTES = 4 * 1024 ** 3;
const MAX_REDIRECTS = 5;
const CONNECT_TIMEOUT_MS = 30_000;
/** Connections one step may hold open through its proxy at once. */
const MAX_CONNECTIONS = 256;
/** Events kept per step (the report); later ones are counted in `omitted`. */
const MAX_EVENTS = 500;
/** Longest target or URL kept in an event. */
const MAX_TEXT = 300;
const LOOKUP_TIMEOUT_MS = 10_000;
/** A tunnel with no byte either way for this long is closed (the step's time limit ends the rest). */
const TUNNEL_IDLE_MS = 5 * 60_000;
/** Name lookups in flight at once over all proxies: getaddrinfo runs on libuv's shared pool of 4 threads. */
const MAX_LOOKUPS = 2;

/** Headers of one hop, never forwarded (RFC 9110 7.6.1), plus the ones `Connection` names. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

let lookupsInFlight = 0;
const lookupQueue: (() => void)[] = [];

/** The system resolver, a few lookups at a time and each bounded in time. */
async function systemResolve(name: string): Promise<string[]> {
  if (lookupsInFlight >= MAX_LOOKUPS) await new Promise<void>((r) => lookupQueue.push(r));
  lookupsInFlight++;
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error("lookup timed out"), { code: "ETIMEOUT" })), LOOKUP_TIMEOUT_MS);
    });
    return (await Promise.race([dnsLookup(name, { all: true, verbatim: true }), timeout])).map((a) => a.address);
  } finally {
    clearTimeout(timer);
    lookupsInFlight--;
    lookupQueue.shift()?.();
  }
}

const clip = (s: string) => (s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}...` : s);

/** A lookup that answers only the addresses the proxy checked (connections try them in turn). */
function pinnedLookup(addresses: readonly string[]): LookupFunction {
  const all = addresses.map((address) => ({ address, family: isIP(address) }));
  return (_host, options, cb) => {
    if ((options as { all?: boolean }).all) (cb as unknown as (e: null, a: typeof all) => void)(null, all);
    else cb(null, all[0]!.address, all[0]!.family);
  };
}

function forwardable(headers: IncomingMessage["headers"]): OutgoingHttpHeaders {
  const named = new Set(
    String(headers.connection ?? "")
      .split(",")
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (!HOP_BY_HOP.has(k) && !named.has(k) && v !== undefined) out[k] = v;
  return out;
}

type Download = { file: string; sha256: string; size: number; address: string; contentType: string | undefined } | { error: string };

export class EgressProxy {
  readonly events: EgressEvent[] = [];
  /** Events not kept (beyond MAX_EVENTS). */
  omitted = 0;
  private readonly told = new Set<string>();
  private readonly sockets = new Set<Socket>();
  private readonly downloads = new Map<string, Promise<Download>>();
  private readonly opts: EgressProxyOptions;
  private readonly server: Server;
  private readonly scratch: string;

  private constructor(opts: EgressProxyOptions) {
    this.opts = opts;
    this.scratch = mkdtempSync(`${opts.socket}.files-`);
    this.server = createServer((req, res) => this.onRequest(req, res).catch((err: Error) => this.crashed(res, err)));
    this.server.maxConnections = MAX_CONNECTIONS;
    this.server.on("connect", (req: IncomingMessage, socket: Socket, head: Buffer) => {
      this.onConnect(req, socket, head).catch(() => socket.destroy());
    });
    this.server.on("connection", (s: Socket) => this.track(s));
    this.server.on("clientError", (_err, s: Socket) => s.destroy());
  }

  get socket(): string {
    return this.opts.socket;
  }

  static async start(opts: EgressProxyOptions): Promise<EgressProxy> {
    const proxy = new EgressProxy(opts);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once("error", reject);
      proxy.server.listen(opts.socket, () => resolve());
    });
    // The container's user may map to another host uid (rootless engines); the directory is 0700.
    chmodSync(opts.socket, 0o666);
    return proxy;
  }

  /** Ends every tunnel and request of the step, removes the socket and the downloaded files. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.opts.socket, { force: true });
    rmSync(this.scratch, { recursive: true, force: true });
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.on("close", () => this.sockets.delete(s));
    s.on("error", () => s.destroy());
  }

  private log(e: Omit<EgressEvent, "at">): EgressEvent {
    const event: EgressEvent = { at: new Date().toISOString(), ...e, target: clip(e.target), ...(e.url ? { url: clip(e.url) } : {}) };
    if (this.events.length < MAX_EVENTS) this.events.push(event);
    else this.omitted++;
    const key = `${event.decision} ${event.method} ${event.url ?? event.target}`;
    if (!this.told.has(key) && this.told.size < MAX_EVENTS) {
      this.told.add(key);
      this.opts.onEvent?.(event);
    }
    return event;
  }

  /** What a refused client reads, and what the log keeps. */
  private refuse(method: string, target: string, reason: string, url?: string, withGrant = true): string {
    const grant = withGrant && parseAuthority(target) ? networkGrantFor(target, this.opts.hosts) : undefined;
    const e = this.log({ method, target, ...(url ? { url } : {}), decision: "refused", reason, ...(grant ? { grant } : {}) });
    return `cratebox: refused ${method} ${e.url ?? e.target}: ${reason}${grant ? `; to allow it: ${grant} in ${this.opts.table}` : ""}\n`;
  }

  private crashed(res: ServerResponse, err: Error): void {
    if (!res.headersSent) {
      res.writeHead(502, { "content-type": "text/plain", connection: "close" });
      res.end(`cratebox: the egress proxy failed: ${err.message}\n`);
    } else res.destroy();
  }

  /**
   * The addresses of `target` the rules allow (canonical spelling), or why there are none.
   * `listed`: the target is the one the grant names (a literal address there was meant); a
   * redirect's target was chosen by a server, and is checked like a name whatever it looks like.
   */
  private async addressesOf(target: Target, listed: boolean): Promise<{ addresses: string[] } | { refused: string }> {
    if (target.literal && listed) return { addresses: [canonicalIp(target.host)!] };
    let found: string[];
    try {
      found = target.literal ? [target.host] : await (this.opts.resolve ?? systemResolve)(target.host);
    } catch (err) {
      return { refused: `${target.host} does not resolve (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
    }
    const reasons: string[] = [];
    const allowed: string[] = [];
    const asName = { ...target, literal: false };
    for (const raw of found) {
      const address = canonicalIp(raw);
      if (address === undefined) continue;
      const d = checkAddress(raw, asName, this.opts.hostAddresses); // the resolver's spelling in messages, the canonical one to connect
      if (!d.allowed) reasons.push(d.reason);
      else if (await (this.opts.isLocal ?? isLocalAddress)(address))
        reasons.push(
          `${target.host} resolves to ${raw}, an address of this machine; list "${formatTarget({ host: raw, port: target.port })}" if that address is really meant`,
        );
      else allowed.push(address);
    }
    if (allowed.length > 0) return { addresses: allowed };
    return { refused: reasons.join("; ") || `${target.host} has no address` };
  }

  private async onConnect(req: IncomingMessage, client: Socket, head: Buffer): Promise<void> {
    const asked = req.url ?? "";
    const deny = (status: string, text: string) => {
      client.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
    };
    const target = parseAuthority(asked);
    if (!target)
      return deny("400 Bad Request", this.refuse("CONNECT", asked, "not a host:port (a name, or an address in dotted decimal or IPv6)", undefined, false));
    const shown = formatTarget(target);
    const decision = decideConnect(this.opts.hosts, target);
    if (!decision.allowed) return deny("403 Forbidden", this.refuse("CONNECT", shown, decision.reason));
    const where = await this.addressesOf(target, true);
    if ("refused" in where) return deny("403 Forbidden", this.refuse("CONNECT", shown, where.refused));
    if (client.destroyed) return;
    // A name goes through the pinned lookup (every checked address, tried in turn); an address as checked.
    const upstream = connect({
      host: target.literal ? where.addresses[0]! : target.host,
      port: target.port,
      lookup: pinnedLookup(where.addresses),
      autoSelectFamily: true,
      timeout: CONNECT_TIMEOUT_MS,
    });
    this.track(upstream);
    const event = this.log({
      method: "CONNECT",
      target: shown,
      decision: "allowed",
      reason: `network entry ${JSON.stringify(decision.entry)}`,
      address: where.addresses[0]!,
    });
    let open = false;
    upstream.once("connect", () => {
      open = true;
      upstream.setTimeout(TUNNEL_IDLE_MS);
      if (upstream.remoteAddress) event.address = upstream.remoteAddress;
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    // Before the tunnel opened, the client is told; after, the tunnel just ends.
    const fail = (why: string) => {
      event.error ??= why;
      if (!open && !client.destroyed) deny("502 Bad Gateway", `cratebox: ${shown}: ${why}\n`);
      else client.destroy();
      upstream.destroy();
    };
    upstream.once("timeout", () => fail(open ? "idle for 5 minutes" : "connect timed out"));
    upstream.once("error", (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    client.once("close", () => upstream.destroy());
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const url = req.url ?? "";
    const deny = (status: number, text: string) => {
      if (res.headersSent) return void res.destroy();
      res.writeHead(status, { "content-type": "text/plain", "content-length": Buffer.byteLength(text), connection: "close" });
      res.end(text);
    };
    const grant = matchFetch(this.opts.fetch, method, url);
    if (grant) return this.serveFetch(grant, url, res, deny);
    let parsed: URL | undefined;
    try {
      parsed = /^[a-z]+:\/\//i.test(url) ? new URL(url) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!parsed)
      return deny(400, this.refuse(method, url || "/", "this is cratebox's egress proxy: send absolute http:// URLs, or CONNECT host:port", undefined, false));
    const target = parseAuthority(parsed.host, parsed.protocol === "http:" ? 80 : parsed.protocol === "https:" ? 443 : undefined);
    if (parsed.protocol !== "http:" || !target) {
      return deny(
        403,
        this.refuse(
          method,
          parsed.host,
          `${parsed.protocol} URLs go through CONNECT (only a fetch grant lets the proxy download them itself)`,
          parsed.href,
          false,
        ),
      );
    }
    const shown = formatTarget(target);
    const decision = decideConnect(this.opts.hosts, target);
    if (!decision.allowed) return deny(403, this.refuse(method, shown, decision.reason, parsed.href));
    const where = await this.addressesOf(target, true);
    if ("refused" in where) return deny(403, this.refuse(method, shown, where.refused, parsed.href));
    const event = this.log({
      method,
      target: shown,
      url: parsed.href,
      decision: "allowed",
      reason: `network entry ${JSON.stringify(decision.entry)}`,
      address: where.addresses[0]!,
    });
    const headers = forwardable(req.headers);
    headers.host = parsed.host;
    // A body of unknown length stays chunked (Node frames it again); a known one keeps its length.
    if (req.headers["transfer-encoding"] !== undefined) {
      headers["transfer-encoding"] = "chunked";
      delete headers["content-length"];
    }
    const upstream = httpRequest(
      {
        host: target.literal ? where.addresses[0]! : target.host,
        port: target.port,
        lookup: pinnedLookup(where.addresses),
        method,
        path: parsed.pathname + parsed.search,
        headers,
        timeout: CONNECT_TIMEOUT_MS,
      },
      (up) => {
        const status = up.statusCode ?? 0;
        if (status < 100 || status > 599) {
          up.destroy();
          event.error ??= `invalid status ${status}`;
          return deny(502, `cratebox: ${shown} answered an invalid status (${status})\n`);
        }
        res.writeHead(status, forwardable(up.headers));
        up.pipe(res);
      },
    );
    upstream.on("timeout", () => upstream.destroy(new Error("timed out")));
    upstream.on("error", (err: NodeJS.ErrnoException) => {
      event.error ??= err.code ?? err.message;
      deny(502, `cratebox: ${shown}: ${event.error}\n`);
    });
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  }

  /** A fetch grant: downloaded once per step, checked, and only then answered. */
  private async serveFetch(grant: FetchGrant, asked: string, res: ServerResponse, deny: (status: number, text: string) => void): Promise<void> {
    const u = new URL(grant.url);
    const shownTarget = formatTarget(parseAuthority(u.host, u.protocol === "https:" ? 443 : 80)!);
    let download = this.downloads.get(grant.url);
    if (!download) {
      download = this.download(grant.url, MAX_REDIRECTS, shownTarget);
      this.downloads.set(grant.url, download);
    }
    const result = await download;
    if ("error" in result) {
      this.log({ method: "GET", target: shownTarget, url: asked, decision: "allowed", reason: "fetch grant", error: result.error });
      return deny(502, `cratebox: fetch ${grant.url}: ${result.error}\n`);
    }
    if (result.sha256 !== grant.sha256) {
      // The step learns that it differs, not what it is: the digest stays in cratebox's log.
      this.log({
        method: "GET",
        target: shownTarget,
        url: asked,
        decision: "refused",
        address: result.address,
        reason: `the body's sha256 is ${result.sha256}, the fetch grant says ${grant.sha256}: nothing was passed on`,
      });
      return deny(502, `cratebox: refused GET ${grant.url}: the body's sha256 is not the one the fetch grant names; nothing was passed on\n`);
    }
    this.log({
      method: "GET",
      target: shownTarget,
      url: asked,
      decision: "allowed",
      reason: `fetch grant, sha256 ${result.sha256} matches`,
      address: result.address,
    });
    res.writeHead(200, { "content-type": result.contentType ?? "application/octet-stream", "content-length": result.size });
    await pipeline(createReadStream(result.file), res).catch(() => res.destroy());
  }

  /**
   * Downloads `url` into the scratch directory, hashing it as it comes. `granted`: the grant's
   * host:port; a redirect elsewhere was chosen by the server, and its target is checked like a
   * name even when it is an address (no redirect to 127.0.0.1 or 169.254.169.254).
   */
  private async download(url: string, redirects: number, granted: string): Promise<Download> {
    const u = new URL(url);
    const secure = u.protocol === "https:";
    if (!secure && u.protocol !== "http:") return { error: `redirected to a ${u.protocol} URL` };
    const target = parseAuthority(u.host, secure ? 443 : 80);
    if (!target) return { error: `${u.host} is not a host` };
    const listed = formatTarget(target) === granted;
    const where = await this.addressesOf(target, listed);
    if ("refused" in where) return { error: listed ? where.refused : `redirected to ${u.host}, refused: ${where.refused}` };
    const file = path.join(this.scratch, `fetch-${this.downloads.size}-${MAX_REDIRECTS - redirects}`);
    return new Promise<Download>((resolve) => {
      const req = (secure ? httpsRequest : httpRequest)(u, { method: "GET", lookup: pinnedLookup(where.addresses), timeout: CONNECT_TIMEOUT_MS }, (up) => {
        const status = up.statusCode ?? 0;
        if (status >= 300 && status < 400 && up.headers.location) {
          up.resume();
          if (redirects === 0) return resolve({ error: "too many redirects" });
          let next: string;
          try {
            next = new URL(up.headers.location, u).href;
          } catch {
            return resolve({ error: "a redirect to something that is not a URL" });
          }
          return resolve(this.download(next, redirects - 1, granted));
        }
        if (status !== 200) {
          up.resume();
          return resolve({ error: `the server answered ${status}` });
        }
        const address = up.socket?.remoteAddress ?? where.addresses[0]!;
        const hash = createHash("sha256");
        let size = 0;
        const out = createWriteStream(file, { mode: 0o600 });
        up.on("data", (c: Buffer) => {
          size += c.length;
          hash.update(c);
          if (size > MAX_FETCH_BYTES) req.destroy(new Error(`larger than ${MAX_FETCH_BYTES} bytes`));
        });
        pipeline(up, out).then(
          () => resolve({ file, sha256: hash.digest("hex"), size: statSync(file).size, address, contentType: up.headers["content-type"] }),
          (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }),
        );
      });
      req.on("timeout", () => req.destroy(new Error("timed out")));
      req.on("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
      req.end();
    });
  }
}
