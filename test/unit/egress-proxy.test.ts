/**
 * The host side of the egress proxy (runtime/egress-proxy.ts) on real sockets, without a
 * container: clients speak to its Unix socket as the relay would, upstream servers listen on
 * loopback. Names are resolved by a stand-in resolver only where a name must lead somewhere
 * this machine has no DNS for; whether an address is this machine's own is the kernel's answer.
 */
import { createHash } from "node:crypto";
import { createServer as createHttpServer, request, Server as HttpServer, type IncomingHttpHeaders } from "node:http";
import { connect, createServer, type Server } from "node:net";
import { networkInterfaces } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EgressProxy } from "../../src/runtime/egress-proxy.ts";
import { isLocalAddress } from "../../src/runtime/host-facts.ts";
import { tempDir } from "../helpers/workspace.ts";

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function listen(server: Server): Promise<number> {
  server.maxConnections = 20;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  closers.push(() => new Promise<void>((r) => {
    // An HTTP server keeps idle keep-alive connections; a plain one is ended by its handlers.
    if (server instanceof HttpServer) server.closeAllConnections();
    server.close(() => r());
  }));
  return (server.address() as { port: number }).port;
}

async function proxy(opts: Partial<Parameters<typeof EgressProxy.start>[0]> = {}): Promise<EgressProxy> {
  const p = await EgressProxy.start({ socket: path.join(tempDir(), "egress.sock"), hosts: [], fetch: [], hostAddresses: { own: [], bridges: [] }, table: "[build.foo]", ...opts });
  closers.push(() => p.close());
  return p;
}

/** A request through the proxy's socket: the absolute URL as request target, as clients send it to a proxy. */
function get(p: EgressProxy, url: string, headers: Record<string, string> = {}, method = "GET"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: p.socket, path: url, method, headers }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** CONNECT, then one line each way: the reply line, or the refusal's status line and body. */
function tunnel(p: EgressProxy, target: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(p.socket);
    let got = "";
    s.on("data", (d) => (got += d.toString()));
    s.on("end", () => resolve(got));
    s.on("error", reject);
    // The line goes with the CONNECT itself (pipelined): the proxy must pass those bytes on.
    s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n${line}\n`);
    setTimeout(() => s.destroy(), 5000).unref();
  });
}

async function echo(): Promise<{ port: number; lines: string[] }> {
  const e = { port: 0, lines: [] as string[] };
  e.port = await listen(createServer((s) => s.on("data", (d) => { e.lines.push(d.toString().trim()); s.end(`pong ${d.toString().trim()}\n`); })));
  return e;
}

describe("EgressProxy", () => {
  it("tunnels CONNECT to a listed host, bytes sent with the CONNECT included, and logs it", async () => {
    const e = await echo();
    const p = await proxy({ hosts: [`127.0.0.1:${e.port}`] });
    expect(await tunnel(p, `127.0.0.1:${e.port}`, "ping")).toBe("HTTP/1.1 200 Connection Established\r\n\r\npong ping\n");
    expect(p.events).toMatchObject([{ method: "CONNECT", target: `127.0.0.1:${e.port}`, decision: "allowed", address: "127.0.0.1" }]);
  });

  it("forwards plain HTTP without the proxy's own headers, and answers what the server said", async () => {
    let seen: IncomingHttpHeaders = {};
    const port = await listen(createHttpServer((req, res) => { seen = req.headers; res.end(`you asked ${req.url}`); }) as unknown as Server);
    const p = await proxy({ hosts: [`127.0.0.1:${port}`] });
    const r = await get(p, `http://127.0.0.1:${port}/a?b=1`, { "proxy-authorization": "Basic eDp5", "x-kept": "1" });
    expect(r).toEqual({ status: 200, body: "you asked /a?b=1" });
    expect(seen["proxy-authorization"]).toBeUndefined();
    expect(seen["x-kept"]).toBe("1");
    expect(seen.host).toBe(`127.0.0.1:${port}`);
  });

  it("refuses what is not a proxy request: origin-form, https:// without a fetch grant, a bad CONNECT target", async () => {
    const p = await proxy({ hosts: ["a.example:443"] });
    expect(await get(p, "/index.html")).toMatchObject({ status: 400, body: expect.stringContaining("this is cratebox's egress proxy") });
    expect(await get(p, "https://a.example/x")).toMatchObject({ status: 403, body: expect.stringContaining("https: URLs go through CONNECT") });
    expect(await tunnel(p, "a.example", "x")).toMatch(/^HTTP\/1.1 400 Bad Request/);
    expect(p.events.every((e) => e.decision === "refused" && e.grant === undefined)).toBe(true);
  });

  it("refuses a name that resolves to this machine, checked by the kernel, and connects only to the address it checked", async () => {
    const e = await echo();
    const own = Object.values(networkInterfaces()).flat().find((a) => a && !a.internal && a.family === "IPv4")?.address;
    expect(own, "this machine has a non-loopback IPv4 address").toBeDefined();
    expect(await isLocalAddress(own!)).toBe(true);
    expect(await isLocalAddress("192.0.2.254")).toBe(own === "192.0.2.254");
    const p = await proxy({ hosts: [`rebind.example:${e.port}`, `mixed.example:${e.port}`], resolve: async (n) => (n === "rebind.example" ? [own!] : ["127.0.0.1", "203.0.113.9"]) });
    expect(await tunnel(p, `rebind.example:${e.port}`, "x")).toContain(`rebind.example resolves to ${own}, an address of this machine`);
    // The allowed address of a mixed answer is the one used: 203.0.113.9 (TEST-NET-3) goes nowhere.
    const mixed = await tunnel(p, `mixed.example:${e.port}`, "x");
    expect(p.events.at(-1)).toMatchObject({ target: `mixed.example:${e.port}`, decision: "allowed", address: "203.0.113.9" });
    expect(mixed).not.toContain("pong");
    expect(e.lines).toEqual([]);
  }, 40_000);

  it("fetch: follows a redirect, checks the hash, answers the body only when it matches", async () => {
    const body = "the reviewed file\n";
    const port = await listen(createHttpServer((req, res) => {
      if (req.url === "/old") return void res.writeHead(302, { location: "/new" }).end();
      res.end(req.url === "/new" ? body : "something else");
    }) as unknown as Server);
    const sha = createHash("sha256").update(body).digest("hex");
    const p = await proxy({ fetch: [{ url: `http://127.0.0.1:${port}/old`, sha256: sha }, { url: `http://127.0.0.1:${port}/swapped`, sha256: sha }] });
    expect(await get(p, `http://127.0.0.1:${port}/old`)).toEqual({ status: 200, body });
    const swapped = await get(p, `http://127.0.0.1:${port}/swapped`);
    expect(swapped.status).toBe(502);
    expect(swapped.body).not.toContain("something else");
    expect(await get(p, `http://127.0.0.1:${port}/old`, {}, "POST")).toMatchObject({ status: 403 });
    expect(p.events.map((e) => e.decision)).toEqual(["allowed", "refused", "refused"]);
  });

  it("close() ends open tunnels and removes the socket", async () => {
    const port = await listen(createServer(() => { /* holds the connection open */ }));
    const p = await proxy({ hosts: [`127.0.0.1:${port}`] });
    const s = connect(p.socket);
    const ended = new Promise<void>((r) => s.on("close", () => r()));
    s.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\n\r\n`);
    await new Promise((r) => s.once("data", r));
    await p.close();
    await ended;
    expect(await new Promise((r) => connect(p.socket).on("error", (err: NodeJS.ErrnoException) => r(err.code)))).toBe("ENOENT");
  });
});
