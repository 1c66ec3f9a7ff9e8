/**
 * A run's private directory in TMPDIR names its owner (start time and pid): the next run removes
 * those whose process is gone (and bin/cratebox's early answers of such processes), and leaves a live
 * run's, another name's and another user's alone.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { isOwnerAlive, ownerLabel, runDirOwner, runDirPrefix, sweepRunDirs } from "../../src/runtime/sweep.ts";
import { tempDir } from "../helpers/workspace.ts";

describe("run directories", () => {
  it("name their owner, as the sandboxes' owner label does", () => {
    const name = `${runDirPrefix()}-${process.pid}-AbC123`;
    expect(runDirOwner(name)).toBe(ownerLabel());
    expect(isOwnerAlive(runDirOwner(name)!)).toBe(true);
    expect(runDirOwner("cratebox-run-123-456-x")).toBe(`${hostname()}:456:123`);
    expect(runDirOwner("cratebox--456-x")).toBeUndefined();
    expect(runDirOwner("cratebox-ws-abc")).toBeUndefined();
  });

  it("of a process that is gone are removed; a live run's and other names stay", () => {
    const dir = tempDir("cratebox-sweep-");
    // A pid that existed and ended: its start time no longer matches anything.
    const dead = spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" }).stdout.trim();
    const gone = path.join(dir, `cratebox-run-999-${dead}-Xy12`);
    const live = path.join(dir, `${runDirPrefix()}-${process.pid}-Zz34`);
    const other = path.join(dir, "cratebox-ws-keepme");
    for (const d of [gone, live, other]) mkdirSync(path.join(d, "sub"), { recursive: true });
    expect(sweepRunDirs(dir)).toBe(1);
    expect(existsSync(gone)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(other)).toBe(true);
  });

  it("and bin/cratebox's early answer of a process that died before Node took it is removed; a live one stays", () => {
    const dir = tempDir("cratebox-sweep-");
    const dead = spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" }).stdout.trim();
    const gone = path.join(dir, `cratebox-early-${dead}`);
    const live = path.join(dir, `cratebox-early-${process.pid}`);
    for (const f of [gone, live]) writeFileSync(f, "{}\n#cratebox-early 0\n", { mode: 0o600 });
    expect(sweepRunDirs(dir)).toBe(1);
    expect(existsSync(gone)).toBe(false);
    expect(existsSync(live)).toBe(true);
  });
});
