/**
 * The zod schemas of limits (the policy view, the report), apart from limits.ts so that reading
 * the limits table does not load zod.
 */
import * as z from "zod";
import { LIMIT_TABLE, type Limits } from "./limits.ts";

/** The zod type of one limit's value (bytes, milliseconds, a count, or CPUs). */
export function limitValueSchema(field: keyof Limits): z.ZodNumber {
  return LIMIT_TABLE[field].integer ? z.number().int().positive() : z.number().positive();
}

/**
 * The limits of one step as plain JSON (the policy view, the report): the fields of Limits,
 * `cpus` null for "all of the host's".
 */
export const limitsSchema = z.strictObject({
  memoryBytes: limitValueSchema("memoryBytes").describe("Memory of the sandbox, in bytes (no swap on top)."),
  pids: limitValueSchema("pids").describe("Processes and threads the sandbox may hold at once."),
  timeoutMs: limitValueSchema("timeoutMs").describe("Wall-clock time of the step, in milliseconds."),
  cpus: limitValueSchema("cpus").nullable().describe("CPUs (fractions allowed); null: all the host's."),
  tmpBytes: limitValueSchema("tmpBytes").describe("Size of the private /tmp, in bytes."),
} satisfies { [K in keyof Limits]-?: z.ZodType });
