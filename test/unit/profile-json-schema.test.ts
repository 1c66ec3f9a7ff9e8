import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { renderProfileJsonSchema, toProfileJsonSchema } from "../../src/core/profile/json-schema.ts";

describe("profiles/schema.json", () => {
  it("is what scripts/gen-schema.ts generates from the zod schema (run `node scripts/gen-schema.ts`)", () => {
    const committed = readFileSync(path.resolve(import.meta.dirname, "../../profiles/schema.json"), "utf8");
    expect(committed).toBe(renderProfileJsonSchema());
  });

  it("describes every key (the editor tooltip) and allows no unknown key", () => {
    const undocumented: string[] = [];
    const open: string[] = [];
    const walk = (node: unknown, at: string): void => {
      if (typeof node !== "object" || node === null) return;
      const n = node as Record<string, unknown>;
      if (n.type === "object" && n.properties) {
        if (n.additionalProperties !== false) open.push(at);
        for (const [key, prop] of Object.entries(n.properties as Record<string, Record<string, unknown>>)) {
          if (typeof prop.description !== "string" && typeof prop.$ref !== "string") undocumented.push(`${at}.${key}`);
        }
      }
      for (const [k, v] of Object.entries(n)) walk(v, k === "properties" || k === "definitions" ? at : `${at}/${k}`);
    };
    const schema = toProfileJsonSchema();
    walk(schema, "#");
    expect(undocumented).toEqual([]);
    expect(open).toEqual([]);
    expect(schema.$schema).toBe("http://json-schema.org/draft-07/schema#");
  });
});
