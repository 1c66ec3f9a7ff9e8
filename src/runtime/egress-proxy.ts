/**
 * The egress proxy of one proxied step: an HTTP proxy on a Unix socket that only that step's
 * container sees (its relay, shims/egress-relay.ts, carries the step's TCP connections here).
 * HTTP CONNECT tunnels (TLS) and absolute-URI HTTP requests go to the hosts the grant lists;
 * `fetch` grants are downloaded by the proxy itself and answered only if the body's SHA-256 is
 * the granted one. Names are resolved here, once, and the checked address is the one connected
 * to, so a name cannot resolve to one address for the check and another for the connection.
 * Every decision is logged as an EgressEvent. The rules are core/egress.ts.
 */
import { createHash } from "node:crypto";
import { lookup as dnsLookup } from "node:dns/promises";
import { rmSync } from "node:fs";
import { createServer, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect, type LookupFunction, type Socket } from "node:net";
import {
  checkAddress, decideConnect, formatTarget, matchFetch, networkGrantFor, parseAuthority,
  type EgressEvent, type FetchGrant, type HostAddresses, type Target,
} from "../core/egress.ts";
import { isLocalAddress } from "./host-facts.ts";

export interface EgressProxyOptions {
  socket: string;
  hosts: readonly string[];
  fetch: readonly FetchGrant[];
  hostAddresses: HostAddresses;
  /** Where a grant goes, for refusal messages: `[build.foo]`. */
  table: string;
  /** Told of each decision as it is made (cratebox's log). */
  onEvent?: (event: EgressEvent) => void;
  /** Name -> addresses; default: the system resolver (getaddrinfo). */
  resolve?: (name: string) => Promise<string[]>;
  /** Whether an address is this machine's own; default: ask the kernel (host-facts.ts). */
  isLocal?: (address: string) => Promise<boolean>;
}

/** The largest file a fetch grant downloads (it is held in memory until its hash is checked). */
export const MAX_FETCH_BYTES = 512 * 1024 * 1024;
const MAX_REDIRECTS = 5;
const CONNECT_TIMEOUT_MS = 30_000;
/** Headers of one hop, never forwarded (RFC 9110 7.6.1); Node frames the body again itself. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate", "te", "trailer", "transfer-encoding", "upgrade"]);

const systemResolve = async (name: string) => (await dnsLookup(name, { all: true, verbatim: true })).map((a) => a.address);

export class EgressProxy {
  readonly events: EgressEvent[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly opts: EgressProxyOptions;
  private readonly server: Server;

  private constructor(opts: EgressProxyOptions) {
    this.opts = opts;
    this.server = createServer((req, res) => void this.onRequest(req, res));
    this.server.on("connect", (req: IncomingMessage, socket: Socket, head: Buffer) => void this.onConnect(req, socket, head));
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
    return proxy;
  }

  /** Ends every tunnel and request of the step and removes the socket. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.opts.socket, { force: true });
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.on("close", () => this.sockets.delete(s));
    s.on("error", () => s.destroy());
  }

  private log(e: Omit<EgressEvent, "at">): EgressEvent {
    const event = { at: new Date().toISOString(), ...e };
    this.events.push(event);
    this.opts.onEvent?.(event);
    return event;
  }

  /** What a refused client reads, and what the log keeps. */
  private refuse(method: string, target: string, reason: string, url?: string, withGrant = true): string {
    const grant = withGrant && parseAuthority(target) ? networkGrantFor(target, this.opts.hosts) : undefined;
    this.log({ method, target, ...(url ? { url } : {}), decision: "refused", reason, ...(grant ? { grant } : {}) });
    return `cratebox: refused ${method} ${url ?? target}: ${reason}` + (grant ? `; to allow it: ${grant} in ${this.opts.table}` : "") + "\n";
  }

  /** The first address of `target` the rules allow, or why there is none. */
  private async addressOf(target: Target): Promise<{ address: string } | { refused: string }> {
    if (target.literal) return { address: target.host };
    let addresses: string[];
    try {
      addresses = await (this.opts.resolve ?? systemResolve)(target.host);
    } catch (err) {
      return { refused: `${target.host} does not resolve (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
    }
    const reasons: string[] = [];
    for (const address of addresses) {
      const d = checkAddress(address, target, this.opts.hostAddresses);
      if (!d.allowed) reasons.push(d.reason);
      else if (await (this.opts.isLocal ?? isLocalAddress)(address)) reasons.push(`${target.host} resolves to ${address}, an address of this machine; list "${formatTarget({ host: address, port: target.port })}" if that address is really meant`);
      else return { address };
    }
    return { refused: reasons.join("; ") || `${target.host} has no address` };
  }

  private async onConnect(req: IncomingMessage, client: Socket, head: Buffer): Promise<void> {
    const asked = req.url ?? "";
    const deny = (status: string, text: string) => {
      client.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
    };
    const target = parseAuthority(asked);
    if (!target) return deny("400 Bad Request", this.refuse("CONNECT", asked, "not a host:port", undefined, false));
    const shown = formatTarget(target);
    const decision = decideConnect(this.opts.hosts, target);
    if (!decision.allowed) return deny("403 Forbidden", this.refuse("CONNECT", shown, decision.reason));
    const where = await this.addressOf(target);
    if ("refused" in where) return deny("403 Forbidden", this.refuse("CONNECT", shown, where.refused));
    const upstream = connect({ host: where.address, port: target.port, timeout: CONNECT_TIMEOUT_MS });
    this.track(upstream);
    const event = this.log({ method: "CONNECT", target: shown, decision: "allowed", reason: `network entry ${JSON.stringify(decision.entry)}`, address: where.address });
    upstream.once("connect", () => {
      upstream.setTimeout(0);
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    const fail = (why: string) => {
      event.error ??= why;
      if (!client.destroyed) deny("502 Bad Gateway", `cratebox: ${shown} (${where.address}): ${why}\n`);
      upstream.destroy();
    };
    upstream.once("timeout", () => fail("connect timed out"));
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
    if (!parsed) return deny(400, this.refuse(method, url || "/", "this is cratebox's egress proxy: send absolute http:// URLs, or CONNECT host:port", undefined, false));
    const target = parseAuthority(parsed.host, parsed.protocol === "http:" ? 80 : parsed.protocol === "https:" ? 443 : undefined);
    if (parsed.protocol !== "http:" || !target) {
      return deny(403, this.refuse(method, parsed.host, `${parsed.protocol} URLs go through CONNECT (only a fetch grant lets the proxy download them itself)`, parsed.href, false));
    }
    const shown = formatTarget(target);
    const decision = decideConnect(this.opts.hosts, target);
    if (!decision.allowed) return deny(403, this.refuse(method, shown, decision.reason, parsed.href));
    const where = await this.addressOf(target);
    if ("refused" in where) return deny(403, this.refuse(method, shown, where.refused, parsed.href));
    const event = this.log({ method, target: shown, url: parsed.href, decision: "allowed", reason: `network entry ${JSON.stringify(decision.entry)}`, address: where.address });
    const headers: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
    headers.host = parsed.host;
    const upstream = httpRequest({ host: where.address, port: target.port, method, path: parsed.pathname + parsed.search, headers, timeout: CONNECT_TIMEOUT_MS }, (up) => {
      const back: OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(up.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) back[k] = v;
      res.writeHead(up.statusCode ?? 502, back);
      up.pipe(res);
    });
    upstream.on("timeout", () => upstream.destroy(new Error("timed out")));
    upstream.on("error", (err: NodeJS.ErrnoException) => {
      event.error ??= err.code ?? err.message;
      deny(502, `cratebox: ${shown} (${where.address}): ${event.error}\n`);
    });
    req.pipe(upstream);
  }

  /** A fetch grant: download, check the hash, and only then answer. */
  private async serveFetch(grant: FetchGrant, asked: string, res: ServerResponse, deny: (status: number, text: string) => void): Promise<void> {
    const target = new URL(grant.url);
    const shownTarget = formatTarget(parseAuthority(target.host, target.protocol === "https:" ? 443 : 80)!);
    const result = await this.download(grant.url, MAX_REDIRECTS);
    if ("error" in result) {
      this.log({ method: "GET", target: shownTarget, url: asked, decision: "allowed", reason: "fetch grant", error: result.error });
      return deny(502, `cratebox: fetch ${grant.url}: ${result.error}\n`);
    }
    const got = createHash("sha256").update(result.body).digest("hex");
    if (got !== grant.sha256) {
      const reason = `the body's sha256 is ${got}, the fetch grant says ${grant.sha256}: refused, nothing was passed on`;
      this.log({ method: "GET", target: shownTarget, url: asked, decision: "refused", reason, address: result.address });
      return deny(502, `cratebox: refused GET ${grant.url}: ${reason}\n`);
    }
    this.log({ method: "GET", target: shownTarget, url: asked, decision: "allowed", reason: `fetch grant, sha256 ${got} matches`, address: result.address });
    res.writeHead(200, { "content-type": result.contentType ?? "application/octet-stream", "content-length": result.body.length });
    res.end(result.body);
  }

  private async download(url: string, redirects: number): Promise<{ body: Buffer; address: string; contentType: string | undefined } | { error: string }> {
    const u = new URL(url);
    const secure = u.protocol === "https:";
    if (!secure && u.protocol !== "http:") return { error: `redirected to a ${u.protocol} URL` };
    const target = parseAuthority(u.host, secure ? 443 : 80);
    if (!target) return { error: `${u.host} is not a host` };
    const where = await this.addressOf(target);
    if ("refused" in where) return { error: where.refused };
    // Connect to the checked address while TLS verifies the certificate for the name.
    const lookup: LookupFunction = (_host, options, cb) => {
      const family = where.address.includes(":") ? 6 : 4;
      if ((options as { all?: boolean }).all) (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: where.address, family }]);
      else cb(null, where.address, family);
    };
    return new Promise((resolve) => {
      const req = (secure ? httpsRequest : httpRequest)(u, { method: "GET", lookup, timeout: CONNECT_TIMEOUT_MS }, (up) => {
        const status = up.statusCode ?? 0;
        if (status >= 300 && status < 400 && up.headers.location) {
          up.resume();
          if (redirects === 0) return resolve({ error: "too many redirects" });
          return resolve(this.download(new URL(up.headers.location, u).href, redirects - 1));
        }
        if (status !== 200) {
          up.resume();
          return resolve({ error: `the server answered ${status}` });
        }
        const chunks: Buffer[] = [];
        let size = 0;
        up.on("data", (c: Buffer) => {
          size += c.length;
          if (size > MAX_FETCH_BYTES) {
            req.destroy();
            resolve({ error: `larger than ${MAX_FETCH_BYTES} bytes` });
          } else chunks.push(c);
        });
        up.on("end", () => resolve({ body: Buffer.concat(chunks), address: where.address, contentType: up.headers["content-type"] }));
        up.on("error", (err) => resolve({ error: err.message }));
      });
      req.on("timeout", () => req.destroy(new Error("timed out")));
      req.on("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
      req.end();
    });
  }
}
