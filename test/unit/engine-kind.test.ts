/** Which engine answers (Docker or Podman, rootless or not) and where cratebox looks for it. */
import { describe, expect, it } from "vitest";
import { toCreateOptions } from "../../src/core/container-options.ts";
import {
  clientOptions,
  describeEngineKind,
  engineKind,
  engineQuirks,
  findEngineAddress,
  isEngineAttachNoise,
  podmanRootless,
} from "../../src/core/engine-kind.ts";
import { toProbeSpec } from "../../src/core/probe-spec.ts";

// Shapes as the engines here answered them: Docker 20.10 (Debian), Podman 4.3.1's compat API.
const dockerVersion = { Version: "20.10.24+dfsg1", Components: [{ Name: "Engine", Version: "20.10.24+dfsg1" }], Platform: { Name: "" } };
const podmanVersion = {
  Version: "4.3.1",
  Platform: { Name: "linux/amd64/debian-12" },
  Components: [
    { Name: "Podman Engine", Version: "4.3.1" },
    { Name: "Conmon", Version: "conmon version 2.1.6" },
  ],
};

describe("the engine's kind", () => {
  it("tells Docker from Podman, and rootless from rootful", () => {
    expect(engineKind(dockerVersion, { SecurityOptions: ["name=seccomp,profile=default"] })).toEqual({
      name: "Docker",
      version: "20.10.24+dfsg1",
      rootless: false,
    });
    expect(engineKind(dockerVersion, { SecurityOptions: ["name=seccomp,profile=default", "name=rootless"] }).rootless).toBe(true);
    // Podman 4.3's compat /info does not list name=rootless; its libpod info says it.
    const podman = engineKind(podmanVersion, { SecurityOptions: ["name=seccomp,profile=default"] });
    expect(podman).toEqual({ name: "Podman", version: "4.3.1", rootless: false });
    expect(podmanRootless({ host: { security: { rootless: true } } })).toBe(true);
    expect(podmanRootless(undefined)).toBeUndefined();
    expect(describeEngineKind({ ...podman, rootless: true })).toBe("Podman 4.3.1, rootless");
    expect(describeEngineKind(engineKind(dockerVersion, {}))).toBe("Docker 20.10.24+dfsg1, rootful (the engine runs as root)");
  });
});

describe("where the engine is looked for", () => {
  const none = () => false;
  it("DOCKER_HOST first, then CONTAINER_HOST", () => {
    expect(findEngineAddress({ DOCKER_HOST: "tcp://10.0.0.7:2375", CONTAINER_HOST: "unix:///x" }, none)).toEqual({
      address: "tcp://10.0.0.7:2375",
      from: "DOCKER_HOST",
    });
    expect(findEngineAddress({ CONTAINER_HOST: "unix:///run/user/1000/podman/podman.sock" }, none).from).toBe("CONTAINER_HOST");
  });

  it("then Docker's socket, the user's rootless Podman socket, the system Podman socket, in that order of presence", () => {
    const env = { XDG_RUNTIME_DIR: "/run/user/1000" };
    const present =
      (...paths: string[]) =>
      (p: string) =>
        paths.includes(p);
    expect(findEngineAddress(env, present("/var/run/docker.sock", "/run/user/1000/podman/podman.sock")).address).toBe("unix:///var/run/docker.sock");
    expect(findEngineAddress(env, present("/run/user/1000/podman/podman.sock", "/run/podman/podman.sock"))).toEqual({
      address: "unix:///run/user/1000/podman/podman.sock",
      from: "the user's Podman socket",
    });
    expect(findEngineAddress(env, present("/run/podman/podman.sock")).address).toBe("unix:///run/podman/podman.sock");
    expect(findEngineAddress({}, none)).toEqual({ address: "unix:///var/run/docker.sock", from: "the default" });
  });

  it("turns an address into the client's options; leaves ssh:// and TLS to DOCKER_HOST", () => {
    expect(clientOptions("unix:///run/user/1000/podman/podman.sock")).toEqual({ socketPath: "/run/user/1000/podman/podman.sock" });
    expect(clientOptions("tcp://127.0.0.1:2375")).toEqual({ host: "127.0.0.1", port: 2375, protocol: "http" });
    expect(clientOptions("tcp://[::1]:2375")).toEqual({ host: "::1", port: 2375, protocol: "http" });
    expect(clientOptions("ssh://ci@build-host")).toBeUndefined();
  });
});

describe("what an engine needs said differently", () => {
  const spec = toProbeSpec({ image: "i", uid: 1000, gid: 1000, systemPaths: [] }, { runId: "r", owner: "o" }, "p", "true", {});
  it("rootless Podman: keep-id (the user's files stay the user's) and no copy-up under a tmpfs mask", () => {
    const quirks = engineQuirks({ name: "Podman", version: "4.3.1", rootless: true });
    expect(quirks).toEqual({ tmpfsNoCopyUp: true, usernsMode: "keep-id" });
    const body = toCreateOptions({ ...spec, tmpfs: [{ target: "/w/target", options: "rw,size=1k,mode=0" }] }, undefined, quirks);
    expect(body.HostConfig).toMatchObject({ UsernsMode: "keep-id", Tmpfs: { "/w/target": "rw,size=1k,mode=0,notmpcopyup" } });
    expect(engineQuirks({ name: "Podman", version: "4.3.1", rootless: false })).toEqual({ tmpfsNoCopyUp: true });
  });

  it("Docker: nothing (it knows no notmpcopyup, and maps no user)", () => {
    const quirks = engineQuirks({ name: "Docker", version: "20.10", rootless: true });
    expect(quirks).toEqual({ tmpfsNoCopyUp: false });
    const body = toCreateOptions({ ...spec, tmpfs: [{ target: "/t", options: "rw" }] }, undefined, quirks);
    expect(body.HostConfig?.UsernsMode).toBeUndefined();
    expect(body.HostConfig?.Tmpfs).toEqual({ "/t": "rw" });
    expect(toCreateOptions(spec).HostConfig?.UsernsMode).toBeUndefined();
  });
});

describe("what the engine writes into a sandbox's stderr itself", () => {
  it("is Podman's attach reset, as it came here, and nothing a container would write", () => {
    // As rootless Podman 4.3.1 handed it over, in a stderr frame of its own, from a sandbox that printed its nonce and exited 0.
    expect(isEngineAttachNoise("Error: read unixpacket @->/proc/self/fd/14/attach: read: connection reset by peer\n")).toBe(true);
    expect(
      isEngineAttachNoise("Error: error attaching to container 2a3a2d7999cd: read unixpacket @->/proc/self/fd/16/attach: read: connection reset by peer\n"),
    ).toBe(true);
    expect(isEngineAttachNoise("error: could not compile `app`\nError: read unixpacket @->/proc/self/fd/14/attach: read: connection reset by peer\n")).toBe(
      false,
    );
    expect(isEngineAttachNoise("Error: read unixpacket @->/proc/self/fd/14/attach: read: connection reset by peer\nmore\n")).toBe(false);
    expect(isEngineAttachNoise("Error: no such file\n")).toBe(false);
  });
});
