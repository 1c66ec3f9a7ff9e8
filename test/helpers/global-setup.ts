/**
 * Once per test run: the compiled CLI must be current (the e2e tests run bin/cratebox) and the
 * sandbox image must exist (built once here, instead of by several test files at once).
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { ensureImage } from "../../src/runtime/image.ts";
import { connectEngine } from "../../src/runtime/engine.ts";

export default async function setup(): Promise<void> {
  const root = path.resolve(import.meta.dirname, "../..");
  execFileSync(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "-p", root], { stdio: "inherit" });
  const docker = await connectEngine();
  await ensureImage(docker);
}
