// Writes docs/review.schema.json from the zod schema in src/core/review/report.ts.
// Run: node scripts/gen-review-schema.ts   (test/unit/review-report.test.ts checks the committed file is current)
import { writeFileSync } from "node:fs";
import path from "node:path";
import { toReviewJsonSchema } from "../src/core/review/report.ts";

const file = path.resolve(import.meta.dirname, "../docs/review.schema.json");
writeFileSync(file, `${JSON.stringify(toReviewJsonSchema(), null, 2)}\n`);
console.log(`wrote ${file}`);
