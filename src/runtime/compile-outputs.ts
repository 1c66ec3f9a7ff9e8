/**
 * What follows a sandboxed compiler call on the host: its dep-info rewritten without the
 * variables the sandbox withheld (core/compile-output.ts says why), and a compiled build script
 * put behind cratebox's shim, after anything else the compilation left in the build script's
 * directory is removed. The sandbox could write those directories: nothing there is followed
 * through a symbolic link, and a binary that is not what rustc makes is never swapped in.
 */
import { closeSync, constants, lstatSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { isExpectedBuildScriptFile, pinnableOutput, withoutEnvDeps } from "../core/compile-output.ts";
import type { ContentKind } from "../core/pins/content.ts";
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

/** A content pin's verdict on freshly compiled code: undefined when it holds (or nothing pins it), else why not. */
export type CompiledCodeCheck = (kind: ContentKind, depInfo: string | undefined, manifestDir: string) => Promise<string | undefined>;

/**
 * After a successful compile of a build script or a proc macro: the content pin of its crate
 * (issue 15), from the dep-info rustc just wrote. When it does not hold, the outputs are removed
 * (a proc macro's library is never loaded by the crates that use it, a build script never runs)
 * and the step fails with the reason. This covers a fresh checkout, where nothing could be
 * observed before cargo started.
 */
export async function checkCompiledCode(plan: StepPlan, check: CompiledCodeCheck): Promise<string | undefined> {
  const pinnable = plan.compile ? pinnableOutput(plan.compile) : undefined;
  if (!pinnable) return undefined;
  const refusal = await check(pinnable.kind, plan.compile?.depInfo, plan.manifestDir);
  if (!refusal) return undefined;
  for (const file of pinnable.outputs) rmSync(file, { force: true });
  return refusal;
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
