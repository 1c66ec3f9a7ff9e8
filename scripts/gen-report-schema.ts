// Writes docs/report.schema.json from the zod schema in src/core/report.ts.
// Run: node scripts/gen-report-schema.ts   (a unit test checks the committed file is current)
import { writeFileSync } from "node:fs";
import path from "node:path";
import { toReportJsonSchema } from "../src/core/report-json-schema.ts";

const file = path.resolve(import.meta.dirname, "../docs/report.schema.json");
writeFileSync(file, `${JSON.stringify(toReportJsonSchema(), null, 2)}\n`);
console.log(`wrote ${file}`);
