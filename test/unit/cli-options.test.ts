/** cratebox's own options, one table for yargs and for `cargo cratebox`. */
import { describe, expect, it } from "vitest";
import { fromCargoSubcommand } from "../../src/cli/main.ts";
import { OPTIONS, takesValue } from "../../src/cli/options.ts";
import { LIMIT_FIELDS, LIMIT_TABLE } from "../../src/core/limits.ts";

describe("cargo cratebox", () => {
  it("keeps cratebox's options and their values before `cargo`", () => {
    expect(fromCargoSubcommand(["cratebox", "--policy", "org.js", "build"])).toEqual(["--policy", "org.js", "cargo", "build"]);
    expect(fromCargoSubcommand(["cratebox", "--memory", "1g", "--strict", "test", "--", "--nocapture"])).toEqual([
      "--memory",
      "1g",
      "--strict",
      "cargo",
      "test",
      "--",
      "--nocapture",
    ]);
    expect(fromCargoSubcommand(["cratebox", "--report=r.json", "-q", "build"])).toEqual(["--report=r.json", "-q", "cargo", "build"]);
    expect(fromCargoSubcommand(["cratebox", "--tmp-size", "2g", "build"])).toEqual(["--tmp-size", "2g", "cargo", "build"]);
  });

  it("knows every option that takes a value from the table, and no boolean", () => {
    for (const [name, o] of Object.entries(OPTIONS)) expect(takesValue(`--${name}`), name).toBe(o.type !== "boolean");
    for (const f of LIMIT_FIELDS) expect(takesValue(`--${LIMIT_TABLE[f].flag}`)).toBe(true);
    expect(takesValue("-q")).toBe(false);
    expect(takesValue("--policy=x.js")).toBe(false);
    expect(takesValue("--release")).toBe(false);
  });
});
