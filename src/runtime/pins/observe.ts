/**
 * Content pins at run time (issue 15): where cargo left the dep-info of a crate's build script or
 * proc macro, reading the pin records next to cratebox.toml, and observing a crate's code now
 * (core/pins/check.ts decides from what is read here).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { type ContentObservation, observeFromDepInfo, observeFromRecord, type PinContext, type PinnedCrate, type ReadFile } from "../../core/pins/check.ts";
import type { ContentKind } from "../../core/pins/content.ts";
import { parseDepInfo, toAbsolute } from "../../core/pins/dep-info.ts";
import { NO_RECORDS, PINS_FILE, type PinRecords, parsePinRecords } from "../../core/pins/records.ts";
import { isWithin } from "../../core/paths.ts";
import { realpathOrUndefined } from "../realpath.ts";

/** A file's bytes, or undefined when it cannot be read (gone, a directory, no permission). */
export const readIfPresent: ReadFile = (file) => {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
};

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** cratebox.pins.json of the workspace, verified record by record; none when there is no file. */
export function loadPinRecords(workspaceRoot: string): PinRecords {
  const file = path.join(workspaceRoot, PINS_FILE);
  const text = readIfPresent(file);
  return text === undefined ? NO_RECORDS : parsePinRecords(new TextDecoder().decode(text), file);
}

export interface FoundDepInfo {
  file: string;
  text: string;
  mtimeMs: number;
}

/**
 * The newest dep-info cargo left for this crate's build script (`<dir>/<profile>/build/<pkg>-<hash>/
 * build_script_*-<hash>.d`) or proc macro (`<dir>/<profile>/deps/<lib>-<hash>.d`, the rule that
 * wrote the shared library), under any profile and target of the build directories. Only one
 * whose crate root is in this package's directory counts (another version's is elsewhere).
 */
export function findDepInfo(
  buildDirs: readonly string[],
  crate: PinnedCrate & { libName?: string | undefined },
  kind: ContentKind,
  workspaceRoot: string,
): FoundDepInfo | undefined {
  const profiles = buildDirs.flatMap((root) => [
    ...list(root).map((d) => path.join(root, d)),
    ...list(root).flatMap((t) => list(path.join(root, t)).map((d) => path.join(root, t, d))),
  ]);
  const candidates: string[] = [];
  for (const profile of profiles) {
    if (kind === "build-script") {
      const build = path.join(profile, "build");
      for (const dir of list(build).filter((d) => d.startsWith(`${crate.name}-`)))
        for (const f of list(path.join(build, dir))) if (/^build_script_\w+-[0-9a-f]+\.d$/.test(f)) candidates.push(path.join(build, dir, f));
    } else if (crate.libName) {
      const deps = path.join(profile, "deps");
      for (const f of list(deps)) if (f.startsWith(`${crate.libName}-`) && /-[0-9a-f]+\.d$/.test(f)) candidates.push(path.join(deps, f));
    }
  }
  const dylib = new RegExp(`(^|/)(lib)?${crate.libName ?? "\\0"}-[0-9a-f]+\\.(so|dylib|dll):`, "m");
  let best: FoundDepInfo | undefined;
  for (const file of candidates) {
    const bytes = readIfPresent(file);
    if (bytes === undefined) continue;
    const text = new TextDecoder().decode(bytes);
    if (kind === "proc-macro" && !dylib.test(text)) continue;
    const first = parseDepInfo(text)[0];
    const root = first === undefined ? undefined : toAbsolute(first, { packageRoot: crate.manifestDir, workspaceRoot });
    if (root === undefined || !isWithin(realpathOrUndefined(root) ?? root, crate.manifestDir)) continue;
    const mtimeMs = statSync(file).mtimeMs;
    if (!best || mtimeMs > best.mtimeMs) best = { file, text, mtimeMs };
  }
  return best;
}

/**
 * The crate's code now: from the newest dep-info, else from the record of `pin` (the pin of the
 * table that selects it), else not observable before a build (undefined).
 */
export function observeCode(
  crate: PinnedCrate & { libName?: string | undefined },
  kind: ContentKind,
  pin: string | undefined,
  ctx: PinContext,
  buildDirs: readonly string[],
): ContentObservation | undefined {
  const depInfo = findDepInfo(buildDirs, crate, kind, ctx.workspaceRoot);
  if (depInfo) return observeFromDepInfo(crate, kind, depInfo, ctx, readIfPresent);
  const record = pin === undefined ? undefined : ctx.records.get(pin);
  return record && record.kind === kind ? observeFromRecord(crate, record, pin!, ctx, readIfPresent) : undefined;
}
