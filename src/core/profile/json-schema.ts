/**
 * The JSON Schema of cratebox.toml for editors (taplo / Even Better TOML: `#:schema` at the top
 * of the file), generated from the zod schema so the two never disagree. Pure; written to
 * profiles/schema.json by scripts/gen-schema.ts, and a unit test checks the committed file.
 *
 * It describes the file as written (zod's "input" side: "4GiB", not bytes). Draft-07, which
 * taplo and most editors read. Rules that need code (size syntax, path escapes, credential
 * patterns, version requirements) are checked by cratebox itself; the schema carries their
 * descriptions.
 */
import * as z from "zod";
import { profileSchema } from "./schema.ts";

export function toProfileJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(profileSchema, { io: "input", target: "draft-7", unrepresentable: "any" });
  return { ...schema, title: "cratebox.toml" };
}

/** The file's exact text: stable key order, two-space indent, final newline. */
export function renderProfileJsonSchema(): string {
  return `${JSON.stringify(toProfileJsonSchema(), null, 2)}\n`;
}
