/**
 * Once per run of the backends and e2e projects: the sandbox image must exist (built once here,
 * instead of by several test files at once), and for e2e the built CLI must be current (the
 * e2e tests run bin/cratebox; scripts/build.ts bundles it).
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { connectEngine } from "../../src/runtime/engine.ts";
import { ensureImage } from "../../src/runtime/image.ts";

export default async function setup(project: TestProject): Promise<void> {
  const root = path.resolve(import.meta.dirname, "../..");
  if (project.name === "e2e") execFileSync(process.execPath, [path.join(root, "scripts/build.ts")], { stdio: "inherit" });
  const docker = await connectEngine();
  await ensureImage(docker);
}
