/**
 * The files a build's start decided from (issue 13): every module that reads one before cargo's
 * spawn notes it here, with its stamp as it was then (before the read: a change while it is read
 * makes the stamp stale, never the other way). The run's ticket (runtime/ticket.ts) stamps them,
 * so the native front replays the start only while every one is as it was. A file missing from
 * here would let the front replay a start that Node would now decide otherwise (a refusal or a
 * warning of a no-op build; the steps themselves are decided by Node in any case).
 */
import { type FileStamp, isSettled } from "../core/graph-cache.ts";
import { stampOf } from "./cache-files.ts";

const noted = new Map<string, FileStamp>();
const realpaths = new Map<string, string | undefined>();
let unsettled = false;

/**
 * Notes a file (or a directory, whose listing was read) about to be read; its stamp now. One
 * changed too recently for its stamp to tell (core/graph-cache.ts isSettled) leaves the start
 * without a ticket (the next one has it).
 */
export function noteInput(file: string): void {
  if (noted.has(file)) return;
  let stamp: FileStamp;
  try {
    stamp = stampOf(file);
  } catch {
    unsettled = true; // it cannot be stamped (EACCES, ELOOP): its read says why, if it matters
    return;
  }
  if (!isSettled(stamp, Date.now())) unsettled = true;
  noted.set(file, stamp);
}

/** Notes files with the stamps another cache holds for them (the crate graph's). */
export function noteStamps(stamps: Record<string, FileStamp>): void {
  for (const [file, stamp] of Object.entries(stamps)) if (!noted.has(file)) noted.set(file, stamp);
}

/** Notes what a path resolved to (undefined: it did not). */
export function noteRealpath(file: string, real: string | undefined): void {
  if (!realpaths.has(file)) realpaths.set(file, real);
}

/** A start that read something it could not stamp: no ticket for it. */
export function noteUnsettled(): void {
  unsettled = true;
}

/** The noted files and stamps and the paths resolved, or undefined when the start was unsettled. */
export function startInputs(): { stamps: ReadonlyMap<string, FileStamp>; realpaths: ReadonlyMap<string, string | undefined> } | undefined {
  return unsettled ? undefined : { stamps: noted, realpaths };
}
