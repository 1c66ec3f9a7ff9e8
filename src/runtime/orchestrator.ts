/**
 * The orchestrator: one per cratebox run. It listens on a private Unix socket for the shims
 * that cargo runs in place of build scripts and through its runner hook, hands each request to
 * the step runner, relays the output as frames, and tells the shim how to exit.
 */
import { createServer, type Server, type Socket } from "node:net";
import path from "node:path";
import { CrateboxError } from "../core/errors.ts";
import type { RunnerPhase } from "../core/phase.ts";
import { encodeFrame, type ExitMessage, FRAME_EXIT, FRAME_STDERR, FRAME_STDOUT, PROTOCOL_VERSION, type RunRequest } from "../core/protocol.ts";
import { toShimExit } from "../core/step-outcome.ts";
import type { StepRunner } from "./step-runner.ts";
import { onPath } from "./realpath.ts";

export class Orchestrator implements AsyncDisposable {
  private server: Server | undefined;
  /** The step runner, made when the first request arrives (a no-op build never loads it). */
  private readonly loadSteps: () => Promise<StepRunner>;
  private steps: Promise<StepRunner> | undefined;
  private interrupted = false;
  /** What a binary coming through cargo's runner hook is, from the cargo subcommand. */
  private readonly runnerPhase: RunnerPhase;
  private readonly log: (line: string) => void;

  constructor(loadSteps: () => Promise<StepRunner>, runnerPhase: RunnerPhase, log: (line: string) => void) {
    this.loadSteps = loadSteps;
    this.runnerPhase = runnerPhase;
    this.log = log;
  }

  /** Listens on a socket path, or on a listening socket this process was given (runtime/adoption.ts). */
  async listen(to: string | { fd: number }): Promise<void> {
    const server = createServer((conn) => this.serve(conn));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(to, () => resolve());
    });
    this.server = server;
  }

  private serve(conn: Socket): void {
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
    // The shim went away (cargo killed it, Ctrl-C): the sandbox must not outlive it.
    const gone = new AbortController();
    conn.on("close", () => gone.abort());
    try {
      this.steps ??= this.loadSteps().then((steps) => {
        if (this.interrupted) steps.interrupt();
        return steps;
      });
      const steps = await this.steps;
      // A bare `rustdoc` stays bare: core/step-plan.ts runs the sysroot's (the rustup proxy that
      // PATH finds first knows no toolchain inside the sandbox).
      const program = req.kind === "rustdoc" ? req.program : onPath(req.program, req.env.PATH);
      const outcome = await steps.run(
        { phase: req.kind === "runner" ? this.runnerPhase : req.kind, program, args: req.args, cwd: req.cwd, env: req.env },
        { stdout: (c) => send(FRAME_STDOUT, c), stderr: (c) => send(FRAME_STDERR, c) },
        req.clientStartedAt,
        gone.signal,
      );
      const exit = toShimExit(outcome);
      if (exit.stderr) send(FRAME_STDERR, Buffer.from(exit.stderr));
      finish(exit.signal ? { code: exit.code, signal: exit.signal } : { code: exit.code });
    } catch (err) {
      const known = err instanceof CrateboxError && err.code !== "INTERNAL";
      const message = known ? (err as Error).message : String((err as Error).stack ?? err);
      this.log(`${req.env.CARGO_PKG_NAME ?? "a crate"}: the sandbox refused to run ${path.basename(req.program)}: ${message}`);
      const hint = known ? (err as CrateboxError).hint : undefined;
      send(FRAME_STDERR, Buffer.from(`cratebox: ${message}\n${hint ? `cratebox: ${hint}\n` : ""}`));
      finish({ code: 101 });
    }
  }

  /** Ctrl-C: stop every running step now; later requests are refused. */
  interrupt(): void {
    this.interrupted = true;
    void this.steps?.then((steps) => steps.interrupt());
  }

  /** Stops listening; the step runner removes what is left of the run. */
  async close(): Promise<void> {
    this.server?.close();
    await (await this.steps)?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
