/** Sandbox images build offline from images/, on first use, tagged by content. */
import { appendFileSync, cpSync } from "node:fs";
import path from "node:path";
import Docker from "dockerode";
import { afterAll, describe, expect, it } from "vitest";
import { ensureImage, IMAGES_DIR, imageExists } from "../../src/runtime/image.ts";
import { tempDir } from "../helpers/workspace.ts";

const docker = new Docker();
const built: string[] = [];

afterAll(async () => {
  for (const tag of built)
    await docker
      .getImage(tag)
      .remove({ force: true })
      .catch(() => {});
});

describe("ensureImage", () => {
  it("builds a missing image FROM scratch without pulling, and a changed Dockerfile gets a new tag", async () => {
    const images = tempDir("cratebox-images-");
    cpSync(path.join(IMAGES_DIR, "sandbox"), path.join(images, "probe"), { recursive: true });
    // A unique label, so this test always starts from an image that does not exist yet.
    appendFileSync(path.join(images, "probe/Dockerfile"), `LABEL cratebox.test="${path.basename(images)}"\n`);
    const logs: string[] = [];
    const first = await ensureImage(docker, "probe", (l) => logs.push(l), images);
    built.push(first);
    expect(first).toMatch(/^cratebox\/probe:[0-9a-f]{16}$/);
    expect(logs.join("\n")).toContain("(first use)");
    expect(await imageExists(docker, first)).toBe(true);

    // Same content: found, not rebuilt.
    logs.length = 0;
    expect(await ensureImage(docker, "probe", (l) => logs.push(l), images)).toBe(first);
    expect(logs).toEqual([]);

    appendFileSync(path.join(images, "probe/Dockerfile"), 'LABEL cratebox.changed="yes"\n');
    const second = await ensureImage(docker, "probe", () => {}, images);
    built.push(second);
    expect(second).not.toBe(first);
    const info = await docker.getImage(second).inspect();
    expect(info.Config.Labels).toMatchObject({ "cratebox.changed": "yes" });
  });

  it("names an unknown image clearly", async () => {
    await expect(ensureImage(docker, "no-such-image")).rejects.toThrow(/no sandbox image named "no-such-image"/);
  });
});
