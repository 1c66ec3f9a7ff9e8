/**
 * Sandbox images, built offline from images/<name>/ (nothing can be pulled), automatically on
 * first use, tagged by content.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type Docker from "dockerode";
import { CrateboxError } from "../core/errors.ts";
import { toImageTag, type ContextEntry } from "../core/image-tag.ts";

export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const IMAGES_DIR = path.join(PACKAGE_ROOT, "images");
export const DEFAULT_IMAGE = "sandbox";

function readContext(dir: string): ContextEntry[] {
  const out: ContextEntry[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = path.join(dir, r);
      const st = lstatSync(abs);
      if (st.isSymbolicLink()) out.push({ path: r, kind: "symlink", mode: st.mode, data: readlinkSync(abs) });
      else if (st.isDirectory()) {
        out.push({ path: r, kind: "dir", mode: st.mode, data: "" });
        walk(r);
      } else out.push({ path: r, kind: "file", mode: st.mode, data: readFileSync(abs) });
    }
  };
  walk("");
  return out;
}

export function imageTag(name = DEFAULT_IMAGE, imagesDir = IMAGES_DIR): { tag: string; dir: string; entries: ContextEntry[] } {
  const dir = path.join(imagesDir, name);
  let entries: ContextEntry[];
  try {
    entries = readContext(dir);
  } catch {
    throw new CrateboxError("IMAGE_UNKNOWN", `no sandbox image named "${name}" (looked for ${dir})`, `the images cratebox ships are in ${IMAGES_DIR}`);
  }
  return { tag: toImageTag(name, entries), dir, entries };
}

export async function imageExists(docker: Docker, tag: string): Promise<boolean> {
  try {
    await docker.getImage(tag).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

/** Makes sure the image exists, building it from images/<name>/ when it does not. */
export async function ensureImage(docker: Docker, name = DEFAULT_IMAGE, log: (line: string) => void = () => {}, imagesDir = IMAGES_DIR): Promise<string> {
  const { tag, dir, entries } = imageTag(name, imagesDir);
  if (await imageExists(docker, tag)) return tag;
  log(`building sandbox image ${tag} from ${path.relative(process.cwd(), dir) || dir} (first use)`);
  const stream = await docker.buildImage(
    { context: dir, src: entries.filter((e) => e.kind !== "dir").map((e) => e.path) },
    { t: tag, labels: { "cratebox.image": name }, rm: true, forcerm: true, pull: false },
  );
  const messages: string[] = [];
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, output: { error?: string; errorDetail?: { message?: string } }[]) => {
        const failed = err?.message ?? output?.find((o) => o.error)?.error;
        if (failed) reject(new CrateboxError("IMAGE_BUILD_FAILED", `building ${tag} failed: ${failed}`, messages.slice(-5).join("")));
        else resolve();
      },
      (event: { stream?: string }) => {
        if (event.stream) messages.push(event.stream);
      },
    );
  });
  return tag;
}
