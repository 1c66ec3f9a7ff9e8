/**
 * The shims' client: `node client.js [--runner] <program> [args...]`, with the environment cargo
 * gave the shim. The build-script shim calls it with the real build-script binary; cargo's runner
 * hook (runner.sh) with `--runner` and the test, bench or `cargo run` binary. Sends the request
 * to the orchestrator (CRATEBOX_SOCKET), relays the container's stdout and stderr, and exits as
 * the program did. Only node: imports, so start-up stays small.
 */
import { connect } from "node:net";
import { resolve } from "node:path";
import { FRAME_EXIT, FRAME_STDERR, FRAME_STDOUT, FrameDecoder, PROTOCOL_VERSION, type ExitMessage, type RunRequest } from "../core/protocol.ts";

const clientStartedAt = Date.now();
const argv = process.argv.slice(2);
const FLAGS = { "--runner": "runner", "--rustc": "rustc", "--rustdoc": "rustdoc" } as const;
const flag = FLAGS[argv[0] as keyof typeof FLAGS];
const kind: RunRequest["kind"] = flag ?? "build-script";
const [program, ...args] = flag ? argv.slice(1) : argv;
const socketPath = process.env.CRATEBOX_SOCKET;
if (!program || !socketPath) {
  process.stderr.write("cratebox: the sandbox shim was started without a program or outside a cratebox run\n");
  process.exit(101);
}

const env: Record<string, string> = {};
for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
// Cargo hands its runner a path relative to the working directory (`target/debug/app` for
// `cargo run`): the orchestrator wants it absolute.
const request: RunRequest = {
  v: PROTOCOL_VERSION,
  kind,
  program: program.includes("/") ? resolve(program) : program,
  args,
  cwd: process.cwd(),
  env,
  clientStartedAt,
};

let exited = false;
const decoder = new FrameDecoder();
const sock = connect(socketPath);
sock.on("connect", () => sock.write(`${JSON.stringify(request)}\n`));
sock.on("data", (chunk: Buffer) => {
  for (const frame of decoder.push(chunk)) {
    if (frame.type === FRAME_STDOUT) process.stdout.write(frame.payload);
    else if (frame.type === FRAME_STDERR) process.stderr.write(frame.payload);
    else if (frame.type === FRAME_EXIT) finish(JSON.parse(Buffer.from(frame.payload).toString("utf8")) as ExitMessage);
  }
});
sock.on("error", (err) => {
  if (exited) return;
  process.stderr.write(`cratebox: lost the connection to the cratebox run (${err.message})\n`);
  process.exit(101);
});
sock.on("close", () => {
  if (exited) return;
  process.stderr.write("cratebox: the cratebox run ended before the sandboxed program finished\n");
  process.exit(101);
});

function finish(msg: ExitMessage): void {
  exited = true;
  sock.destroy();
  // Let stdout/stderr drain (they are pipes to cargo) before leaving.
  const done = () => {
    if (msg.signal) {
      process.removeAllListeners(msg.signal as NodeJS.Signals);
      process.kill(process.pid, msg.signal as NodeJS.Signals);
    }
    process.exit(msg.code);
  };
  process.stdout.write("", () => process.stderr.write("", done));
}
