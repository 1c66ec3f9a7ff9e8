/**
 * The orchestrator: one per cratebox run. It listens on a private Unix socket for the shims
 * that cargo runs in place of build scripts, runs each request in its own container, relays the
 * output, returns the exit status, and keeps every step's outcome for the summary and report.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import path from "node:path";
import type Docker from "dockerode";
import { CrateboxError } from "../core/errors.ts";
import { encodeFrame, FRAME_EXIT, FRAME_STDERR, FRAME_STDOUT, PROTOCOL_VERSION, type ExitMessage, type RunRequest } from "../core/protocol.ts";
import { toCreateOptions } from "../core/container-options.ts";
import { DirectiveGate } from "../core/directive-gate.ts";
import { phaseText, toGrantPhase, type Phase, type RunnerPhase } from "../core/phase.ts";
import { toSandboxSpec, withTracing, type StepRequest } from "../core/sandbox-spec.ts";
import { parseTrace, type TraceDenials } from "../core/trace.ts";
import { signalName, toCause, toSignal, type StepOutcome } from "../core/step-outcome.ts";
import { LABEL_OWNER, LABEL_RUN, removeContainer, runContainer, type RunIo } from "./containers.ts";
import type { StepDecision } from "./grants.ts";
import { EgressProxy } from "./egress-proxy.ts";
import { readHostAddresses, readRunHostFacts, SysrootCache, toHostFacts, type RunHostFacts } from "./host-facts.ts";
import { imageExists, PACKAGE_ROOT } from "./image.ts";

/** The relay a proxied step's container runs (compiled from src/shims/egress-relay.ts). */
const EGRESS_RELAY = path.join(PACKAGE_ROOT, "dist/shims/egress-relay.js");

export interface OrchestratorOptions {
  docker: Docker;
  runId: string;
  owner: string;
  image: string;
  buildRoots: string[];
  /** The grant, limits and image of a step (runtime/grants.ts GrantBook.decide). */
  decide: (manifestDir: string, phase: Phase) => Promise<StepDecision>;
  /** What a binary coming through cargo's runner hook is, from the cargo subcommand. */
  runnerPhase: RunnerPhase;
  /** The rustc of this run, for steps whose environment names none (runner phases). */
  rustc: string;
  /** cratebox's own lines (stderr of the run). */
  log: (line: string) => void;
  /** Learn mode: trace every step (strace) into a directory of this run. */
  traceRoot?: string;
  /** A private directory of this run for the egress proxies' sockets (steps whose grant lists hosts). */
  egressDir: string;
  /** Told when a container starts and when a step ends (progress line, failure lines, annotations). */
  onStepStart?: (phase: Phase, crate: string) => void;
  onStepEnd?: (outcome: StepOutcome) => void;
}

export class Orchestrator implements AsyncDisposable {
  readonly outcomes: StepOutcome[] = [];
  /** Engine warnings seen at container creation (unenforceable limits), deduplicated. */
  readonly engineWarnings = new Set<string>();
  private readonly live = new Map<symbol, AbortController>();
  private readonly removals = new Set<Promise<void>>();
  private readonly sysroots = new SysrootCache();
  private server: Server | undefined;
  private interrupted = false;
  private proxies = 0;

  private readonly opts: OrchestratorOptions;
  private readonly images = new Map<string, Promise<void>>();

  private readonly host: RunHostFacts;

  constructor(opts: OrchestratorOptions) {
    this.opts = opts;
    this.host = readRunHostFacts(opts.image, opts.buildRoots);
  }

  private runtimes: Promise<string[]> | undefined;

  /** A runtime named by a grant (runsc) must be registered with the engine. */
  private async ensureRuntime(name: string): Promise<void> {
    this.runtimes ??= this.opts.docker.info().then((i: { Runtimes?: Record<string, unknown> }) => Object.keys(i.Runtimes ?? {}));
    const known = await this.runtimes;
    if (!known.includes(name)) {
      throw new CrateboxError(
        "RUNTIME_MISSING",
        `the runtime ${name} named in a grant is not registered with the Docker engine (it has: ${known.join(", ")})`,
        name === "runsc"
          ? 'install gVisor (Debian: apt-get install runsc) and register it in /etc/docker/daemon.json under "runtimes", then restart dockerd'
          : undefined,
      );
    }
  }

  /** A custom image named by a grant must exist locally: nothing can be pulled. */
  private ensureCustomImage(ref: string): Promise<void> {
    let p = this.images.get(ref);
    if (!p) {
      p = imageExists(this.opts.docker, ref).then((exists) => {
        if (!exists)
          throw new CrateboxError(
            "IMAGE_MISSING",
            `the image ${ref} named in a grant is not in the engine, and cratebox does not pull images`,
            `build or load it first (docker build / docker load / docker import)`,
          );
      });
      this.images.set(ref, p);
    }
    return p;
  }

  async listen(socketPath: string): Promise<void> {
    const server = createServer((conn) => void this.serve(conn));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socketPath, () => resolve());
    });
    this.server = server;
  }

  /** Runs one step in a container. Output goes to `io` as it comes; never throws for the step's own failure. */
  async runStep(request: StepRequest, io: RunIo, clientStartedAt = Date.now(), clientGone?: AbortSignal): Promise<StepOutcome> {
    const { opts } = this;
    const crate = request.env.CARGO_PKG_NAME ?? "unknown";
    const version = request.env.CARGO_PKG_VERSION ?? "0.0.0";
    if (this.interrupted) throw new CrateboxError("INTERRUPTED", "the run is being interrupted");
    const manifestDir = request.env.CARGO_MANIFEST_DIR ?? request.cwd;
    let decision = await opts.decide(manifestDir, request.phase);
    // Learn mode: a step without network gets a proxy that lists nothing, so that each host it
    // asks for is refused by name and can be proposed (`network = ["host:port"]`).
    if (opts.traceRoot && decision.grant.network.kind === "none")
      decision = { ...decision, grant: { ...decision.grant, network: { kind: "proxy", hosts: [], fetch: [] } } };
    if (decision.image) await this.ensureCustomImage(decision.image);
    if (decision.grant.runtime !== "runc") await this.ensureRuntime(decision.grant.runtime);
    const rustc = request.env.RUSTC ?? opts.rustc;
    const facts = toHostFacts({ ...this.host, image: decision.image ?? opts.image }, this.sysroots.resolve(rustc, request.env), request.phase, request.program);
    // An image of its own brings its own userland: the host's /usr is not laid over it.
    if (decision.image) facts.systemPaths = [];
    const traceDir = opts.traceRoot ? mkdtempSync(path.join(opts.traceRoot, "step-")) : undefined;
    const proxy = await this.startProxy(decision, request.phase, crate);
    if (proxy) facts.egress = { node: process.execPath, script: EGRESS_RELAY, socket: proxy.socket };
    const abort = new AbortController();
    const key = Symbol(crate);
    this.live.set(key, abort);
    const onGone = () => abort.abort("client-gone");
    clientGone?.addEventListener("abort", onGone, { once: true });
    let containerId = "";
    // Everything from here on is inside the try: a refused spec still closes the step's proxy.
    try {
      const plainSpec = toSandboxSpec(
        request,
        facts,
        decision.limits,
        {
          [LABEL_RUN]: opts.runId,
          [LABEL_OWNER]: opts.owner,
          "cratebox.crate": crate,
          "cratebox.version": version,
          "cratebox.phase": request.phase,
        },
        decision.grant,
      );
      const spec = traceDir ? withTracing(plainSpec, traceDir) : plainSpec;
      // The directive firewall: a build script's stdout goes to cargo line by line, and a line
      // the host would act on dangerously is kept back (core/directive-gate.ts).
      const gate = request.phase === "build-script" ? new DirectiveGate(request.env.OUT_DIR ?? "", decision.directives, io.stdout) : undefined;
      const relay: RunIo = gate ? { stdout: (c) => gate.push(c), stderr: io.stderr } : io;
      const run = await runContainer(
        opts.docker,
        toCreateOptions(spec),
        relay,
        abort.signal,
        (id) => {
          containerId = id;
          opts.onStepStart?.(request.phase, crate);
        },
        decision.limits.timeoutMs,
      );
      for (const w of run.warnings) this.engineWarnings.add(w);
      gate?.end(existsSync);
      const blocked = gate?.blocked ?? [];
      const cause = blocked.length > 0 && run.exit.exitCode === 0 ? "directive" : toCause(run.exit);
      const outcome: StepOutcome = {
        phase: request.phase,
        crate,
        version,
        program: path.basename(request.program).replace(/\.cratebox-real$/, ""),
        manifestDir,
        image: spec.image,
        containerId: run.id,
        ok: run.exit.exitCode === 0 && cause === "exit",
        blockedDirectives: blocked.map((b) => ({ directive: b.directive, reason: b.reason })),
        // Variables it said it reads (rerun-if-env-changed) that the host has and the sandbox withheld.
        askedWithheld: spec.withheldEnv.filter((name) => gate?.askedEnv.has(name) ?? false),
        source: decision.crate.source,
        ...(traceDir
          ? {
              denials: readDenials(
                traceDir,
                spec.mounts.map((m) => m.target),
              ),
            }
          : {}),
        cause,
        exitCode: run.exit.exitCode,
        signal: toSignal(run.exit, cause),
        durationMs: Date.now() - clientStartedAt,
        runMs: run.runMs,
        limits: decision.limits,
        grant: decision.summary,
        withheldEnv: spec.withheldEnv,
        withheldPaths: spec.withheldPaths,
        network: spec.network,
        egress: proxy?.events ?? [],
        ...(proxy?.omitted ? { egressOmitted: proxy.omitted } : {}),
      };
      this.outcomes.push(outcome);
      opts.onStepEnd?.(outcome);
      return outcome;
    } finally {
      clientGone?.removeEventListener("abort", onGone);
      this.live.delete(key);
      if (containerId) this.scheduleRemoval(containerId);
      await proxy?.close();
    }
  }

  /** A step whose grant lists hosts or fetch URLs gets an egress proxy of its own, on a socket of its own. */
  private async startProxy(decision: StepDecision, phase: Phase, crate: string): Promise<EgressProxy | undefined> {
    const net = decision.grant.network;
    if (net.kind !== "proxy") return undefined;
    const what = phaseText(phase);
    const table = `[${toGrantPhase(phase)}.${crate}]`;
    return EgressProxy.start({
      socket: path.join(this.opts.egressDir, `egress-${++this.proxies}.sock`),
      hosts: net.hosts,
      fetch: net.fetch,
      hostAddresses: readHostAddresses(),
      table,
      onEvent: (e) => {
        if (e.decision === "refused")
          this.opts.log(`${crate}'s ${what}: ${e.method} ${e.url ?? e.target} refused: ${e.reason}${e.grant ? `; to allow it: ${e.grant} in ${table}` : ""}`);
      },
    });
  }

  private scheduleRemoval(id: string): void {
    const p = removeContainer(this.opts.docker, id)
      .catch((err: Error) => this.opts.log(`could not remove container ${id.slice(0, 12)}: ${err.message}`))
      .finally(() => this.removals.delete(p));
    this.removals.add(p);
  }

  private async serve(conn: Socket): Promise<void> {
    let buffered = "";
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const nl = buffered.indexOf("\n");
      if (nl < 0) return;
      conn.off("data", onData);
      void this.answer(conn, buffered.slice(0, nl));
    };
    conn.on("data", onData);
    conn.on("error", () => {});
  }

  private async answer(conn: Socket, line: string): Promise<void> {
    const send = (type: number, payload: Uint8Array) => {
      if (!conn.destroyed) conn.write(encodeFrame(type, payload));
    };
    const finish = (msg: ExitMessage) => {
      send(FRAME_EXIT, Buffer.from(JSON.stringify(msg)));
      conn.end();
    };
    let req: RunRequest;
    try {
      req = JSON.parse(line) as RunRequest;
      if (req.v !== PROTOCOL_VERSION) throw new CrateboxError("PROTOCOL", `protocol version ${req.v}, expected ${PROTOCOL_VERSION}`);
    } catch (err) {
      send(FRAME_STDERR, Buffer.from(`cratebox: bad request from the shim: ${(err as Error).message}\n`));
      return finish({ code: 101 });
    }
    // The shim went away (cargo killed it, Ctrl-C): the container must not outlive it.
    const stepAbort = new AbortController();
    conn.on("close", () => stepAbort.abort());
    try {
      const outcome = await this.runStep(
        { phase: req.kind === "runner" ? this.opts.runnerPhase : "build-script", program: req.program, args: req.args, cwd: req.cwd, env: req.env },
        { stdout: (c) => send(FRAME_STDOUT, c), stderr: (c) => send(FRAME_STDERR, c) },
        req.clientStartedAt,
        stepAbort.signal,
      );
      if (outcome.cause === "directive") {
        // Cargo must not act on what was kept back: the step fails, and says why in its stderr.
        const why = outcome.blockedDirectives.map((b) => `cratebox: blocked \`${b.directive}\`: ${b.reason}\n`).join("");
        send(FRAME_STDERR, Buffer.from(why));
        finish({ code: 101 });
      } else if (outcome.signal !== undefined) finish({ code: 128 + outcome.signal, signal: signalName(outcome.signal) });
      else finish({ code: outcome.exitCode });
    } catch (err) {
      const known = err instanceof CrateboxError && err.code !== "INTERNAL";
      const message = known ? (err as Error).message : String((err as Error).stack ?? err);
      this.opts.log(`${req.env.CARGO_PKG_NAME ?? "a crate"}: the sandbox refused to run ${path.basename(req.program)}: ${message}`);
      send(FRAME_STDERR, Buffer.from(`cratebox: ${message}\n`));
      finish({ code: 101 });
    }
  }

  /** Ctrl-C: stop every running container now; later requests are refused. */
  interrupt(): void {
    this.interrupted = true;
    for (const abort of this.live.values()) abort.abort("interrupt");
  }

  /** Stops listening, waits for removals, and removes anything of this run that is left. */
  async close(): Promise<void> {
    this.server?.close();
    for (const abort of this.live.values()) abort.abort("interrupt");
    await Promise.allSettled([...this.removals]);
    const left = await this.opts.docker.listContainers({ all: true, filters: { label: [`${LABEL_RUN}=${this.opts.runId}`] } });
    await Promise.allSettled(left.map((c) => removeContainer(this.opts.docker, c.Id)));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function readDenials(traceDir: string, visible: string[]): TraceDenials {
  let text = "";
  try {
    text = readFileSync(path.join(traceDir, "trace"), "utf8");
  } catch {
    /* the program never started */
  }
  return parseTrace(text, (p) => existsSync(p), visible);
}
