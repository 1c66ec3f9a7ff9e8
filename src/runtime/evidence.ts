/**
 * What `profiles ls` and `profiles explain` add for issue 15: whether each content pin holds for
 * the code now, and what the audits say. Text only; the facts come from the GrantBook.
 */
import type { GraphCrate } from "../core/crate-graph.ts";
import { describeGrantStatus } from "../core/grant-decision.ts";
import { describeAudits } from "../core/audits/view.ts";
import { contentPinsOf } from "../core/pins/check.ts";
import { CONTENT_KIND_TEXT } from "../core/pins/content.ts";
import type { GrantBook } from "./grants.ts";
import { contentKindsOf } from "./pins/approve.ts";

/** One line per build-time part with a pin, and the audits' verdict when audit files are configured. */
export function evidenceLines(book: GrantBook, crate: GraphCrate): string[] {
  const lines: string[] = [];
  for (const kind of contentKindsOf(crate)) {
    const pins = contentPinsOf(book.context.parsed, crate, kind);
    const seen = book.pins.observation(crate, kind);
    if (pins.length === 0) {
      lines.push(`${kind}: not pinned to its code (cratebox approve ${crate.name} pins it once a build left dep-info)`);
      continue;
    }
    const state = !seen
      ? "not observable before a build (no dep-info, no record): checked when rustc compiles it"
      : pins.includes(seen.digest)
        ? `holds: the ${CONTENT_KIND_TEXT[kind]}'s code is ${seen.digest} (from ${seen.from})`
        : `STALE: the ${CONTENT_KIND_TEXT[kind]}'s code is now ${seen.digest} (from ${seen.from})`;
    lines.push(`${kind} pin ${pins.join(", ")}: ${state}`);
  }
  if (book.profile.parsed.profile.review?.audits?.length) lines.push(`audits: ${describeAudits(book.auditsOf(crate))}`);
  return lines;
}

/** `; audited (safe-to-run) by alice` / `; VIOLATION ...` for a `profiles ls` line; "" without audit files. */
export function auditSuffix(book: GrantBook, crate: GraphCrate): string {
  return book.profile.parsed.profile.review?.audits?.length ? `; ${describeAudits(book.auditsOf(crate))}` : "";
}

/**
 * A `profiles ls` line for a proc macro without a build script: it has no step of its own (it
 * runs inside the rustc calls of the crates that use it, granted by their [rustc.*] tables), so
 * what its own [build.*] table can say is whether its code is pinned.
 */
export function procMacroStatus(book: GrantBook, crate: GraphCrate): string {
  const status = describeGrantStatus(book.context, crate, "build");
  if (status.startsWith("STALE PIN") || status.startsWith("AMBIGUOUS")) return status;
  const pins = contentPinsOf(book.context.parsed, crate, "proc-macro");
  const seen = book.pins.observation(crate, "proc-macro");
  const table = status === "default: deny" ? "no table" : status.replace(/\].*$/, "]");
  const pinned = pins.length === 0 ? "its code is not pinned" : seen ? "its code is pinned and holds" : "its code is pinned (checked once rustc compiled it)";
  return `${table}: ${pinned}; it runs in the compiler's sandbox of each crate that uses it`;
}
