/**
 * Egress benchmark (a figure for the README, not a timed test):
 * `source scripts/lib.sh && npm run build && node bench/egress.ts [--runs N]`.
 *
 * 1. What a host list costs a step: the same build script (evil-build, unarmed: it does
 *    nothing) built with cratebox N times with `reviewed = true` (network none) and N times with
 *    `network = [...]` (the relay and a proxy), alternating; the step's wall time from the report.
 * 2. What the proxy costs a download: a 64 MiB body from a loopback server, fetched directly and
 *    through the proxy's socket (absolute-URI GET, and a CONNECT tunnel), N times each.
 * Prints medians; writes nothing.
 */
import { readFileSync, rmSync } from "node:fs";
import { createServer, request, type RequestOptions } from "node:http";
import { connect } from "node:net";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { EgressProxy } from "../src/runtime/egress-proxy.ts";
import { readHostAddresses } from "../src/runtime/host-facts.ts";
import { cratebox, makeFakeHome, testEnv } from "../test/helpers/run.ts";
import { makeRegistry, makeWorkspace, tempDir } from "../test/helpers/workspace.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "5" } } });
const runs = Number(values.runs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function stepCost(): Promise<{ none: number; proxy: number }> {
  const times = { none: [] as number[], proxy: [] as number[] };
  const registry = makeRegistry(["evil-build-0.1.0"]);
  const env = testEnv(makeFakeHome());
  for (let i = 0; i < runs * 2; i++) {
    const kind = i % 2 === 0 ? "none" : "proxy";
    const grant = kind === "proxy" ? 'network = ["static.example.org:443"]' : "reviewed = true";
    const ws = makeWorkspace({
      registry: registry.dir,
      dependencies: ['evil-build = "0.1"'],
      files: { "cratebox.toml": `version = 1\n[build.evil-build]\n${grant}\n` },
    });
    const report = path.join(tempDir(), "report.json");
    const res = await cratebox(["build"], ws, env, ["--report", report]);
    if (res.code !== 0) throw new Error(res.output);
    const step = (JSON.parse(readFileSync(report, "utf8")) as { steps: { crate: string; durationMs: number }[] }).steps.find((s) => s.crate === "evil-build")!;
    times[kind].push(step.durationMs);
    rmSync(ws, { recursive: true, force: true });
  }
  return { none: median(times.none), proxy: median(times.proxy) };
}

async function download(): Promise<{ direct: number; get: number; tunnel: number; mib: number }> {
  const body = Buffer.alloc(64 * 1024 * 1024, 7);
  const server = createServer((_req, res) => res.writeHead(200, { "content-length": body.length }).end(body));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  const proxy = await EgressProxy.start({
    socket: path.join(tempDir(), "egress.sock"),
    hosts: [`127.0.0.1:${port}`],
    fetch: [],
    hostAddresses: readHostAddresses(),
    table: "[build.bench]",
  });
  const timed = async (fn: () => Promise<number>) => {
    const t = performance.now();
    const n = await fn();
    // The tunnel counts the inner response's head too: at least the body must have arrived.
    if (n < body.length) throw new Error(`got ${n} bytes`);
    return performance.now() - t;
  };
  const httpGet = (o: RequestOptions) =>
    new Promise<number>((resolve, reject) => {
      request(o, (res) => {
        let n = 0;
        res.on("data", (c: Buffer) => (n += c.length));
        res.on("end", () => resolve(n));
      })
        .on("error", reject)
        .end();
    });
  const tunnel = () =>
    new Promise<number>((resolve, reject) => {
      const s = connect(proxy.socket);
      let head = true;
      let n = 0;
      let pending = Buffer.alloc(0);
      s.on("data", (c: Buffer) => {
        if (!head) {
          n += c.length;
          return;
        }
        pending = Buffer.concat([pending, c]);
        const end = pending.indexOf("\r\n\r\n");
        if (end < 0) return;
        if (pending.subarray(0, 12).toString() === "HTTP/1.1 200") {
          // Tunnel open: one request, then count every byte of the answer.
          head = false;
          n = pending.length - end - 4;
          s.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
        }
      });
      s.on("end", () => resolve(n));
      s.on("error", reject);
      s.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\n\r\n`);
    });
  const t = { direct: [] as number[], get: [] as number[], tunnel: [] as number[] };
  for (let i = 0; i < runs; i++) {
    t.direct.push(await timed(() => httpGet({ host: "127.0.0.1", port, path: "/" })));
    t.get.push(await timed(() => httpGet({ socketPath: proxy.socket, path: `http://127.0.0.1:${port}/` })));
    t.tunnel.push(await timed(tunnel));
  }
  await proxy.close();
  server.close();
  return { direct: median(t.direct), get: median(t.get), tunnel: median(t.tunnel), mib: body.length / 1024 / 1024 };
}

const step = await stepCost();
const dl = await download();
const rate = (ms: number) => `${((dl.mib / ms) * 1000).toFixed(0)} MiB/s`;
process.stdout.write(
  [
    "",
    `egress benchmark (${runs} runs each, medians)`,
    `  one build script, network none        ${step.none} ms   with a host list (relay + proxy) ${step.proxy} ms   difference +${step.proxy - step.none} ms`,
    `  ${dl.mib} MiB from loopback: direct ${dl.direct.toFixed(0)} ms (${rate(dl.direct)})   proxy GET ${dl.get.toFixed(0)} ms (${rate(dl.get)})   CONNECT tunnel ${dl.tunnel.toFixed(0)} ms (${rate(dl.tunnel)})`,
    "",
  ].join("\n"),
);
