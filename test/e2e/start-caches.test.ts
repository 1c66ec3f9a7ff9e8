/**
 * The start's caches with real cargo (issue 13): a run with cratebox.toml takes the crate graph
 * and the validated profiles from the last run while nothing they came from changed, and reads
 * them again the moment something did. A stale graph would let strict mode miss a build script
 * that just appeared; a stale profile would grant what the file no longer says.
 */
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { cratebox, makeFakeHome, plainCargo, testEnv } from "../helpers/run.ts";
import { makeRegistry, makeWorkspace, tempDir } from "../helpers/workspace.ts";

const registry = makeRegistry();
const fake = makeFakeHome();
const env = testEnv(fake);

/**
 * Cargo.lock and target/ made by plain cargo, and everything older than the graph cache's two
 * seconds of doubt: the next cratebox run may store what it reads.
 */
async function settled(ws: string, runEnv: Record<string, string>): Promise<void> {
  expect((await plainCargo(["build"], ws, runEnv)).code).toBe(0);
  await sleep(2100);
}

describe("a run with cratebox.toml takes the crate graph and the profiles from the last run", () => {
  const bin = tempDir("cratebox-cargo-log-");
  const log = path.join(bin, "calls.log");
  const loggingCargo = path.join(bin, "cargo");
  // What cratebox asks of cargo, one line per call (CARGO names the cargo cratebox runs).
  writeFileSync(loggingCargo, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec cargo "$@"\n`);
  chmodSync(loggingCargo, 0o755);
  const logged = testEnv(fake, { CARGO: loggingCargo });
  let ws: string;
  const graphReads = () =>
    (existsSync(log) ? readFileSync(log, "utf8").split("\n") : []).filter((l) => l.startsWith("metadata") && !l.includes("--no-deps")).length;
  const run = async () => {
    rmSync(log, { force: true });
    return cratebox(["build"], ws, logged);
  };

  beforeAll(async () => {
    ws = makeWorkspace({
      registry: registry.dir,
      dependencies: ['dep = { path = "dep" }'],
      files: {
        "dep/Cargo.toml": '[package]\nname = "dep"\nversion = "0.1.0"\nedition = "2021"\n',
        "dep/src/lib.rs": "pub fn f() {}\n",
        "cratebox.toml": "version = 1\nstrict = true\n",
      },
    });
    await settled(ws, logged);
  }, 300_000);

  it("reads the graph once, then takes it from target/cratebox/ while nothing changed", async () => {
    const first = await run();
    expect(first.code, first.output).toBe(0);
    expect(graphReads()).toBe(1);
    expect(existsSync(path.join(ws, "target/cratebox/crate-graph.json"))).toBe(true);
    const second = await run();
    expect(second.code, second.output).toBe(0);
    expect(graphReads()).toBe(0);
    // A file cargo does not look for, beside the manifest, changes nothing.
    writeFileSync(path.join(ws, "NOTES.txt"), "notes\n");
    expect((await run()).code).toBe(0);
    expect(graphReads()).toBe(0);
  }, 300_000);

  it("reads it again when a dependency gains a build script: strict mode sees it", async () => {
    writeFileSync(path.join(ws, "dep/build.rs"), "fn main() {}\n");
    const res = await run();
    expect(graphReads()).toBe(1);
    expect(res.code, res.output).toBe(2);
    expect(res.stderr).toMatch(/strict: .*\bdep\b/);
    // Gone again: the stored graph (no build script) is the right one again, and it is taken.
    rmSync(path.join(ws, "dep/build.rs"));
    const back = await run();
    expect(back.code, back.output).toBe(0);
    expect(graphReads()).toBe(0);
  }, 300_000);

  it("reads it again when cargo's configuration changes", async () => {
    await sleep(2100);
    expect((await run()).code).toBe(0); // stores it again, now that the files have settled
    expect((await run()).code).toBe(0);
    expect(graphReads()).toBe(0);
    appendFileSync(path.join(ws, ".cargo/config.toml"), "# changed\n");
    expect((await run()).code).toBe(0);
    expect(graphReads()).toBe(1);
  }, 300_000);

  it("takes the validated profiles from the cache, and validates an edited cratebox.toml anew", async () => {
    const cacheFile = path.join(ws, "target/cratebox/profiles.json");
    expect(existsSync(cacheFile)).toBe(true);
    // What the cache holds is what the run uses: a warning planted there is printed.
    const entry = JSON.parse(readFileSync(cacheFile, "utf8"));
    entry.profile.warnings = ["planted in the cache by the test"];
    writeFileSync(cacheFile, JSON.stringify(entry));
    const hit = await run();
    expect(hit.code, hit.output).toBe(0);
    expect(hit.stderr).toContain("WARNING: planted in the cache by the test");
    // Not in CI, and not under another user's cache key (a target directory from elsewhere).
    const inCi = await cratebox(["build"], ws, { ...logged, CI: "true" });
    expect(inCi.code, inCi.output).toBe(0);
    expect(inCi.stderr).not.toContain("planted in the cache");
    const otherUser = await cratebox(["build"], ws, { ...logged, XDG_CACHE_HOME: tempDir("cratebox-other-cache-") });
    expect(otherUser.code, otherUser.output).toBe(0);
    expect(otherUser.stderr).not.toContain("planted in the cache");
    // One byte of difference is a miss: the edited file is validated, and refused.
    writeFileSync(path.join(ws, "cratebox.toml"), 'version = 1\nstrict = "yes"\n');
    const edited = await run();
    expect(edited.code, edited.output).toBe(2);
    expect(edited.stderr).toContain("cratebox.toml");
    expect(edited.stderr).toContain("strict");
    expect(edited.stderr).not.toContain("planted in the cache");
  }, 300_000);
});

describe("the caches cannot be planted from a build", () => {
  // A build script that writes a profiles cache of its own into the target directory
  // (OUT_DIR is <target>/debug/build/<pkg>-<hash>/out), as one would to widen the next run's grants.
  const PLANT = `fn main() {
    let out = std::env::var("OUT_DIR").unwrap();
    let target = std::path::Path::new(&out).ancestors().nth(4).unwrap().to_path_buf();
    let dir = target.join("cratebox");
    let planted = std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(dir.join("profiles.json"), "{\\"planted\\":true}"));
    println!("cargo:warning=planted here: {}", planted.is_ok());
}
`;

  it("a build script's write into target/cratebox/ lands under plain cargo, not under cratebox", async () => {
    const ws = makeWorkspace({ registry: registry.dir, files: { "build.rs": PLANT, "cratebox.toml": "version = 1\n" } });
    const plain = await plainCargo(["build", "--target-dir", "target-plain"], ws, env);
    expect(plain.code, plain.output).toBe(0);
    expect(readFileSync(path.join(ws, "target-plain/cratebox/profiles.json"), "utf8")).toBe('{"planted":true}');

    const boxed = await cratebox(["build", "--target-dir", "target-box"], ws, env);
    expect(boxed.code, boxed.output).toBe(0);
    // Inside its sandbox the write may succeed (the target directory there is a private view);
    // the host's file is cratebox's, written before cargo started.
    const stored = readFileSync(path.join(ws, "target-box/cratebox/profiles.json"), "utf8");
    expect(stored).not.toContain("planted");
    expect(JSON.parse(stored).key.text).toBe("version = 1\n");
  }, 300_000);
});

describe("a run with a policy takes its decisions from the last run", () => {
  it("while the policy and its input are the same; an edited policy is evaluated anew", async () => {
    const ws = makeWorkspace({ registry: registry.dir, files: { "build.rs": "fn main() {}\n", "cratebox.toml": "version = 1\n" } });
    const policy = path.join(tempDir("cratebox-policy-"), "policy.js");
    writeFileSync(policy, "function policy() { return []; }\n");
    const first = await cratebox(["build"], ws, env, ["--policy", policy]);
    expect(first.code, first.output).toBe(0);
    const cacheFile = path.join(ws, "target/cratebox/policy-decisions.json");
    // What the cache holds is what the run applies: a refusal planted there stops the run.
    const entry = JSON.parse(readFileSync(cacheFile, "utf8"));
    entry.decisions = [{ file: policy, decisions: [{ crate: "app", phase: "*", action: "deny", rule: "planted", message: "planted in the cache" }] }];
    writeFileSync(cacheFile, JSON.stringify(entry));
    const hit = await cratebox(["build"], ws, env, ["--policy", policy]);
    expect(hit.code, hit.output).toBe(2);
    expect(hit.stderr).toContain(`denied by ${policy} (rule planted): planted in the cache`);
    // The policy file edited: evaluated again, and what it says now counts.
    appendFileSync(policy, "// reviewed\n");
    const edited = await cratebox(["build"], ws, env, ["--policy", policy]);
    expect(edited.code, edited.output).toBe(0);
    expect(edited.stderr).not.toContain("planted");
  }, 300_000);
});

describe("a workspace member that a glob matches", () => {
  it("is in the graph the moment it appears, though no stamped file changed: strict mode sees its build script", async () => {
    const ws = makeWorkspace({
      registry: registry.dir,
      files: {
        "cratebox.toml": "version = 1\nstrict = true\n",
        "crates/one/Cargo.toml": '[package]\nname = "one"\nversion = "0.1.0"\nedition = "2021"\n',
        "crates/one/src/lib.rs": "",
      },
    });
    appendFileSync(path.join(ws, "Cargo.toml"), '\n[workspace]\nmembers = ["crates/*"]\n');
    await settled(ws, env);
    expect((await cratebox(["build"], ws, env)).code).toBe(0); // stores the graph
    const cached = await cratebox(["build"], ws, env);
    expect(cached.code, cached.output).toBe(0);
    // A new member with a build script: no manifest of the graph, no lock, no config changed.
    mkdirSync(path.join(ws, "crates/two/src"), { recursive: true });
    writeFileSync(path.join(ws, "crates/two/Cargo.toml"), '[package]\nname = "two"\nversion = "0.1.0"\nedition = "2021"\n');
    writeFileSync(path.join(ws, "crates/two/build.rs"), "fn main() {}\n");
    writeFileSync(path.join(ws, "crates/two/src/lib.rs"), "");
    const res = await cratebox(["build"], ws, env);
    expect(res.code, res.output).toBe(2);
    expect(res.stderr).toMatch(/strict: .*\btwo\b/);
  }, 300_000);
});
