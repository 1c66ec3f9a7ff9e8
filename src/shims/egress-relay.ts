/**
 * The in-container end of a proxied step's network (`network = ["host:port"]`, `fetch`):
 * `node egress-relay.js <socket> <port> -- <command...>`. The container has network mode none,
 * so nothing but its own loopback exists; this listens on 127.0.0.1:<port> (what HTTP_PROXY
 * names), carries each connection byte for byte to the step's proxy socket (mounted from the
 * host), and then runs the command, exiting as it did.
 *
 * It decides nothing: every rule is enforced on the host side of the socket
 * (runtime/egress-proxy.ts), so a step that kills or bypasses this process gains nothing but
 * the socket, which leads to the same proxy. Only node: imports.
 */
import { spawn } from "node:child_process";
import { connect, createServer } from "node:net";
import { constants } from "node:os";

const [socketPath, portText, dashes, ...command] = process.argv.slice(2);
if (!socketPath || !portText || dashes !== "--" || command.length === 0) {
  process.stderr.write("cratebox egress relay: usage: egress-relay.js <socket> <port> -- <command...>\n");
  process.exit(101);
}

// Half-open both ways: a client that shuts its sending side after the request still gets the answer.
const server = createServer({ allowHalfOpen: true }, (inside) => {
  const outside = connect({ path: socketPath, allowHalfOpen: true });
  inside.pipe(outside);
  outside.pipe(inside);
  const end = () => {
    inside.destroy();
    outside.destroy();
  };
  inside.on("error", end);
  outside.on("error", end);
  inside.on("close", end);
  outside.on("close", end);
});

server.on("error", (err) => {
  process.stderr.write(`cratebox egress relay: cannot listen on 127.0.0.1:${portText}: ${err.message}\n`);
  process.exit(101);
});

server.listen(Number(portText), "127.0.0.1", () => {
  const child = spawn(command[0]!, command.slice(1), { stdio: "inherit" });
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(sig, () => child.kill(sig));
  child.on("error", (err) => {
    process.stderr.write(`cratebox egress relay: cannot run ${command[0]}: ${err.message}\n`);
    process.exit(127);
  });
  // As a shell reports it (and as the container's init would have): 128+n for signal n.
  child.on("exit", (code, signal) => process.exit(signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 101)));
});
