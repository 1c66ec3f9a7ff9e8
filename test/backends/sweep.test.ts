/** The sweep removes containers whose owner process is gone, and only those. */
import { hostname } from "node:os";
import Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { imageTag } from "../../src/runtime/image.ts";
import { DockerRuntime } from "../../src/runtime/sandbox/docker-runtime.ts";
import { isOwnerAlive, ownerLabel, sweepOrphans } from "../../src/runtime/sweep.ts";

const docker = new Docker();

describe("sweepOrphans", () => {
  it("knows a live owner from a dead one (pid reuse included)", () => {
    expect(isOwnerAlive(ownerLabel())).toBe(true);
    expect(isOwnerAlive(`${hostname()}:${process.pid}:not-its-start-time`)).toBe(false);
    expect(isOwnerAlive(`${hostname()}:999999999:1`)).toBe(false);
    expect(isOwnerAlive("some-other-host:1:1")).toBe(true); // never touch another machine's
  });

  it("removes a container of a dead owner, and leaves a live owner's alone", async () => {
    const runtime = new DockerRuntime(docker);
    const alive = await docker.createContainer({
      Image: imageTag().tag,
      Cmd: ["/x"],
      Labels: { "cratebox.owner": ownerLabel(), "cratebox.run": "sweep-test-alive" },
    });
    const dead = await docker.createContainer({
      Image: imageTag().tag,
      Cmd: ["/x"],
      Labels: { "cratebox.owner": `${hostname()}:999999999:1`, "cratebox.run": "sweep-test" },
    });
    try {
      // The docker project runs one file at a time and nothing else sweeps meanwhile: this sweep removes it.
      expect(await sweepOrphans(runtime)).toBeGreaterThanOrEqual(1);
      await expect(docker.getContainer(dead.id).inspect()).rejects.toMatchObject({ statusCode: 404 });
      expect((await docker.getContainer(alive.id).inspect()).Id).toBe(alive.id);
    } finally {
      await runtime.remove(alive.id);
      await runtime.remove(dead.id);
    }
  });
});
