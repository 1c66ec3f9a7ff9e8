/**
 * Builds the shims' native client (native/client, Rust, no dependencies, offline) into
 * dist/native/cratebox-client. Every build script, test binary and compiler call starts one, so
 * it saves a Node start per step. When cargo cannot build it, cratebox uses the Node client
 * (dist/shims/client.js) and says nothing: the native one is only faster.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const crate = path.join(root, "native/client");
const out = path.join(root, "dist/native/cratebox-client");
const newest = (dir: string): number =>
  Math.max(
    ...readdirSync(dir, { withFileTypes: true }).map((e) =>
      e.isDirectory() ? (e.name === "target" ? 0 : newest(path.join(dir, e.name))) : statSync(path.join(dir, e.name)).mtimeMs,
    ),
  );

if (existsSync(out) && statSync(out).mtimeMs >= newest(crate)) process.exit(0);
const res = spawnSync(
  "cargo",
  ["build", "--release", "--offline", "--quiet", "--manifest-path", path.join(crate, "Cargo.toml"), "--target-dir", path.join(crate, "target")],
  {
    stdio: "inherit",
    env: { ...process.env, RUSTC_WRAPPER: "", CARGO_BUILD_RUSTC_WRAPPER: "" },
  },
);
if (res.status !== 0) {
  console.error("build-client: cargo could not build the native client; cratebox will use the Node client");
  process.exit(0);
}
mkdirSync(path.dirname(out), { recursive: true });
copyFileSync(path.join(crate, "target/release/cratebox-client"), out);
