/** Content-addressed image tags: a changed Dockerfile or rootfs file gives a new tag (core/fingerprint.ts). Pure. */
import { Fingerprint } from "./fingerprint.ts";

export interface ContextEntry {
  /** Path relative to the image directory, POSIX separators. */
  path: string;
  kind: "file" | "dir" | "symlink";
  mode: number;
  /** File bytes, or the link target for a symlink; empty for a directory. */
  data: Uint8Array | string;
}

const IMAGE_REPOSITORY = "cratebox";

export function toImageTag(name: string, entries: readonly ContextEntry[]): string {
  const h = new Fingerprint();
  for (const e of [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    // Only the executable bit counts: git keeps no other mode, and directory modes follow the
    // umask of whoever checked the repository out.
    const exec = e.kind === "file" && (e.mode & 0o111) !== 0 ? "x" : "-";
    h.update(`${e.kind}\0${e.path}\0${exec}\0`);
    h.update(e.data);
    h.update("\0");
  }
  return `${IMAGE_REPOSITORY}/${name}:${h.digest()}`;
}
