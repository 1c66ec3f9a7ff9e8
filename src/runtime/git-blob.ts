/** A blob's bytes from git (`git cat-file blob <spec>`, read-only plumbing), or undefined when git has none. */
import { execa } from "execa";

export async function readGitBlob(cwd: string, spec: string, env: NodeJS.ProcessEnv): Promise<Uint8Array | undefined> {
  const blob = await execa("git", ["cat-file", "blob", spec], {
    cwd,
    env,
    extendEnv: false,
    reject: false,
    stdin: "ignore",
    encoding: "buffer",
    stripFinalNewline: false,
  });
  return blob.exitCode === 0 ? blob.stdout : undefined;
}
