/**
 * `npm run build`: the entry points bundled by esbuild into dist/ (one file each, with the code
 * only some commands need split into chunks that load when used), then the shims' native
 * client (scripts/build-client.ts). Type checking is tsc's (`npm run typecheck`).
 *
 * Why a bundle: cratebox runs on every cargo command a developer types, and Node spends most of
 * a no-op's start resolving and reading hundreds of module files; one file per entry, with the
 * engine's client, the policy evaluator, the egress proxy and the review loaded only when a run
 * needs them, keeps that start small.
 */
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import path from "node:path";
import { build } from "esbuild";

const root = path.resolve(import.meta.dirname, "..");
rmSync(path.join(root, "dist"), { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ["src/cli/cratebox.ts", "src/cli/cargo-cratebox.ts", "src/shims/client.ts", "src/shims/egress-relay.ts", "src/runtime/policy-child.ts"],
  outbase: "src",
  outdir: "dist",
  entryNames: "[dir]/[name]",
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node24",
  sourcemap: "linked",
  // Native or heavy and needed only sometimes: loaded from node_modules when used.
  external: ["isolated-vm", "dockerode"],
  // Some bundled CommonJS packages call require(); give the ESM bundle one.
  banner: { js: 'import { createRequire as __cratebox_createRequire } from "node:module"; const require = __cratebox_createRequire(import.meta.url);' },
  logLevel: "warning",
});
const client = spawnSync(process.execPath, [path.join(root, "scripts/build-client.ts")], { stdio: "inherit" });
process.exit(client.status ?? 1);
