/**
 * scripts/setup: registers gVisor's runsc with the Docker engine as cratebox's steps need it
 * (core/runsc.ts: `--network=none --host-uds=open`), keeping everything else in
 * /etc/docker/daemon.json as it is. Prints "changed" when it wrote the file (setup then has
 * dockerd reload it, SIGHUP: no restart, running containers stay), "unchanged" otherwise.
 * Usage: node scripts/docker-runtimes.ts [daemon.json] [runsc binary]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { runscDaemonJson } from "../src/core/runsc.ts";

const file = process.argv[2] ?? "/etc/docker/daemon.json";
const runsc = process.argv[3] ?? "/usr/bin/runsc";
const before = existsSync(file) ? readFileSync(file, "utf8") : "";
const config = before.trim() ? (JSON.parse(before) as { runtimes?: Record<string, unknown> }) : {};
const wanted = (JSON.parse(runscDaemonJson(runsc)) as { runtimes: { runsc: unknown } }).runtimes.runsc;
if (JSON.stringify(config.runtimes?.runsc) === JSON.stringify(wanted)) {
  console.log("unchanged");
} else {
  config.runtimes = { ...config.runtimes, runsc: wanted };
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  console.log("changed");
}
