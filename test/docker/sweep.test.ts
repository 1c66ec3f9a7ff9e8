/** The sweep removes containers whose owner process is gone, and only those. */
import { hostname } from "node:os";
import Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { imageTag } from "../../src/runtime/image.ts";
import { isOwnerAlive, ownerLabel, sweepOrphans } from "../../src/runtime/sweep.ts";

const docker = new Docker();

describe("sweepOrphans", () => {
  it("knows a live owner from a dead one (pid reuse included)", () => {
    expect(isOwnerAlive(ownerLabel())).toBe(true);
    expect(isOwnerAlive(`${hostname()}:${process.pid}:not-its-start-time`)).toBe(false);
    expect(isOwnerAlive(`${hostname()}:999999999:1`)).toBe(false);
    expect(isOwnerAlive("some-other-host:1:1")).toBe(true); // never touch another machine's
  });

  it("removes a container of a dead owner", async () => {
    const dead = await docker.createContainer({
      Image: imageTag().tag,
      Cmd: ["/x"],
      Labels: { "cratebox.owner": `${hostname()}:999999999:1`, "cratebox.run": "sweep-test" },
    });
    const removed = await sweepOrphans(docker);
    // A cratebox run of a parallel test may have swept it first; either way it is gone.
    expect(removed).toBeGreaterThanOrEqual(0);
    await expect(docker.getContainer(dead.id).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });
});
