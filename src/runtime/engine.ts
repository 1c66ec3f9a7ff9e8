/**
 * The Docker engine connection (Engine API through dockerode). One per cratebox process,
 * created at the edge and passed in.
 */
import type Docker from "dockerode";
import { accessSync, constants, statSync } from "node:fs";
import {
  clientOptions,
  type EngineInfo,
  type EngineKind,
  type EngineVersion,
  engineKind,
  findEngineAddress,
  type LibpodInfo,
  podmanRootless,
} from "../core/engine-kind.ts";
import { CrateboxError } from "../core/errors.ts";

const ENGINE_FIX = [
  "cratebox needs a running Docker engine (it talks to it through the Engine API).",
  "  Start one: `sudo dockerd > /var/log/dockerd.log 2>&1 &` (Debian: `sudo apt-get install docker.io` first),",
  "  or run `scripts/setup` from the cratebox repository, which installs and starts it.",
  "  A rootless engine: set DOCKER_HOST (e.g. unix:///run/user/1000/docker.sock); rootless Podman's socket",
  "  ($XDG_RUNTIME_DIR/podman/podman.sock, from `podman system service`) and CONTAINER_HOST are found by themselves.",
].join("\n");

export async function connectEngine(env: NodeJS.ProcessEnv = process.env): Promise<Docker> {
  // Loaded here, not at start: dockerode and its dependencies take longer to load than a no-op
  // build takes to run, and a build on the bwrap backend never needs them (issue 13).
  const { default: DockerClient } = await import("dockerode");
  const where = engineAddress(env);
  // DOCKER_HOST as dockerode reads it (TLS, ssh://); else the socket or tcp:// address found.
  const options = env.DOCKER_HOST ? undefined : clientOptions(where);
  if (!env.DOCKER_HOST && !options)
    throw new CrateboxError(
      "ENGINE_UNAVAILABLE",
      `CONTAINER_HOST=${where} is neither a unix:// socket nor a tcp:// address`,
      "set DOCKER_HOST to it instead (ssh:// and TLS are read from DOCKER_HOST)",
    );
  const docker = options ? new DockerClient(options) : new DockerClient();
  try {
    await withTimeout(docker.ping(), 5000, "no answer within 5 s");
  } catch (err) {
    throw new CrateboxError("ENGINE_UNAVAILABLE", `no Docker engine answers at ${where} (${(err as Error).message})`, ENGINE_FIX);
  }
  return docker;
}

/** Where the engine is asked: DOCKER_HOST, CONTAINER_HOST, else the first socket present (core/engine-kind.ts). */
export function engineAddress(env: NodeJS.ProcessEnv = process.env): string {
  return findEngineAddress(env, isSocket).address;
}

/** A socket this process may connect to (Docker's root-owned socket is not one for a user outside the docker group). */
function isSocket(p: string): boolean {
  try {
    accessSync(p, constants.R_OK | constants.W_OK);
    return statSync(p).isSocket();
  } catch {
    return false;
  }
}

/** The engine's `GET /info` answers, one request per connection however many ask (a run asks for its ID, limits and runtimes). */
const infos = new WeakMap<Docker, Promise<Record<string, unknown>>>();

/** The engine's info (`docker info`), asked once per connection. */
export function engineInfo(docker: Docker): Promise<Record<string, unknown>> {
  const known = infos.get(docker);
  if (known !== undefined) return known;
  const asked = docker.info() as Promise<Record<string, unknown>>;
  infos.set(docker, asked);
  // A failed request is not remembered: the next one asks again.
  asked.catch(() => infos.delete(docker));
  return asked;
}

/** Which engine answers, and whether it runs rootless (doctor, and the user namespace of sandboxes). */
export async function readEngineKind(docker: Docker): Promise<EngineKind> {
  const [version, info] = await Promise.all([docker.version(), engineInfo(docker)]);
  const kind = engineKind(version as EngineVersion, info as EngineInfo);
  if (kind.name === "Podman") kind.rootless = podmanRootless(await readLibpodInfo(docker)) ?? kind.rootless;
  return kind;
}

/** Podman's own info (`GET /v4.0.0/libpod/info`: the libpod API answers only under a version), which says whether it runs rootless; undefined from Docker. */
async function readLibpodInfo(docker: Docker): Promise<LibpodInfo | undefined> {
  return new Promise((resolve) => {
    docker.modem.dial({ path: "/v4.0.0/libpod/info", method: "GET", statusCodes: { 200: true }, options: {} }, (err: unknown, data: unknown) =>
      resolve(err ? undefined : (data as LibpodInfo)),
    );
  });
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
