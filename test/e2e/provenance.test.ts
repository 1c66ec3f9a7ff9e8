/**
 * `cratebox provenance <crate> --repo PATH` (issue 15) on packages made by `cargo package
 * --offline` from temp git repositories: untouched, tampered after packaging, packaged from a
 * dirty working tree, from a commit the repository never got, and from outside git. The
 * repository is read with git plumbing only; the test checks that nothing in it changed.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CRATEBOX, git, makeFakeHome, testEnv } from "../helpers/run.ts";
import { registerCrate, useLocalRegistry } from "../helpers/review-registry.ts";
import { tempDir } from "../helpers/workspace.ts";

const cleanup: string[] = [];
afterAll(() => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

const BUILD = 'fn main() { println!("cargo:rustc-cfg=provenance_fixture"); }\n';

let env: Record<string, string>;
let upstream: string;
let ws: string;

function writeCrate(dir: string, name: string): void {
  mkdirSync(path.join(dir, "src"), { recursive: true });
  writeFileSync(
    path.join(dir, "Cargo.toml"),
    `[package]\nname = "${name}"\nversion = "0.1.0"\nedition = "2021"\nlicense = "MIT"\ndescription = "a provenance fixture"\nrepository = "https://example.org/upstream.git"\nreadme = "../../README.md"\n`,
  );
  writeFileSync(path.join(dir, "build.rs"), BUILD);
  writeFileSync(path.join(dir, "src/lib.rs"), `pub fn name() -> &'static str { "${name}" }\n`);
}

/** `cargo package` in `dir`; the .crate goes into the registry with its index line. */
async function pack(dir: string, name: string, registry: string, target: string): Promise<void> {
  const res = await execa("cargo", ["package", "--offline", "--no-verify", "--allow-dirty", "--quiet"], {
    cwd: dir,
    env: { ...env, CARGO_TARGET_DIR: target },
    extendEnv: false,
    reject: false,
  });
  if (res.exitCode !== 0) throw new Error(`cargo package ${name}: ${res.stderr}`);
  registerCrate(registry, { name, version: "0.1.0" }, path.join(target, "package", `${name}-0.1.0.crate`));
}

async function provenance(args: string[]) {
  const res = await execa(CRATEBOX, ["provenance", ...args], { cwd: ws, env, extendEnv: false, reject: false, timeout: 120_000, stdin: "ignore" });
  return { code: res.exitCode ?? -1, stdout: res.stdout, stderr: res.stderr };
}

beforeAll(async () => {
  const root = tempDir("cratebox-provenance-e2e-");
  cleanup.push(root);
  const home = makeFakeHome();
  cleanup.push(home.home);
  const registry = path.join(root, "registry");
  useLocalRegistry(home.cargoHome, registry);
  env = testEnv(home);
  const target = path.join(root, "target");

  // The upstream repository: four crates and the README they publish, committed.
  upstream = path.join(root, "upstream");
  mkdirSync(upstream);
  writeFileSync(path.join(upstream, "README.md"), "# the upstream\n");
  for (const name of ["prov-clean", "prov-tampered", "prov-dirty", "prov-lost"]) writeCrate(path.join(upstream, "crates", name), name);
  git(upstream, "init", "-q", "-b", "main");
  git(upstream, "add", "-A");
  git(upstream, "commit", "-qm", "crates");

  await pack(path.join(upstream, "crates/prov-clean"), "prov-clean", registry, target);

  // Tampered after packaging: the build script in the .crate is not the commit's; its vcs file still names the commit.
  await pack(path.join(upstream, "crates/prov-tampered"), "prov-tampered", registry, target);
  const unpacked = path.join(root, "tamper");
  mkdirSync(unpacked);
  execFileSync("tar", ["-xzf", path.join(registry, "prov-tampered-0.1.0.crate"), "-C", unpacked]);
  writeFileSync(path.join(unpacked, "prov-tampered-0.1.0/build.rs"), `${BUILD}// and one more line that no commit has\n`);
  const repacked = path.join(root, "prov-tampered-0.1.0.crate");
  execFileSync("tar", ["-czf", repacked, "-C", unpacked, "prov-tampered-0.1.0"]);
  rmSync(path.join(registry, "index/pr/ov/prov-tampered"));
  registerCrate(registry, { name: "prov-tampered", version: "0.1.0" }, repacked);

  // Packaged with an uncommitted change.
  writeFileSync(path.join(upstream, "crates/prov-dirty/build.rs"), `${BUILD}// uncommitted\n`);
  await pack(path.join(upstream, "crates/prov-dirty"), "prov-dirty", registry, target);
  git(upstream, "checkout", "--", "crates/prov-dirty/build.rs");

  // Packaged from a commit in a clone that was never pushed upstream.
  const clone = path.join(root, "clone");
  git(root, "clone", "-q", upstream, clone);
  writeFileSync(path.join(clone, "crates/prov-lost/src/lib.rs"), 'pub fn name() -> &\'static str { "lost" }\n');
  git(clone, "commit", "-qam", "never pushed");
  await pack(path.join(clone, "crates/prov-lost"), "prov-lost", registry, target);

  // Packaged outside any git checkout: no .cargo_vcs_info.json.
  const loose = path.join(root, "loose/prov-novcs");
  writeCrate(loose, "prov-novcs");
  writeFileSync(path.join(root, "README.md"), "# loose\n");
  await pack(loose, "prov-novcs", registry, target);

  ws = path.join(root, "ws");
  mkdirSync(path.join(ws, "src"), { recursive: true });
  writeFileSync(path.join(ws, "src/main.rs"), "fn main() {}\n");
  const deps = ["prov-clean", "prov-tampered", "prov-dirty", "prov-lost", "prov-novcs"].map((n) => `${n} = "0.1"`).join("\n");
  writeFileSync(path.join(ws, "Cargo.toml"), `[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n${deps}\n`);
  const lock = await execa("cargo", ["generate-lockfile", "--offline"], { cwd: ws, env, extendEnv: false, reject: false });
  if (lock.exitCode !== 0) throw new Error(lock.stderr);
}, 300_000);

describe("cratebox provenance", () => {
  it("an untouched package matches its commit: the build script first, generated files not compared, the readme from where it lives", async () => {
    const head = git(upstream, "rev-parse", "HEAD").trim();
    const status = git(upstream, "status", "--porcelain");
    const res = await provenance(["prov-clean", "--repo", upstream]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain(`  packaged from: commit ${head}, crates/prov-clean`);
    expect(res.stdout).toMatch(/^ {2}build-script: build\.rs: same$/m);
    expect(res.stdout).toContain("  Cargo.toml: generated by cargo package (not compared)");
    expect(res.stdout).toMatch(/cratebox provenance: matches: every published file is the one at [0-9a-f]{12} in crates\/prov-clean$/);
    const json = JSON.parse((await provenance(["prov-clean", "--repo", upstream, "--json"])).stdout) as {
      verdict: string;
      files: { path: string; status: string; repoPath: string | null }[];
    };
    expect(json.verdict).toBe("matches");
    expect(json.files.find((f) => f.path === "README.md")).toMatchObject({ status: "same", repoPath: "README.md" });
    expect(json.files.find((f) => f.path === "Cargo.toml.orig")).toMatchObject({ status: "same", repoPath: "crates/prov-clean/Cargo.toml" });
    // Read-only: the repository is as it was.
    expect(git(upstream, "rev-parse", "HEAD").trim()).toBe(head);
    expect(git(upstream, "status", "--porcelain")).toBe(status);
  });

  it("a package tampered after packaging differs, the build script first, with its diff", async () => {
    const res = await provenance(["prov-tampered", "--repo", upstream]);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/^ {2}build-script: build\.rs: DIFFERS$/m);
    expect(res.stdout.indexOf("build-script: build.rs")).toBeLessThan(res.stdout.indexOf("Cargo.toml:"));
    expect(res.stdout).toContain("+// and one more line that no commit has");
    expect(res.stdout).toMatch(/cratebox provenance: DIFFERS: 1 published file\(s\) are not the commit's$/);
  });

  it("a package made from a dirty working tree differs, and says it was dirty", async () => {
    const res = await provenance(["prov-dirty", "--repo", upstream]);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/packaged from: commit [0-9a-f]{40} \(dirty\), crates\/prov-dirty/);
    expect(res.stdout).toContain("+// uncommitted");
    expect(res.stdout).toContain("note: the package was made from a working tree with uncommitted changes (git.dirty): the commit is not what was published");
    expect(res.stdout).toContain("cratebox provenance: DIFFERS");
  });

  it("unverifiable, apart from differs: a commit the repository does not have, no vcs file, no repository", async () => {
    const lost = await provenance(["prov-lost", "--repo", upstream]);
    expect(lost.code).toBe(1);
    expect(lost.stdout).toMatch(
      /cratebox provenance: UNVERIFIABLE: commit [0-9a-f]{40} is not in .*upstream \(the crate names https:\/\/example\.org\/upstream\.git; fetch it there\)/,
    );
    expect(lost.stdout).not.toContain("DIFFERS");
    const novcs = await provenance(["prov-novcs", "--repo", upstream]);
    expect(novcs.stdout).toContain("UNVERIFIABLE: the package has no .cargo_vcs_info.json");
    const norepo = await provenance(["prov-clean"]);
    expect(norepo.code).toBe(1);
    expect(norepo.stdout).toContain("UNVERIFIABLE: no repository to compare with: give --repo PATH, a clone of https://example.org/upstream.git");
    const notGit = await provenance(["prov-clean", "--repo", path.join(ws, "src")]);
    expect(notGit.stdout).toMatch(/UNVERIFIABLE: .*\/src is not a git repository/);
  });

  it("usage errors exit 2", async () => {
    expect((await provenance(["prov-clean", "--repo", "/nonexistent/repo"])).stderr).toMatch(/--repo \/nonexistent\/repo: .* does not exist/);
    const none = await provenance(["no-such-crate", "--repo", upstream]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no package no-such-crate/);
    expect((await provenance([])).code).toBe(2);
    expect(readFileSync(path.join(ws, "Cargo.lock"), "utf8")).toContain('name = "prov-clean"');
  });
});
