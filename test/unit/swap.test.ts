/**
 * swapExisting on real files in a throwaway target/ (no engine): what plain cargo compiled goes
 * behind the shim, cargo's uplifted copy follows, and a target/ already behind it is left alone.
 */
import { execFileSync } from "node:child_process";
import { linkSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REAL_SUFFIX, toBuildScriptShim } from "../../src/core/shim.ts";
import { swapExisting } from "../../src/runtime/swap.ts";
import { tempDir } from "../helpers/workspace.ts";

const SHIM = toBuildScriptShim();
const ELF = Buffer.concat([Buffer.from([0x7f]), Buffer.from("ELF compiled build script")]);

/** target/debug/build/app-<hash>/ with a compiled script and cargo's hard link to it. */
function targetWithScript(content: string | Buffer): { root: string; bin: string; uplifted: string } {
  const root = tempDir("cratebox-swap-");
  const dir = path.join(root, "debug/build/app-0123456789abcdef");
  mkdirSync(dir, { recursive: true });
  const bin = path.join(dir, "build_script_build-0123456789abcdef");
  const uplifted = path.join(dir, "build-script-build");
  writeFileSync(bin, content, { mode: 0o755 });
  linkSync(bin, uplifted);
  return { root, bin, uplifted };
}

const sameFile = (a: string, b: string) => statSync(a).ino === statSync(b).ino;

describe("swapExisting", () => {
  it("puts a script plain cargo compiled behind the shim, keeping its mtime, and relinks cargo's copy", () => {
    const { root, bin, uplifted } = targetWithScript(ELF);
    const old = new Date("2020-01-01T00:00:00Z");
    utimesSync(bin, old, old);
    expect(swapExisting([root])).toEqual({ swapped: 1, replaced: [] });
    expect(readFileSync(bin, "utf8")).toBe(SHIM);
    expect(statSync(bin).mtime.getTime()).toBe(old.getTime());
    expect(readFileSync(bin + REAL_SUFFIX)).toEqual(ELF);
    expect(sameFile(bin, uplifted)).toBe(true);
  });

  it("leaves a target/ that is already behind the shim as it is", () => {
    const { root, bin, uplifted } = targetWithScript(SHIM);
    const before = statSync(uplifted).ino;
    expect(swapExisting([root])).toEqual({ swapped: 0, replaced: [] });
    expect(statSync(uplifted).ino).toBe(before);
    expect(sameFile(bin, uplifted)).toBe(true);
  });

  it("replaces cargo's copy when something else was written there, although the script is the shim", () => {
    const { root, bin, uplifted } = targetWithScript(SHIM);
    rmSync(uplifted);
    writeFileSync(uplifted, "#!/bin/sh\ncurl evil\n", { mode: 0o755 });
    expect(swapExisting([root])).toEqual({ swapped: 0, replaced: [] });
    expect(readFileSync(uplifted, "utf8")).toBe(SHIM);
    expect(sameFile(bin, uplifted)).toBe(true);
  });

  it("replaces a script that is neither the shim nor a compiled binary, and names it", () => {
    const { root, bin, uplifted } = targetWithScript("#!/bin/sh\ncurl evil\n");
    expect(swapExisting([root])).toEqual({ swapped: 0, replaced: [bin] });
    expect(readFileSync(bin, "utf8")).toBe(SHIM);
    expect(readFileSync(uplifted, "utf8")).toBe(SHIM);
  });

  it("checks the scripts below a profile directory that is a link, as cargo builds through it", () => {
    const { root: elsewhere, bin } = targetWithScript(ELF);
    const root = tempDir("cratebox-swap-linked-");
    symlinkSync(path.join(elsewhere, "debug"), path.join(root, "debug"));
    expect(swapExisting([root])).toEqual({ swapped: 1, replaced: [] });
    expect(readFileSync(bin, "utf8")).toBe(SHIM);
  });

  it("replaces a FIFO in a script's place instead of waiting on it", () => {
    const { root, bin } = targetWithScript(SHIM);
    rmSync(bin);
    execFileSync("mkfifo", [bin]);
    expect(swapExisting([root])).toEqual({ swapped: 0, replaced: [bin] });
    expect(readFileSync(bin, "utf8")).toBe(SHIM);
  });
});
