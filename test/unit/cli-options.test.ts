/** cratebox's own options: one table for the parser, --help and `cargo cratebox`. */
import { describe, expect, it } from "vitest";
import { fromCargoSubcommand, helpText, OPTIONS, parseOwnArgs, splitAtCargo, takesValue } from "../../src/cli/options.ts";
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

describe("cratebox's own arguments", () => {
  it("keeps everything after the first bare `cargo` for cargo", () => {
    expect(splitAtCargo(["--strict", "cargo", "test", "--", "cargo"])).toEqual({ own: ["--strict", "cargo"], cargoArgs: ["test", "--", "cargo"] });
    expect(splitAtCargo(["doctor"])).toEqual({ own: ["doctor"], cargoArgs: [] });
  });

  it("reads options among the words, repeatable ones in order, negations and a limit's flag", () => {
    const { options, positionals } = parseOwnArgs(["approve", "openssl-sys", "--env", "A", "--env=B_*", "--no-network", "-q", "--tmp-size", "2g"]);
    expect(positionals).toEqual(["approve", "openssl-sys"]);
    expect(options).toMatchObject({ env: ["A", "B_*"], network: false, quiet: true, "tmp-size": "2g" });
  });

  it("refuses an unknown option, a missing value and a value outside the choices, as usage errors", () => {
    expect(() => parseOwnArgs(["--bogus", "cargo"])).toThrow(/Unknown argument: bogus/);
    expect(() => parseOwnArgs(["--memory"])).toThrow(/--memory/);
    expect(() => parseOwnArgs(["--backend", "lxc", "cargo"])).toThrow(/--backend "lxc": not one of auto, bwrap, docker/);
    try {
      parseOwnArgs(["--bogus"]);
    } catch (err) {
      expect((err as { code: string }).code).toBe("USAGE");
    }
  });

  it("--help lists every command and option", () => {
    const help = helpText();
    for (const name of Object.keys(OPTIONS)) expect(help).toContain(`--${name}`);
    for (const f of LIMIT_FIELDS) expect(help).toContain(`--${LIMIT_TABLE[f].flag} VALUE`);
    for (const c of ["cargo", "learn", "doctor", "profiles", "policy", "approve", "deny", "review", "provenance"])
      expect(help).toMatch(new RegExp(`^  ${c} `, "m"));
  });
});
