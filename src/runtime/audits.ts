/**
 * Reads the cargo-vet audit files `[review] audits` names (relative to the workspace root) into
 * one book (core/audits). A file that is missing, is not TOML or is not an audit file stops the
 * command (exit 2): evidence that silently disappears would read as "not audited".
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "smol-toml";
import { type AuditBook, EMPTY_AUDITS, mergeAuditBooks, parseAuditFile } from "../core/audits/parse.ts";
import { CrateboxError } from "../core/errors.ts";
import { noteInput } from "./start-inputs.ts";

export function loadAudits(workspaceRoot: string, files: readonly string[] | undefined): AuditBook {
  if (!files?.length) return EMPTY_AUDITS;
  const problems: string[] = [];
  const books: AuditBook[] = [];
  for (const written of files) {
    const file = path.resolve(workspaceRoot, written);
    let raw: unknown;
    noteInput(file);
    try {
      raw = parse(readFileSync(file, "utf8"));
    } catch (err) {
      problems.push(`${written}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : (err as Error).message.split("\n")[0]}`);
      continue;
    }
    const r = parseAuditFile(raw, written);
    if (r.ok) books.push(r.book);
    else problems.push(...r.problems);
  }
  if (problems.length)
    throw new CrateboxError(
      "AUDITS_INVALID",
      `the audit files of [review] audits cannot be read:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
      "fix or remove the entry in cratebox.toml ([review] audits); paths are relative to the workspace root",
    );
  return mergeAuditBooks(books);
}
