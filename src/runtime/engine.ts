/**
 * The Docker engine connection (Engine API through dockerode). One per cratebox process,
 * created at the edge and passed in.
 */
import type Docker from "dockerode";
import { CrateboxError } from "../core/errors.ts";

const ENGINE_FIX = [
  "cratebox needs a running Docker engine (it talks to it through the Engine API).",
  "  Start one: `sudo dockerd > /var/log/dockerd.log 2>&1 &` (Debian: `sudo apt-get install docker.io` first),",
  "  or run `scripts/setup` from the cratebox repository, which installs and starts it.",
  "  A remote or rootless engine: set DOCKER_HOST (e.g. unix:///run/user/1000/docker.sock).",
].join("\n");

export async function connectEngine(env: NodeJS.ProcessEnv = process.env): Promise<Docker> {
  // Loaded here, not at start: dockerode and its dependencies take longer to load than a no-op
  // build takes to run, and a build on the bwrap backend never needs them (issue 13).
  const { default: DockerClient } = await import("dockerode");
  const docker = new DockerClient();
  const where = engineAddress(env);
  try {
    await withTimeout(docker.ping(), 5000, "no answer within 5 s");
  } catch (err) {
    throw new CrateboxError("ENGINE_UNAVAILABLE", `no Docker engine answers at ${where} (${(err as Error).message})`, ENGINE_FIX);
  }
  return docker;
}

/** Where the engine is asked (what dockerode connects to: DOCKER_HOST, else the default socket). */
export function engineAddress(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_HOST ?? "/var/run/docker.sock";
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(what)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
