/**
 * Writes profiles/schema.json from the zod schema of cratebox.toml (src/core/profile/schema.ts).
 * Run: node scripts/gen-schema.ts   (test/unit/profile-json-schema.test.ts fails when it is stale)
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { renderProfileJsonSchema } from "../src/core/profile/json-schema.ts";

const out = path.join(import.meta.dirname, "..", "profiles", "schema.json");
writeFileSync(out, renderProfileJsonSchema());
console.log(`wrote ${path.relative(process.cwd(), out)}`);
