/**
 * What follows a sandboxed compiler call on the host: its dep-info rewritten without the
 * variables the sandbox withheld (core/compile-output.ts says why), and a compiled build script
 * put behind cratebox's shim, after anything else the compilation left in the build script's
 * directory is removed. The sandbox could write those directories: nothing there is followed
 * through a symbolic link, and a binary that is not what rustc makes is never swapped in.
 */
import { closeSync, constants, lstatSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { isExpectedBuildScriptFile, withoutEnvDeps } from "../core/compile-output.ts";
import { isBuildScriptCompile } from "../core/rustc-args.ts";
import type { StepPlan } from "../core/step-plan.ts";
import { swapBuildScript } from "./swap.ts";

/** A dep-info file is text of a few kilobytes; more is not one. */
const MAX_DEP_INFO = 64 * 1024 * 1024;

/** Finishes a compiler step; a message when the step must fail instead. */
export function finishCompilation(plan: StepPlan, succeeded: boolean): string | undefined {
  const c = plan.compile;
  if (!c) return undefined;
  const withheld = new Set(plan.spec.withheldEnv);
  if (c.depInfo && withheld.size > 0) rewriteDepInfo(c.depInfo, withheld);
  if (!succeeded || !isBuildScriptCompile(c.crateName) || !c.crateName) return undefined;
  const dir = c.outDirs[0];
  if (!dir) return `could not tell where rustc wrote the build script ${c.crateName}: refusing to leave it unsandboxed`;
  for (const entry of readdirSync(dir)) {
    if (!isExpectedBuildScriptFile(entry, c.crateName, c.extraFilename)) rmSync(path.join(dir, entry), { recursive: true, force: true });
  }
  const binary = path.join(dir, `${c.crateName}${c.extraFilename}`);
  let stat: ReturnType<typeof lstatSync> | undefined;
  try {
    stat = lstatSync(binary);
  } catch {
    // A check-only or metadata-only compilation writes no executable: nothing to swap.
    return undefined;
  }
  if (!stat.isFile()) {
    rmSync(binary, { recursive: true, force: true });
    return `the compiled build script ${binary} is not a regular file; it was removed`;
  }
  if (!swapBuildScript(binary)) {
    rmSync(binary, { force: true });
    return `the compiled build script ${binary} is not an executable rustc makes; it was removed and never runs`;
  }
  return undefined;
}

function rewriteDepInfo(file: string, withheld: ReadonlySet<string>): void {
  let fd: number;
  try {
    // O_NOFOLLOW: a symbolic link the sandbox left in place of the dep-info is not followed.
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return;
  }
  let text: string;
  try {
    const st = lstatSync(file);
    if (!st.isFile() || st.size > MAX_DEP_INFO) return;
    text = readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
  const next = withoutEnvDeps(text, withheld);
  if (next === text) return;
  const out = openSync(file, constants.O_WRONLY | constants.O_TRUNC | constants.O_NOFOLLOW);
  try {
    writeFileSync(out, next);
  } finally {
    closeSync(out);
  }
}
