/** The JSON Schema of the run report, generated from its zod schema. Pure. */
import * as z from "zod";
import { reportSchema } from "./report.ts";

export function toReportJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(reportSchema),
    title: "cratebox run report",
  };
}
