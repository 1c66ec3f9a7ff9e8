/**
 * Content pins (issue 15): a grant pinned to the code it was reviewed for, not to a version.
 * Pure.
 *
 * A pin is the SHA-256 of a canonical record of what rustc compiled into a build script or a
 * proc macro: each file its dep-info lists, by its path from the package root and the SHA-256 of
 * its content, and the identities (name, version, source, Cargo.lock checksum) of the packages
 * linked into it. Paths are relative to the package, so the digest is the same on every machine
 * and in every target directory; the crate's own name and version are not in it, so a new
 * version whose build script did not change has the same digest (`cratebox approve --carry`).
 * Unlike a hash of `build.rs` alone, what `include!`, `mod` and `#[path]` pull in is covered:
 * rustc names every file it read.
 */
import { lazyCrypto } from "../lazy-crypto.ts";

export const CONTENT_KINDS = ["build-script", "proc-macro"] as const;
/** What a content pin covers: a build script, or a procedural macro (both run on the building machine). */
export type ContentKind = (typeof CONTENT_KINDS)[number];

export const CONTENT_KIND_TEXT: { readonly [K in ContentKind]: string } = { "build-script": "build script", "proc-macro": "proc macro" };

/** A package linked into a build script or proc macro, as cargo resolved it. */
export interface DepIdentity {
  name: string;
  version: string;
  /** cargo's source string (`registry+https://...`, `git+https://...#<commit>`); null for a path package. */
  source: string | null;
  /** Cargo.lock's checksum (bare hex); null when it has none (path and git packages, directory sources). */
  checksum: string | null;
}

/** One compiled file: its path from the package root (`build.rs`, `src/gen/table.rs`, `$OUT_DIR/x.rs`) and its content's SHA-256. */
export interface PinnedFile {
  path: string;
  /** Hex; ABSENT when the file the dep-info names no longer exists. */
  sha256: string;
}

/** The marker of a listed file that is gone: it never equals a real hash. */
export const ABSENT = "absent";

/** What one content pin covers; its digest is the pin. */
export interface ContentRecord {
  kind: ContentKind;
  files: PinnedFile[];
  deps: DepIdentity[];
}

export function sha256Hex(data: Uint8Array | string): string {
  return lazyCrypto().createHash("sha256").update(data).digest("hex");
}

/** The record in canonical order: files by path, dependencies by name, version and source; each once. */
export function toContentRecord(kind: ContentKind, files: readonly PinnedFile[], deps: readonly DepIdentity[]): ContentRecord {
  const byPath = new Map(files.map((f) => [f.path, { path: f.path, sha256: f.sha256 }]));
  const byId = new Map(
    deps.map((d) => [depKey(d), { name: d.name, version: d.version, source: d.source, checksum: d.checksum?.replace(/^sha256:/, "") ?? null }]),
  );
  return {
    kind,
    files: [...byPath.values()].sort((a, b) => compare(a.path, b.path)),
    deps: [...byId.entries()].sort(([a], [b]) => compare(a, b)).map(([, d]) => d),
  };
}

/** `sha256:<hex>` of the record's canonical JSON (the value of a `build-script` / `proc-macro` key). */
export function contentDigest(record: ContentRecord): string {
  const r = toContentRecord(record.kind, record.files, record.deps);
  const canonical = JSON.stringify({
    v: 1,
    kind: r.kind,
    files: r.files.map((f) => [f.path, f.sha256]),
    deps: r.deps.map((d) => [d.name, d.version, d.source, d.checksum]),
  });
  return `sha256:${sha256Hex(canonical)}`;
}

/** `serde 1.0.200 (registry+https://...)`, for messages. */
function describeDep(d: DepIdentity): string {
  return `${d.name} ${d.version} (${d.source ?? "path"}${d.checksum ? `, checksum ${d.checksum.slice(0, 12)}` : ""})`;
}

export interface ContentChange {
  added: PinnedFile[];
  removed: PinnedFile[];
  changed: { path: string; before: string; after: string }[];
  depsAdded: DepIdentity[];
  depsRemoved: DepIdentity[];
}

/** What differs between the reviewed record and the code now. */
export function diffContent(before: ContentRecord, after: ContentRecord): ContentChange {
  const old = new Map(before.files.map((f) => [f.path, f.sha256]));
  const now = new Map(after.files.map((f) => [f.path, f.sha256]));
  const oldDeps = new Set(before.deps.map(depKey));
  const newDeps = new Set(after.deps.map(depKey));
  return {
    added: after.files.filter((f) => !old.has(f.path)),
    removed: before.files.filter((f) => !now.has(f.path)),
    changed: after.files
      .filter((f) => old.has(f.path) && old.get(f.path) !== f.sha256)
      .map((f) => ({ path: f.path, before: old.get(f.path)!, after: f.sha256 })),
    depsAdded: after.deps.filter((d) => !oldDeps.has(depKey(d))),
    depsRemoved: before.deps.filter((d) => !newDeps.has(depKey(d))),
  };
}

/** One line per difference: `changed: build.rs`, `added: src/extra.rs`, `build dependency added: cc 1.0.90 (...)`. */
export function describeContentChange(c: ContentChange, kind: ContentKind): string[] {
  const linked = kind === "build-script" ? "build dependency" : "dependency";
  return [
    ...c.changed.map((f) => `changed: ${f.path}${f.after === ABSENT ? " (now missing)" : ""}`),
    ...c.added.map((f) => `added: ${f.path} (rustc reads it now)`),
    ...c.removed.map((f) => `removed: ${f.path} (rustc no longer reads it)`),
    ...c.depsRemoved.map((d) => `${linked} no longer linked: ${describeDep(d)}`),
    ...c.depsAdded.map((d) => `${linked} linked now: ${describeDep(d)}`),
  ];
}

function depKey(d: DepIdentity): string {
  return `${d.name}\u0000${d.version}\u0000${d.source ?? ""}\u0000${d.checksum?.replace(/^sha256:/, "") ?? ""}`;
}

/** Code-unit order: the same on every machine, whatever the locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
