/**
 * An engine reached over tcp:// (DOCKER_HOST), through a forwarder this test starts on loopback
 * to the local engine's socket. As it is, it is a tcp:// endpoint of this machine's own engine:
 * it sees the host's files and must keep working. Then cratebox runs in a mount namespace of its
 * own where the build directory is a tmpfs the engine does not see (as a remote machine, or a VM
 * without the folder shared: the engine mounts its own, empty, directory at that path); cratebox
 * must refuse that engine before anything builds, with its code's message and the way out,
 * instead of running build scripts against empty mounts.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { execa } from "execa";
import { CRATEBOX, cratebox, makeFakeHome, testEnv } from "../helpers/run.ts";
import { makeRegistry, makeWorkspace, tempDir } from "../helpers/workspace.ts";

const ENGINE = "/var/run/docker.sock";
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await Promise.resolve(fn()).catch(() => {});
});

function closeOnCleanup(server: Server): void {
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
}

async function listenLoopback(server: Server): Promise<number> {
  closeOnCleanup(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return (server.address() as { port: number }).port;
}

/** tcp://127.0.0.1:<port> -> the engine's socket, byte for byte. */
async function tcpForwarder(): Promise<number> {
  return listenLoopback(
    createServer((client) => {
      const engine = connect(ENGINE);
      client.pipe(engine).pipe(client);
      client.on("error", () => engine.destroy());
      engine.on("error", () => client.destroy());
    }),
  );
}

function workspace(): { ws: string; scratch: string } {
  const registry = makeRegistry();
  cleanups.push(() => rmSync(registry.dir, { recursive: true, force: true }));
  const ws = makeWorkspace({
    registry: registry.dir,
    files: { "build.rs": 'fn main() { std::fs::write(format!("{}/ran.txt", std::env::var("OUT_DIR").unwrap()), "ran").unwrap(); }\n' },
  });
  const scratch = tempDir("cratebox-remote-");
  cleanups.push(() => rmSync(ws, { recursive: true, force: true }));
  cleanups.push(() => rmSync(scratch, { recursive: true, force: true }));
  return { ws, scratch };
}

function ranBuildScript(target: string): boolean {
  const build = path.join(target, "debug/build");
  return existsSync(build) && readdirSync(build).some((d) => existsSync(path.join(build, d, "out/ran.txt")));
}

describe("an engine reached over tcp://", () => {
  it("that is this machine's own engine works, and the check that it sees the files is remembered per engine", async () => {
    const port = await tcpForwarder();
    const { ws, scratch } = workspace();
    const fake = makeFakeHome();
    cleanups.push(() => rmSync(fake.home, { recursive: true, force: true }));
    const env = testEnv(fake, { DOCKER_HOST: `tcp://127.0.0.1:${port}` });
    const target = path.join(scratch, "target");
    const res = await cratebox(["build", "--target-dir", target], ws, env, ["--backend", "docker"]);
    expect(res.code, res.output).toBe(0);
    expect(ranBuildScript(target)).toBe(true);
    const cache = path.join(fake.home, ".cache/cratebox");
    expect(readdirSync(cache).filter((f) => f.startsWith("host-view-"))).toHaveLength(1);
    // The probe's directory next to the build directory is gone.
    expect(readdirSync(target).filter((f) => f.startsWith(".cratebox-host-view-"))).toEqual([]);
  });

  it("that does not see this machine's files is refused before anything builds, naming the way out", async () => {
    const port = await tcpForwarder();
    const { ws, scratch } = workspace();
    const fake = makeFakeHome();
    cleanups.push(() => rmSync(fake.home, { recursive: true, force: true }));
    const env = testEnv(fake, { DOCKER_HOST: `tcp://127.0.0.1:${port}` });
    const hidden = path.join(scratch, "unshared");
    mkdirSync(hidden);
    const target = path.join(hidden, "target");
    // Only cratebox's mount namespace has the tmpfs on `hidden`: the engine sees the empty directory below it.
    const res = await execa(
      "unshare",
      [
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        'mount -t tmpfs cratebox-unshared "$0" && exec "$@"',
        hidden,
        CRATEBOX,
        "--backend",
        "docker",
        "cargo",
        "build",
        "--target-dir",
        target,
      ],
      { cwd: ws, env, extendEnv: false, reject: false, all: true, timeout: 120_000, stdin: "ignore" },
    );
    expect(res.exitCode, res.all).toBe(2);
    expect(res.stderr).toContain(`cratebox: error: the Docker engine at tcp://127.0.0.1:${port} does not see this machine's files:`);
    // Docker on Linux refuses a bind source it does not have; a VM engine shows an empty directory
    // (that reading is test/unit/host-view.test.ts's).
    expect(res.stderr).toMatch(/the probe sandbox could not run \(.*bind source path does not exist: .*\.cratebox-host-view-/);
    expect(res.stderr).toContain("one runner per job, each with its own local engine");
    expect(res.stderr).not.toMatch(/Compiling app/);
    // Nothing was remembered as checked.
    const cache = path.join(fake.home, ".cache/cratebox");
    expect(existsSync(cache) ? readdirSync(cache).filter((f) => f.startsWith("host-view-")) : []).toEqual([]);
  });
});
