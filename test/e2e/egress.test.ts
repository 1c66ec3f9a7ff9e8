/**
 * Network grants by host (`network = ["host:port"]`) and hash-pinned downloads (`fetch`), with
 * the hostile build script (test/fixtures/crates/evil-build-0.1.0, actions http-get, tunnel and
 * connect) and a real test binary (the harness workspace's ignored `egress` test), against
 * servers this test starts on this machine's own addresses: loopback, and the address of the
 * Docker bridge for the direct-connect case. Every listener is closed after its test, takes at
 * most 20 connections and drops idle ones after 10 s.
 *
 * The same plan runs under plain cargo first, where every connection ARRIVES (so the
 * assertions below can fail), then under cratebox, where the test asserts what arrived at the
 * servers, what the script recorded, cratebox's own lines and the run report.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer, type Server, type Socket } from "node:net";
import { execa } from "execa";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { reportSchema, type Report } from "../../src/core/report.ts";
import { cratebox, makeFakeHome, plainCargo, testEnv, type RunResult } from "../helpers/run.ts";
import { copyWorkspace, makeRegistry, makeWorkspace, tempDir } from "../helpers/workspace.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await Promise.resolve(fn()).catch(() => {});
});
const track = (dir: string) => {
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};
const token = () => randomBytes(8).toString("hex");

// ---- servers ----------------------------------------------------------------------------------

function bounded(server: Server): void {
  server.maxConnections = 20;
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.setTimeout(10_000, () => s.destroy());
    s.on("close", () => sockets.delete(s));
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
}

interface Web {
  port: number;
  requests: string[];
}

/** An HTTP server answering `routes` (path -> body); every request line it received is kept. */
async function web(routes: Record<string, string>): Promise<Web> {
  const w: Web = { port: 0, requests: [] };
  const server = createHttpServer((req, res) => {
    w.requests.push(`${req.method} ${req.url}`);
    const body = routes[req.url ?? ""];
    const text = body ?? "no such page";
    res.writeHead(body === undefined ? 404 : 200, { "content-type": "text/plain", "content-length": Buffer.byteLength(text) });
    res.end(text);
  });
  bounded(server as unknown as Server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  w.port = (server.address() as { port: number }).port;
  return w;
}

interface Echo {
  port: number;
  address: string;
  received: string;
  connections: number;
}

/** A TCP server that answers each line with `pong <line>`. */
async function echo(host = "127.0.0.1"): Promise<Echo> {
  const e: Echo = { port: 0, address: "", received: "", connections: 0 };
  const server = createServer((s) => {
    e.connections++;
    s.on("data", (d) => {
      e.received += d.toString("utf8");
      s.end(`pong ${d.toString("utf8").trim()}\n`);
    });
    s.on("error", () => {});
  });
  bounded(server);
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  e.port = (server.address() as { port: number }).port;
  e.address = `${host.includes(":") ? `[${host}]` : host}:${e.port}`;
  return e;
}

// ---- one side of a comparison -----------------------------------------------------------------

interface Side {
  ws: string;
  crateDir: string;
  targetDir: string;
  reportFile: string;
  env: Record<string, string>;
}

function side(profile: string): Side {
  const registry = makeRegistry(["evil-build-0.1.0"]);
  track(registry.dir);
  const ws = track(makeWorkspace({ registry: registry.dir, dependencies: ['evil-build = "0.1"'], files: { "cratebox.toml": `version = 1\n${profile}` } }));
  const fake = makeFakeHome();
  track(fake.home);
  const tmp = track(tempDir("cratebox-egress-"));
  return { ws, crateDir: registry.crate("evil-build"), targetDir: path.join(tmp, "target"), reportFile: path.join(tmp, "report.json"), env: testEnv(fake) };
}

function arm(s: Side, plan: string[]): void {
  writeFileSync(path.join(s.crateDir, "cratebox-attack.txt"), `${plan.join("\n")}\n`);
}

async function build(s: Side, mode: "plain" | "boxed"): Promise<RunResult> {
  const args = ["build", "-vv", "--target-dir", s.targetDir];
  return mode === "plain" ? plainCargo(args, s.ws, s.env) : cratebox(args, s.ws, s.env, ["--report", s.reportFile]);
}

/** What the armed script recorded for each plan line. */
function results(s: Side): Map<string, string> {
  const buildDir = path.join(s.targetDir, "debug/build");
  const loot = readdirSync(buildDir)
    .filter((d) => d.startsWith("evil-build-"))
    .map((d) => path.join(buildDir, d, "out/loot.txt"))
    .find((f) => existsSync(f));
  expect(loot, "the armed build script did not run").toBeDefined();
  const map = new Map<string, string>();
  for (const line of readFileSync(loot!, "utf8").split("\n")) {
    const at = line.indexOf(" => ");
    if (at > 0) map.set(line.slice(0, at), line.slice(at + 4));
  }
  return map;
}

function report(s: Side): Report {
  return reportSchema.parse(JSON.parse(readFileSync(s.reportFile, "utf8")));
}

/** Plain cargo first (the plan must work there), then the same plan under cratebox in a fresh side. */
async function compare(profile: string, plan: string[]): Promise<{ plain: Map<string, string>; boxed: Map<string, string>; run: RunResult; side: Side }> {
  const p = side(profile);
  arm(p, plan);
  const plainRun = await build(p, "plain");
  expect(plainRun.code, plainRun.output).toBe(0);
  const plain = results(p);
  const b = side(profile);
  arm(b, plan);
  const run = await build(b, "boxed");
  return { plain, boxed: results(b), run, side: b };
}

// ---- the tests --------------------------------------------------------------------------------

describe('network = ["host:port"]: only the listed hosts, only through cratebox\'s proxy', () => {
  it("a listed host is reachable from a real build script, by plain HTTP and by a CONNECT tunnel; the report logs both", async () => {
    const secret = `hello-${token()}`;
    const site = await web({ "/hello": secret });
    const tcp = await echo();
    const ping = `ping-${token()}`;
    const get = `http-get http://127.0.0.1:${site.port}/hello`;
    const tunnel = `tunnel ${tcp.address} ${ping}`;
    const { plain, boxed, run, side: s } = await compare(`[build.evil-build]\nnetwork = ["127.0.0.1:${site.port}", "${tcp.address}"]\n`, [get, tunnel]);

    expect(plain.get(get)).toContain(`body=${secret}`);
    expect(plain.get(tunnel)).toBe(`OK tunnel to ${tcp.address}, reply=pong ${ping}`);
    expect(run.code, run.output).toBe(0);
    expect(boxed.get(get)).toMatch(new RegExp(`^OK HTTP/1.1 200 OK body=${secret}$`));
    expect(boxed.get(tunnel)).toBe(`OK tunnel to ${tcp.address}, reply=pong ${ping}`);
    expect(site.requests).toEqual(["GET /hello", "GET /hello"]);
    expect(tcp.connections).toBe(2);

    const step = report(s).steps.find((x) => x.crate === "evil-build" && x.phase === "build-script")!;
    expect(step.network).toBe("proxy");
    expect(step.egress.map((e) => [e.method, e.target, e.decision])).toEqual([
      ["GET", `127.0.0.1:${site.port}`, "allowed"],
      ["CONNECT", tcp.address, "allowed"],
    ]);
    expect(step.egress[0]!.reason).toBe(`network entry "127.0.0.1:${site.port}"`);
  });

  it("an unlisted host is refused, by HTTP and CONNECT, and cratebox names the grant that would allow it", async () => {
    const listed = await web({ "/": "listed" });
    const other = await web({ "/secret": "other" });
    const tcp = await echo();
    const get = `http-get http://127.0.0.1:${other.port}/secret`;
    const tunnel = `tunnel ${tcp.address} exfil-${token()}`;
    const { plain, boxed, run, side: s } = await compare(`[build.evil-build]\nnetwork = ["127.0.0.1:${listed.port}"]\n`, [get, tunnel]);

    expect(plain.get(get)).toContain("body=other");
    expect(plain.get(tunnel)).toContain("reply=pong");
    expect(other.requests).toEqual(["GET /secret"]); // plain cargo's only
    expect(tcp.connections).toBe(1);
    expect(run.code, run.output).toBe(0); // the script tolerates the refusals
    expect(boxed.get(get)).toMatch(/^OK HTTP\/1.1 403 Forbidden body=cratebox: refused GET/);
    // Same address as the listed host, another port: refused by port.
    expect(boxed.get(tunnel)).toMatch(
      new RegExp(`^ERR proxy answered HTTP/1.1 403 Forbidden cratebox: refused CONNECT ${tcp.address}: 127.0.0.1 is listed for port ${listed.port} only`),
    );
    expect(run.stderr).toContain(
      `evil-build's build script: CONNECT ${tcp.address} refused: 127.0.0.1 is listed for port ${listed.port} only; to allow it: network = ["127.0.0.1:${listed.port}", "${tcp.address}"] in [build.evil-build]`,
    );
    const refused = report(s)
      .steps.find((x) => x.crate === "evil-build" && x.phase === "build-script")!
      .egress.filter((e) => e.decision === "refused");
    expect(refused.map((e) => [e.method, e.target, e.grant])).toEqual([
      // The list as it is plus the refused host: a list is one value, so it must be written whole.
      ["GET", `127.0.0.1:${other.port}`, `network = ["127.0.0.1:${listed.port}", "127.0.0.1:${other.port}"]`],
      ["CONNECT", tcp.address, `network = ["127.0.0.1:${listed.port}", "${tcp.address}"]`],
    ]);
  });

  it("CONNECT to a listed host on another port is refused", async () => {
    const listed = await echo();
    const otherPort = await echo();
    const tunnel = `tunnel ${otherPort.address} x-${token()}`;
    const { plain, boxed } = await compare(`[build.evil-build]\nnetwork = ["${listed.address}"]\n`, [tunnel]);
    expect(plain.get(tunnel)).toContain("reply=pong");
    expect(boxed.get(tunnel)).toContain(`127.0.0.1 is listed for port ${listed.port} only`);
    expect(otherPort.connections).toBe(1); // plain cargo's only
    expect(listed.connections).toBe(0);
  });

  it("a listed NAME that resolves to this machine (DNS-rebinding style) is refused; the literal address must be listed", async () => {
    const site = await web({ "/": "host-service" });
    const tcp = await echo();
    const get = `http-get http://localhost:${site.port}/`;
    const tunnel = `tunnel localhost:${tcp.port} rebind-${token()}`;
    const { plain, boxed } = await compare(`[build.evil-build]\nnetwork = ["localhost:${site.port}", "localhost:${tcp.port}"]\n`, [get, tunnel]);
    expect(plain.get(get)).toContain("body=host-service");
    expect(plain.get(tunnel)).toContain("reply=pong");
    expect(boxed.get(get)).toMatch(
      /403 Forbidden body=cratebox: refused GET http:\/\/localhost:\d+\/: localhost resolves to (127\.0\.0\.1|::1), a loopback address; list "(127\.0\.0\.1|\[::1\]):\d+" if that address is really meant/,
    );
    expect(boxed.get(tunnel)).toMatch(/403 Forbidden cratebox: refused CONNECT localhost:\d+: localhost resolves to/);
    expect(site.requests).toHaveLength(1); // plain cargo's only
    expect(tcp.connections).toBe(1);
  });

  it("a direct connection that ignores the proxy variables has nowhere to go, not even to a listed host or the host's bridge address", async () => {
    // docker0 is down while no container uses it, and Node lists only interfaces that are up.
    const bridge = /inet (\d+\.\d+\.\d+\.\d+)\//.exec((await execa("ip", ["-4", "-o", "addr", "show", "docker0"], { reject: false })).stdout)?.[1];
    expect(bridge, "the Docker engine's bridge docker0 has an IPv4 address").toBeDefined();
    const onBridge = await echo(bridge);
    const listed = await echo();
    const direct = `connect ${onBridge.address} direct-${token()}`;
    const directListed = `connect ${listed.address} direct-${token()}`;
    const { plain, boxed, run } = await compare(`[build.evil-build]\nnetwork = ["${listed.address}", "${onBridge.address}"]\n`, [direct, directListed]);
    expect(plain.get(direct)).toMatch(/^OK connected/);
    expect(plain.get(directListed)).toMatch(/^OK connected/);
    expect(run.code, run.output).toBe(0);
    expect(boxed.get(direct)).toMatch(/^ERR .*(unreachable|refused)/i);
    expect(boxed.get(directListed)).toMatch(/^ERR .*refused/i); // the container's own loopback
    expect(onBridge.connections).toBe(1); // plain cargo's only
    expect(listed.connections).toBe(1);
  });

  it("network = true still means full access, with a warning naming the grant and the narrower one", async () => {
    const s = side(`[build.evil-build]\nnetwork = true\n`);
    arm(s, []);
    const run = await build(s, "boxed");
    expect(run.code, run.output).toBe(0);
    expect(run.stderr).toMatch(
      /WARNING: the build script of evil-build 0\.1\.0 ran with FULL network access \(network = true, from \[build\.evil-build\] \(.*cratebox\.toml:3\)\).*network = \["host:port"\]/,
    );
    expect(report(s).steps.find((x) => x.crate === "evil-build" && x.phase === "build-script")!.network).toBe("full");
  });
});

describe("fetch = [{ url, sha256 }]: one file, checked against its hash", () => {
  it("the granted file arrives; another path of the same host is refused; a body with another hash is kept back", async () => {
    const content = `tarball-${token()}\n`;
    const tampered = `tampered-${token()}\n`;
    const site = await web({ "/dist/schema.tar": content, "/dist/evil.tar": tampered, "/other": "other" });
    const sha = (t: string) => createHash("sha256").update(t).digest("hex");
    const granted = `http-get http://127.0.0.1:${site.port}/dist/schema.tar`;
    const tamperedGet = `http-get http://127.0.0.1:${site.port}/dist/evil.tar`;
    const other = `http-get http://127.0.0.1:${site.port}/other`;
    const profile = `[build.evil-build]\nfetch = [\n  { url = "http://127.0.0.1:${site.port}/dist/schema.tar", sha256 = "${sha(content)}" },\n  { url = "http://127.0.0.1:${site.port}/dist/evil.tar", sha256 = "${sha("what was reviewed\n")}" },\n]\n`;
    const { plain, boxed, run, side: s } = await compare(profile, [granted, tamperedGet, other]);

    expect(plain.get(granted)).toContain(`body=${content.trim()}`);
    expect(plain.get(tamperedGet)).toContain(`body=${tampered.trim()}`);
    expect(plain.get(other)).toContain("body=other");
    expect(run.code, run.output).toBe(0);
    expect(boxed.get(granted)).toBe(`OK HTTP/1.1 200 OK body=${content.trim()}`);
    expect(boxed.get(tamperedGet)).toMatch(
      /^OK HTTP\/1.1 502 Bad Gateway body=cratebox: refused GET .*the body's sha256 is not the one the fetch grant names; nothing was passed on$/,
    );
    expect(boxed.get(tamperedGet)).not.toContain(tampered.trim());
    expect(boxed.get(other)).toMatch(/403 Forbidden/);
    const events = report(s).steps.find((x) => x.crate === "evil-build" && x.phase === "build-script")!.egress;
    expect(events.map((e) => [e.url, e.decision])).toEqual([
      [`http://127.0.0.1:${site.port}/dist/schema.tar`, "allowed"],
      [`http://127.0.0.1:${site.port}/dist/evil.tar`, "refused"],
      [`http://127.0.0.1:${site.port}/other`, "refused"],
    ]);
    // The digest it got is in cratebox's report, not told to the step.
    expect(events[1]!.reason).toContain(`the body's sha256 is ${sha(tampered)}`);
  });
});

describe("fetch over https", () => {
  it("the proxy downloads an https URL itself, verifying the server's certificate, when asked for its http:// form", async () => {
    // A throwaway CA-less certificate for 127.0.0.1, trusted by cratebox only through NODE_EXTRA_CA_CERTS.
    const dir = track(tempDir("cratebox-tls-"));
    const key = path.join(dir, "key.pem");
    const cert = path.join(dir, "cert.pem");
    const made = await execa(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        key,
        "-out",
        cert,
      ],
      { reject: false },
    );
    expect(made.exitCode, made.stderr).toBe(0);
    const content = `over-tls-${token()}`;
    const requests: string[] = [];
    const server = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.writeHead(200, { "content-length": Buffer.byteLength(content) }).end(content);
    });
    bounded(server as unknown as Server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const port = (server.address() as { port: number }).port;
    const sha = createHash("sha256").update(content).digest("hex");
    const get = `http-get http://127.0.0.1:${port}/schema.tar`;

    const trusted = side(`[build.evil-build]\nfetch = [{ url = "https://127.0.0.1:${port}/schema.tar", sha256 = "${sha}" }]\n`);
    trusted.env.NODE_EXTRA_CA_CERTS = cert;
    arm(trusted, [get]);
    const ok = await build(trusted, "boxed");
    expect(ok.code, ok.output).toBe(0);
    expect(results(trusted).get(get)).toBe(`OK HTTP/1.1 200 OK body=${content}`);
    expect(requests).toEqual(["GET /schema.tar"]);

    // The same grant without trusting the certificate: the proxy refuses to download it.
    const untrusted = side(`[build.evil-build]\nfetch = [{ url = "https://127.0.0.1:${port}/schema.tar", sha256 = "${sha}" }]\n`);
    arm(untrusted, [get]);
    const refused = await build(untrusted, "boxed");
    expect(refused.code, refused.output).toBe(0);
    expect(results(untrusted).get(get)).toMatch(
      /^OK HTTP\/1.1 502 Bad Gateway body=cratebox: fetch https:\/\/127\.0\.0\.1:\d+\/schema\.tar: (SELF_SIGNED|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY)/,
    );
    expect(results(untrusted).get(get)).not.toContain(content);
    expect(report(untrusted).steps.find((x) => x.crate === "evil-build" && x.phase === "build-script")!.egress[0]).toMatchObject({
      decision: "allowed",
      reason: "fetch grant",
      error: expect.any(String),
    });
  });
});

describe("test binaries", () => {
  it("[test.<package>] network = [...] lets a real test binary reach the listed host and no other", async () => {
    const listed = await web({ "/ok": "listed-answer" });
    const other = await web({ "/no": "other-answer" });
    const registry = makeRegistry(["evil-dev-0.1.0"]);
    track(registry.dir);
    const ws = track(copyWorkspace("harness", registry.dir));
    const fake = makeFakeHome();
    track(fake.home);
    writeFileSync(path.join(ws, "cratebox.toml"), `version = 1\n[test.harness]\nnetwork = ["127.0.0.1:${listed.port}"]\n`);
    writeFileSync(path.join(ws, "tests/fixtures/egress.txt"), `http://127.0.0.1:${listed.port}/ok\nhttp://127.0.0.1:${other.port}/no\n`);
    const args = ["test", "--test", "integration", "--", "--ignored", "egress", "--nocapture"];
    const plain = await plainCargo([...args.slice(0, 3), "--target-dir", "target/plain", ...args.slice(3)], ws, testEnv(fake));
    expect(plain.code, plain.output).toBe(0);
    expect(plain.stdout).toContain("other-answer");
    const boxed = await cratebox(args, ws, testEnv(fake));
    expect(boxed.code, boxed.output).toBe(0);
    expect(boxed.stdout).toMatch(/egress http:\/\/127\.0\.0\.1:\d+\/ok => HTTP\/1\.1 200 OK .*listed-answer/);
    expect(boxed.stdout).toMatch(/egress http:\/\/127\.0\.0\.1:\d+\/no => HTTP\/1\.1 403 Forbidden/);
    expect(boxed.stdout).not.toContain("other-answer");
    expect(listed.requests).toEqual(["GET /ok", "GET /ok"]);
    expect(other.requests).toEqual(["GET /no"]); // plain cargo's only
    expect(boxed.stderr).toContain(`harness's test binary: GET http://127.0.0.1:${other.port}/no refused`);
  });
});
