/**
 * Observing the code of a build script or proc macro and checking it against the content pins
 * of cratebox.toml. Pure: files reach this module only through the `readFile` handed in.
 *
 * Two ways to observe, in order of trust:
 * - from dep-info: the files rustc listed for the compilation, hashed as they are now. This is
 *   what the check right after rustc compiled a build script or proc macro uses
 *   (`checkContentPin`), and what preflight uses when an earlier build left dep-info.
 * - from the pin's record (cratebox.pins.json): the files the reviewed code was made of, hashed
 *   in the package as it is now. Without dep-info this still tells whether any reviewed file
 *   changed; a file the new code reads in addition is found by the check after compilation.
 */
import { CrateboxError } from "../errors.ts";
import type { ParsedProfile } from "../profile/parse.ts";
import { describePinMismatch } from "../profile/resolve.ts";
import { type CrateIdentity, selectEntry } from "../profile/select.ts";
import {
  ABSENT,
  CONTENT_KIND_TEXT,
  type ContentKind,
  type ContentRecord,
  contentDigest,
  type DepIdentity,
  describeContentChange,
  diffContent,
  sha256Hex,
  toContentRecord,
} from "./content.ts";
import { parseDepInfo, toAbsolute, toPinnedPath } from "./dep-info.ts";
import type { StoredRecord } from "./records.ts";

/** A crate as the pins need it: its identity, its directory and what is linked into its build-time code. */
export interface PinnedCrate extends CrateIdentity {
  /** Real path of the package directory. */
  manifestDir: string;
  linked?: Readonly<Record<ContentKind, readonly DepIdentity[]>> | undefined;
}

/** A file's bytes, or undefined when it does not exist. */
export type ReadFile = (file: string) => Uint8Array | undefined;

export interface ContentObservation {
  kind: ContentKind;
  record: ContentRecord;
  digest: string;
  /** How it was observed: `dep-info <file>` or `the record of <digest>`. */
  from: string;
}

export interface PinContext {
  parsed: ParsedProfile;
  workspaceRoot: string;
  /** Verified records of cratebox.pins.json, by digest. */
  records: ReadonlyMap<string, StoredRecord>;
  /** Real path of a host path (symbolic links in a registry cache); identity by default. */
  realpath?: (p: string) => string | undefined;
}

/** The code of `crate`'s build script / proc macro as a dep-info file lists it, hashed now. */
export function observeFromDepInfo(
  crate: PinnedCrate,
  kind: ContentKind,
  depInfo: { file: string; text: string },
  ctx: PinContext,
  read: ReadFile,
): ContentObservation {
  const roots = { packageRoot: crate.manifestDir, workspaceRoot: ctx.workspaceRoot };
  const files = parseDepInfo(depInfo.text).map((listed) => {
    const abs = toAbsolute(listed, roots);
    const real = ctx.realpath?.(abs) ?? abs;
    const data = read(real);
    return { path: toPinnedPath(real, roots), sha256: data === undefined ? ABSENT : sha256Hex(data) };
  });
  return observed(kind, files, crate, `dep-info ${depInfo.file}`);
}

/** The files a record names, hashed in the package as it is now, with the crate's linked packages now. */
export function observeFromRecord(crate: PinnedCrate, record: ContentRecord, digest: string, ctx: PinContext, read: ReadFile): ContentObservation {
  const roots = { packageRoot: crate.manifestDir, workspaceRoot: ctx.workspaceRoot };
  const files = record.files.map((f) => {
    // $OUT_DIR files exist only after the build script ran: not checkable before a build.
    if (f.path.startsWith("$OUT_DIR/")) return f;
    const data = read(toAbsolute(f.path, { ...roots, workspaceRoot: crate.manifestDir }));
    return { path: f.path, sha256: data === undefined ? ABSENT : sha256Hex(data) };
  });
  return observed(record.kind, files, crate, `the files its pin's record lists (${digest.slice(0, 19)}…), without dep-info`);
}

function observed(kind: ContentKind, files: { path: string; sha256: string }[], crate: PinnedCrate, from: string): ContentObservation {
  const record = toContentRecord(kind, files, crate.linked?.[kind] ?? []);
  return { kind, record, digest: contentDigest(record), from };
}

/** What a mismatch adds to the stale-pin line: what changed since the review, from the pin's record. */
export function describeContentMismatch(pinned: string, seen: ContentObservation, records: ReadonlyMap<string, StoredRecord>): string {
  const record = records.get(pinned);
  const head = `\n    the ${CONTENT_KIND_TEXT[seen.kind]}'s code now (from ${seen.from}) is ${seen.digest}, pinned: ${pinned}`;
  if (!record) return `${head}\n    no record of what the pin covered (cratebox.pins.json): files now: ${seen.record.files.map((f) => f.path).join(", ")}`;
  const lines = describeContentChange(diffContent(record, seen.record), seen.kind);
  return `${head}; since the review of ${record.crate} ${record.version}:\n${lines.map((l) => `      ${l}`).join("\n")}`;
}

export type ContentPinCheck =
  /** The code holds every pin of the table that selects the crate, or no table pins it. */
  { ok: true; digest: string; pinned: boolean } | { ok: false; message: string; observation: ContentObservation; pinned: string[] };

/**
 * The check right after rustc compiled a build script or proc macro, before it can run: the
 * code its dep-info lists (hashed now) against the content pin of the table that selects the
 * crate. Pure given `readFile`.
 *
 * `depInfo` is rustc's dep-info of that compilation: for a build script `<out-dir>/
 * build_script_build-<hash>.d`, for a proc macro `<out-dir>/<lib>-<hash>.d` (the `.d` next to
 * what it wrote). A table whose version or checksum does not hold is preflight's to report.
 */
export function checkContentPin(ctx: PinContext, crate: PinnedCrate, kind: ContentKind, depInfoPath: string, readFile: ReadFile): ContentPinCheck {
  const bytes = readFile(depInfoPath);
  if (bytes === undefined) {
    throw new CrateboxError(
      "CONTENT_PIN",
      `the dep-info of ${crate.name}'s ${CONTENT_KIND_TEXT[kind]} is missing (${depInfoPath})`,
      `rebuild it: cargo clean -p ${crate.name}`,
    );
  }
  const seen = observeFromDepInfo(crate, kind, { file: depInfoPath, text: new TextDecoder().decode(bytes) }, ctx, readFile);
  const observedCrate: CrateIdentity = { ...crate, content: { ...crate.content, [kind]: seen.digest } };
  const selection = selectEntry(ctx.parsed, observedCrate, "build");
  if (selection.kind === "selected") return { ok: true, digest: seen.digest, pinned: selection.data[kind] !== undefined };
  if (selection.kind === "pin-mismatch" && selection.stale.some((s) => s.failed.includes(kind))) {
    const pins = selection.stale.flatMap((s) => (s.failed.includes(kind) && s.content[kind] !== undefined ? [s.content[kind]] : []));
    const message =
      describePinMismatch({ crate: observedCrate, phase: "build", stale: selection.stale }) +
      pins.map((p) => describeContentMismatch(p, seen, ctx.records)).join("");
    return { ok: false, message, observation: seen, pinned: pins };
  }
  // No table, an ambiguous one, or a stale version/checksum: nothing content-pinned selects the
  // crate here, and preflight has stopped a run whose version or checksum pins fail.
  return { ok: true, digest: seen.digest, pinned: false };
}

/** The `kind` pins of the [build.<crate>] tables written for this crate's source, in file order. */
export function contentPinsOf(parsed: ParsedProfile, crate: CrateIdentity, kind: ContentKind): string[] {
  const raw = Object.hasOwn(parsed.profile.build ?? {}, crate.name) ? parsed.profile.build![crate.name] : undefined;
  const entries = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  return entries.flatMap((e) => (e.source === crate.source && e[kind] !== undefined ? [e[kind]] : []));
}
