/**
 * The host side of the egress proxy (runtime/egress-proxy.ts) on real sockets, without a
 * container: clients speak to its Unix socket as the relay would, upstream servers listen on
 * loopback. Names are resolved by a stand-in resolver only where a name must lead somewhere
 * this machine has no DNS for; whether an address is this machine's own is the kernel's answer.
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createServer as createHttpServer, request, Server as HttpServer, type IncomingHttpHeaders } from "node:http";
import { connect, createServer, type Server } from "node:net";
import { networkInterfaces } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EgressProxy } from "../../src/runtime/egress-proxy.ts";
import { isLocalAddress, readHostAddresses } from "../../src/runtime/host-facts.ts";
import { tempDir } from "../helpers/workspace.ts";

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function listen(server: Server): Promise<number> {
  server.maxConnections = 20;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  closers.push(
    () =>
      new Promise<void>((r) => {
        // An HTTP server keeps idle keep-alive connections; a plain one is ended by its handlers.
        if (server instanceof HttpServer) server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return (server.address() as { port: number }).port;
}

async function proxy(opts: Partial<Parameters<typeof EgressProxy.start>[0]> = {}): Promise<EgressProxy> {
  const p = await EgressProxy.start({
    socket: path.join(tempDir(), "egress.sock"),
    hosts: [],
    fetch: [],
    hostAddresses: { own: [], bridges: [] },
    table: "[build.foo]",
    ...opts,
  });
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
  e.port = await listen(
    createServer((s) =>
      s.on("data", (d) => {
        e.lines.push(d.toString().trim());
        s.end(`pong ${d.toString().trim()}\n`);
      }),
    ),
  );
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
    const port = await listen(
      createHttpServer((req, res) => {
        seen = req.headers;
        res.end(`you asked ${req.url}`);
      }) as unknown as Server,
    );
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
    const own = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && !a.internal && a.family === "IPv4")?.address;
    expect(own, "this machine has a non-loopback IPv4 address").toBeDefined();
    expect(await isLocalAddress(own!)).toBe(true);
    expect(await isLocalAddress("192.0.2.254")).toBe(own === "192.0.2.254");
    const p = await proxy({
      hosts: [`rebind.example:${e.port}`, `mixed.example:${e.port}`],
      resolve: async (n) => (n === "rebind.example" ? [own!] : ["127.0.0.1", "203.0.113.9"]),
    });
    expect(await tunnel(p, `rebind.example:${e.port}`, "x")).toContain(`rebind.example resolves to ${own}, an address of this machine`);
    // The allowed address of a mixed answer is the one used: 203.0.113.9 (TEST-NET-3) goes nowhere.
    const mixed = await tunnel(p, `mixed.example:${e.port}`, "x");
    expect(p.events.at(-1)).toMatchObject({ target: `mixed.example:${e.port}`, decision: "allowed", address: "203.0.113.9" });
    expect(mixed).not.toContain("pong");
    expect(e.lines).toEqual([]);
  }, 40_000);

  it("fetch: follows a redirect, checks the hash, answers the body only when it matches", async () => {
    const body = "the reviewed file\n";
    const port = await listen(
      createHttpServer((req, res) => {
        if (req.url === "/old") return void res.writeHead(302, { location: "/new" }).end();
        res.end(req.url === "/new" ? body : "something else");
      }) as unknown as Server,
    );
    const sha = createHash("sha256").update(body).digest("hex");
    const p = await proxy({
      fetch: [
        { url: `http://127.0.0.1:${port}/old`, sha256: sha },
        { url: `http://127.0.0.1:${port}/swapped`, sha256: sha },
      ],
    });
    expect(await get(p, `http://127.0.0.1:${port}/old`)).toEqual({ status: 200, body });
    const swapped = await get(p, `http://127.0.0.1:${port}/swapped`);
    expect(swapped.status).toBe(502);
    expect(swapped.body).not.toContain("something else");
    expect(await get(p, `http://127.0.0.1:${port}/old`, {}, "POST")).toMatchObject({ status: 403 });
    expect(p.events.map((e) => e.decision)).toEqual(["allowed", "refused", "refused"]);
  });

  it("close() ends open tunnels and removes the socket", async () => {
    const port = await listen(
      createServer(() => {
        /* holds the connection open */
      }),
    );
    const p = await proxy({ hosts: [`127.0.0.1:${port}`] });
    const s = connect(p.socket);
    const ended = new Promise<void>((r) => s.on("close", () => r()));
    s.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\n\r\n`);
    await new Promise((r) => s.once("data", r));
    await p.close();
    await ended;
    expect(await new Promise((r) => connect(p.socket).on("error", (err: NodeJS.ErrnoException) => r(err.code)))).toBe("ENOENT");
  });

  it("a leading-zero address is no address: CONNECT 127.0.0.010 is refused, not sent to 127.0.0.8", async () => {
    const p = await proxy({ hosts: ["127.0.0.10:8080"] });
    expect(await tunnel(p, "127.0.0.010:8080", "x")).toMatch(/^HTTP\/1.1 400 Bad Request/);
    expect(p.events).toMatchObject([{ decision: "refused", reason: expect.stringContaining("not a host:port") }]);
  });

  it("a fetch redirect to another host:port is checked like a name: no redirect to loopback or metadata", async () => {
    const inner = await echo();
    const port = await listen(
      createHttpServer((_req, res) => void res.writeHead(302, { location: `http://127.0.0.1:${inner.port}/admin` }).end()) as unknown as Server,
    );
    const p = await proxy({ fetch: [{ url: `http://127.0.0.1:${port}/f`, sha256: "a".repeat(64) }] });
    const r = await get(p, `http://127.0.0.1:${port}/f`);
    expect(r.status).toBe(502);
    expect(r.body).toContain(`redirected to 127.0.0.1:${inner.port}, refused: 127.0.0.1 resolves to 127.0.0.1, a loopback address`);
    expect(inner.lines).toEqual([]);
  });

  it("fetch: one download per grant however often it is asked for, and the step never learns the digest it got", async () => {
    let served = 0;
    const port = await listen(
      createHttpServer((_req, res) => {
        served++;
        res.end("not what was reviewed");
      }) as unknown as Server,
    );
    const p = await proxy({ fetch: [{ url: `http://127.0.0.1:${port}/f`, sha256: "a".repeat(64) }] });
    const answers = await Promise.all(Array.from({ length: 8 }, () => get(p, `http://127.0.0.1:${port}/f`)));
    expect(served).toBe(1);
    expect(answers.every((a) => a.status === 502 && !a.body.includes(createHash("sha256").update("not what was reviewed").digest("hex")))).toBe(true);
    expect(p.events[0]!.reason).toContain(createHash("sha256").update("not what was reviewed").digest("hex")); // cratebox's own log has it
  });

  it("keeps 500 events and counts the rest; tells each distinct refusal once", async () => {
    const told: string[] = [];
    const p = await proxy({ onEvent: (e) => told.push(e.target) });
    for (let i = 0; i < 30; i++) await Promise.all(Array.from({ length: 20 }, (_, j) => get(p, `http://x${j}.example/`)));
    expect(p.events).toHaveLength(500);
    expect(p.omitted).toBe(100);
    expect(told).toHaveLength(20);
  });

  it("an upstream's invalid status becomes a 502, and the proxy lives on", async () => {
    const port = await listen(createServer((s) => s.on("data", () => s.end("HTTP/1.1 000 Zero\r\nContent-Length: 0\r\n\r\n"))));
    const p = await proxy({ hosts: [`127.0.0.1:${port}`] });
    expect((await get(p, `http://127.0.0.1:${port}/`)).status).toBe(502);
    expect((await get(p, `http://127.0.0.1:${port}/`)).status).toBe(502);
  });

  it("a chunked body on a GET reaches the server framed, as one request", async () => {
    const seen: string[] = [];
    const port = await listen(
      createHttpServer((req, res) => {
        let body = "";
        req.on("data", (c: Buffer) => (body += c.toString()));
        req.on("end", () => {
          seen.push(`${req.method} ${req.url} ${body}`);
          res.end("ok");
        });
      }) as unknown as Server,
    );
    const p = await proxy({ hosts: [`127.0.0.1:${port}`] });
    const r = await new Promise<number>((resolve, reject) => {
      const req = request({ socketPath: p.socket, path: `http://127.0.0.1:${port}/q`, method: "GET", headers: { "transfer-encoding": "chunked" } }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      });
      req.on("error", reject);
      req.write("GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
      req.end();
    });
    expect(r).toBe(200);
    expect(seen).toEqual([`GET /q GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n`]);
  });
});

describe("the relay (dist/shims/egress-relay.js), run on this host", () => {
  it("carries a connection to the proxy socket, answers a client that half-closes after its request, and exits as its command did", async () => {
    const site = await listen(createHttpServer((_req, res) => res.end("through the relay")) as unknown as Server);
    const p = await proxy({ hosts: [`127.0.0.1:${site}`] });
    const free = createServer();
    const port = await new Promise<number>((r) => free.listen(0, "127.0.0.1", () => r((free.address() as { port: number }).port)));
    await new Promise<void>((r) => free.close(() => r()));
    const relay = spawn(
      process.execPath,
      [path.resolve(import.meta.dirname, "../../dist/shims/egress-relay.js"), p.socket, String(port), "--", "sh", "-c", "sleep 3; exit 7"],
      { stdio: "ignore" },
    );
    closers.push(() => void relay.kill("SIGKILL"));
    const exited = new Promise<number | null>((r) => relay.on("exit", (code) => r(code)));
    let answer = "";
    for (let attempt = 0; attempt < 50 && !answer; attempt++) {
      answer = await new Promise<string>((resolve) => {
        const s = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
        let got = "";
        s.on("connect", () => s.end(`GET http://127.0.0.1:${site}/ HTTP/1.1\r\nHost: 127.0.0.1:${site}\r\nConnection: close\r\n\r\n`));
        s.on("data", (d) => (got += d.toString()));
        s.on("close", () => resolve(got));
        s.on("error", () => resolve(""));
      });
      if (!answer) await new Promise((r) => setTimeout(r, 50));
    }
    expect(answer).toMatch(/^HTTP\/1.1 200 OK[\s\S]*through the relay$/);
    expect(await exited).toBe(7);
  }, 20_000);
});

describe("a listed name that leads to another machine", () => {
  it("is reached through the proxy, at the address the proxy checked (a host in a network namespace this test creates)", async () => {
    // A throwaway network namespace with a veth pair: 10.213.x.1 here, 10.213.x.2 there, and an
    // echo server there that exits by itself after 20 s. Removed with the namespace afterwards.
    const id = randomBytes(3).toString("hex");
    const ns = `cbx-${id}`;
    const subnet = `10.213.${parseInt(id.slice(0, 2), 16)}`;
    const ip = (...args: string[]) => execFileSync("ip", args, { stdio: "pipe" });
    ip("netns", "add", ns);
    closers.push(() => void ip("netns", "del", ns));
    ip("link", "add", `cbh-${id}`, "type", "veth", "peer", "name", `cbn-${id}`);
    ip("link", "set", `cbn-${id}`, "netns", ns);
    ip("addr", "add", `${subnet}.1/30`, "dev", `cbh-${id}`);
    ip("link", "set", `cbh-${id}`, "up");
    ip("netns", "exec", ns, "ip", "addr", "add", `${subnet}.2/30`, "dev", `cbn-${id}`);
    ip("netns", "exec", ns, "ip", "link", "set", `cbn-${id}`, "up");
    const server = spawn(
      "ip",
      [
        "netns",
        "exec",
        ns,
        process.execPath,
        "-e",
        `const s = require("node:net").createServer((c) => c.on("data", (d) => c.end("pong " + d.toString().trim() + "\\n"))).listen(7007, "${subnet}.2", () => console.log("up")); setTimeout(() => process.exit(0), 20000);`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    closers.push(() => void server.kill("SIGKILL"));
    await new Promise((r) => server.stdout!.once("data", r));

    const p = await proxy({
      hosts: ["svc.internal:7007", "*.corp.internal:7007"],
      hostAddresses: readHostAddresses(),
      resolve: async (n) => (n.endsWith(".internal") ? [`${subnet}.2`] : []),
    });
    expect(await tunnel(p, "svc.internal:7007", "hello")).toBe("HTTP/1.1 200 Connection Established\r\n\r\npong hello\n");
    expect(await tunnel(p, "db.corp.internal:7007", "wild")).toContain("pong wild");
    expect(p.events.map((e) => [e.target, e.decision, e.address])).toEqual([
      ["svc.internal:7007", "allowed", `${subnet}.2`],
      ["db.corp.internal:7007", "allowed", `${subnet}.2`],
    ]);
    // The same host by a name that resolves to the address this machine has on that link: refused.
    const own = await proxy({ hosts: ["gw.internal:7007"], hostAddresses: readHostAddresses(), resolve: async () => [`${subnet}.1`] });
    expect(await tunnel(own, "gw.internal:7007", "x")).toContain(`gw.internal resolves to ${subnet}.1, an address of this machine`);
  }, 30_000);
});
