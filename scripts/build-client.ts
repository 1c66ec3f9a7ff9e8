/**
 * Builds the native helpers (native/client, Rust, no dependencies, offline) into dist/native/:
 * cratebox-client, the shims' client (every build script, test binary and compiler call starts
 * one, so it saves a Node start per step), and cratebox-spawner, which starts the bwrap backend's
 * sandboxes (a posix_spawn instead of Node's fork per step). When cargo cannot build them,
 * cratebox uses the Node client (dist/shims/client.js) and Node's own spawn, and says nothing:
 * the native ones are only faster. And cratebox-front, which bin/cratebox starts instead of Node
 * for a build whose start Node recorded in a ticket (the front replays it, and starts Node only
 * when cargo's first step arrives: a no-op build never starts Node).
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const crate = path.join(root, "native/client");
const BINARIES = ["cratebox-client", "cratebox-spawner", "cratebox-front"];
const outs = BINARIES.map((b) => path.join(root, "dist/native", b));
const newest = (dir: string): number =>
  Math.max(
    ...readdirSync(dir, { withFileTypes: true }).map((e) =>
      e.isDirectory() ? (e.name === "target" ? 0 : newest(path.join(dir, e.name))) : statSync(path.join(dir, e.name)).mtimeMs,
    ),
  );

if (outs.every((out) => existsSync(out) && statSync(out).mtimeMs >= newest(crate))) process.exit(0);
const res = spawnSync(
  "cargo",
  ["build", "--release", "--offline", "--quiet", "--manifest-path", path.join(crate, "Cargo.toml"), "--target-dir", path.join(crate, "target")],
  {
    stdio: "inherit",
    env: { ...process.env, RUSTC_WRAPPER: "", CARGO_BUILD_RUSTC_WRAPPER: "" },
  },
);
if (res.status !== 0) {
  console.error("build-client: cargo could not build the native helpers; cratebox will use the Node client and Node's spawn");
  process.exit(0);
}
mkdirSync(path.join(root, "dist/native"), { recursive: true });
for (const [i, b] of BINARIES.entries()) copyFileSync(path.join(crate, "target/release", b), outs[i]!);
