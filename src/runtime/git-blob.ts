/** A blob's bytes from git (`git cat-file blob <spec>`, read-only plumbing), or undefined when git has none. */
import { runProgramBytes } from "./run-program.ts";

export async function readGitBlob(cwd: string, spec: string, env: NodeJS.ProcessEnv): Promise<Uint8Array | undefined> {
  const blob = await runProgramBytes("git", ["cat-file", "blob", spec], { cwd, env });
  return blob.exitCode === 0 ? blob.stdout : undefined;
}
