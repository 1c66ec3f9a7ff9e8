/**
 * Grants pinned to the code that was reviewed (issue 15), on real crates and real builds: a
 * local registry the test packs with cargo (a version bump with the same build script, one where
 * only an include!d file changed, a proc macro), a path crate whose module file changes, a
 * workspace in a temp git repository, the built CLI with a throwaway HOME. Audits (cargo-vet
 * files) are shown and judged by a policy in the same workspace.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CRATEBOX, git, cratebox, makeFakeHome, testEnv, type FakeHome } from "../helpers/run.ts";
import { buildRegistry, type BuiltRegistry, type CrateSpec, useLocalRegistry } from "../helpers/review-registry.ts";
import { makeRegistry, makeWorkspace, ROOT, tempDir } from "../helpers/workspace.ts";

const cleanup: string[] = [];
afterAll(() => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

// gen-sys: 1.0.1 changes only its library, not the build script or what it includes.
const GEN_BUILD = 'fn main() { let table = include_str!("data/table.txt"); println!("cargo:rustc-env=GEN_TABLE={}", table.trim()); }\n';
// inc-sys: 1.0.1 changes only the file its build script include_str!s.
const INC_BUILD = 'const PLAN: &str = include_str!("plan.txt");\nfn main() { println!("cargo:rustc-env=INC_PLAN={}", PLAN.trim()); }\n';
const CRATES: CrateSpec[] = [
  { name: "gen-sys", version: "1.0.0", files: { "build.rs": GEN_BUILD, "data/table.txt": "alpha\n", "src/lib.rs": "pub fn gen() -> u32 { 1 }\n" } },
  { name: "gen-sys", version: "1.0.1", files: { "build.rs": GEN_BUILD, "data/table.txt": "alpha\n", "src/lib.rs": "pub fn gen() -> u32 { 2 }\n" } },
  { name: "inc-sys", version: "1.0.0", files: { "build.rs": INC_BUILD, "plan.txt": "write the table\n" } },
  { name: "inc-sys", version: "1.0.1", files: { "build.rs": INC_BUILD, "plan.txt": "write the table, then read ~/.ssh\n" } },
  {
    name: "derive-lite",
    version: "0.1.0",
    lib: ["proc-macro = true"],
    files: {
      "src/lib.rs": 'extern crate proc_macro;\n#[proc_macro]\npub fn answer(_: proc_macro::TokenStream) -> proc_macro::TokenStream { "42".parse().unwrap() }\n',
    },
  },
];

const HELPER = 'pub fn run() { let out = std::env::var("OUT_DIR").unwrap(); std::fs::write(format!("{out}/ran.txt"), "reviewed").unwrap(); }\n';
const HELPER_CHANGED = 'pub fn run() { let out = std::env::var("OUT_DIR").unwrap(); std::fs::write(format!("{out}/ran.txt"), "CHANGED").unwrap(); }\n';

let home: FakeHome;
let env: Record<string, string>;
let registry: BuiltRegistry;
let ws: string;

function writeManifest(gen: string, inc: string): void {
  writeFileSync(
    path.join(ws, "Cargo.toml"),
    `[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\ngen-sys = "=${gen}"\ninc-sys = "=${inc}"\nderive-lite = "0.1"\nlocal-sys = { path = "local-sys" }\n`,
  );
}

async function lockUpdate(): Promise<void> {
  const res = await execa("cargo", ["generate-lockfile", "--offline"], { cwd: ws, env, extendEnv: false, reject: false });
  if (res.exitCode !== 0) throw new Error(res.stderr);
}

async function cli(args: string[], cwd = ws) {
  const res = await execa(CRATEBOX, args, { cwd, env, extendEnv: false, reject: false, all: true, timeout: 240_000, stdin: "ignore" });
  return { code: res.exitCode ?? -1, stdout: res.stdout, stderr: res.stderr, output: res.all ?? "" };
}

const toml = () => readFileSync(path.join(ws, "cratebox.toml"), "utf8");
const pinOf = (crate: string, key: "build-script" | "proc-macro") =>
  new RegExp(`\\[build\\.${crate}\\][^[]*?${key} = "(sha256:[0-9a-f]{64})"`).exec(toml())?.[1];

/** Every ran.txt local-sys's build script wrote under a target directory. */
function ranMarks(target: string): string[] {
  const build = path.join(target, "debug/build");
  if (!existsSync(build)) return [];
  return readdirSync(build)
    .filter((d) => d.startsWith("local-sys-") && existsSync(path.join(build, d, "out/ran.txt")))
    .map((d) => readFileSync(path.join(build, d, "out/ran.txt"), "utf8"));
}

beforeAll(async () => {
  const root = tempDir("cratebox-pins-e2e-");
  cleanup.push(root);
  home = makeFakeHome();
  cleanup.push(home.home);
  const regDir = path.join(root, "registry");
  useLocalRegistry(home.cargoHome, regDir);
  env = testEnv(home);
  registry = await buildRegistry(regDir, path.join(root, "crates"), CRATES, env);
  ws = path.join(root, "ws");
  mkdirSync(path.join(ws, "src"), { recursive: true });
  mkdirSync(path.join(ws, "local-sys/src"), { recursive: true });
  writeFileSync(path.join(ws, "src/main.rs"), 'fn main() { println!("{} {}", derive_lite::answer!(), gen_sys::gen()); }\n');
  writeFileSync(path.join(ws, ".gitignore"), "target/\ntarget-*/\n");
  writeFileSync(path.join(ws, "local-sys/Cargo.toml"), '[package]\nname = "local-sys"\nversion = "0.1.0"\nedition = "2021"\n');
  writeFileSync(path.join(ws, "local-sys/src/lib.rs"), "");
  writeFileSync(path.join(ws, "local-sys/build.rs"), "mod helper;\nfn main() { helper::run(); }\n");
  writeFileSync(path.join(ws, "local-sys/helper.rs"), HELPER);
  writeManifest("1.0.0", "1.0.0");
  await lockUpdate();
  git(ws, "init", "-q", "-b", "main");
  git(ws, "add", "-A");
  git(ws, "commit", "-qm", "app");
}, 300_000);

describe("content pins", () => {
  it("approve pins the code once a build left dep-info, and says to build first before that", async () => {
    const early = await cli(["approve", "local-sys"]);
    expect(early.code, early.output).toBe(0);
    expect(early.stdout).toContain(
      "local-sys 0.1.0's build script is not pinned to its code: no dep-info from a build yet. Build first (cratebox cargo build)",
    );
    expect(toml()).not.toContain("build-script");

    const built = await cratebox(["build"], ws, env);
    expect(built.code, built.output).toBe(0);
    for (const crate of ["local-sys", "gen-sys", "inc-sys", "derive-lite"]) {
      const res = await cli(["approve", crate]);
      expect(res.code, res.output).toBe(0);
    }
    expect(pinOf("local-sys", "build-script")).toBeDefined();
    expect(pinOf("gen-sys", "build-script")).toBeDefined();
    expect(pinOf("derive-lite", "proc-macro")).toBeDefined();
    // What each pin covers: build.rs and what it pulls in, relative to the package.
    const records = JSON.parse(readFileSync(path.join(ws, "cratebox.pins.json"), "utf8")) as {
      pins: Record<string, { crate: string; files: Record<string, string> }>;
    };
    expect(Object.keys(records.pins[pinOf("local-sys", "build-script")!]!.files)).toEqual(["build.rs", "helper.rs"]);
    expect(Object.keys(records.pins[pinOf("inc-sys", "build-script")!]!.files)).toEqual(["build.rs", "plan.txt"]);
    expect(Object.keys(records.pins[pinOf("gen-sys", "build-script")!]!.files)).toEqual(["build.rs", "data/table.txt"]);

    const again = await cratebox(["build"], ws, env);
    expect(again.code, again.output).toBe(0);
    const ls = await cli(["profiles", "ls"]);
    expect(ls.stdout).toMatch(
      /^proc macro {4}derive-lite 0\.1\.0 \(registry\) {2}\[build\.derive-lite\]: its code is pinned and holds; it runs in the compiler's sandbox of each crate that uses it$/m,
    );
    const explain = await cli(["profiles", "explain", "local-sys"]);
    expect(explain.stdout).toMatch(/build-script pin sha256:[0-9a-f]{64}: holds: the build script's code is sha256:[0-9a-f]{64} \(from dep-info /);
    git(ws, "add", "-A");
    git(ws, "commit", "-qm", "pins");
  });

  it("a path crate whose module file changed stops the run before cargo starts, with the diff against the reviewed file", async () => {
    writeFileSync(path.join(ws, "local-sys/helper.rs"), HELPER_CHANGED);
    try {
      const res = await cratebox(["build"], ws, env);
      expect(res.code, res.output).toBe(2);
      expect(res.stderr).toMatch(
        /grant for the build script of local-sys does not apply: \[build\.local-sys\] .* whose build script is now sha256:[0-9a-f]{64}\./,
      );
      expect(res.stderr).toContain("since the review of local-sys 0.1.0:\n      changed: helper.rs\n");
      // The reviewed content is git's HEAD (its hash is the record's), the new one is the file now.
      expect(res.stderr).toContain(
        '-pub fn run() { let out = std::env::var("OUT_DIR").unwrap(); std::fs::write(format!("{out}/ran.txt"), "reviewed").unwrap(); }',
      );
      expect(res.stderr).toContain(
        '+pub fn run() { let out = std::env::var("OUT_DIR").unwrap(); std::fs::write(format!("{out}/ran.txt"), "CHANGED").unwrap(); }',
      );
      expect(res.stderr).toContain("nothing was built");
      const diff = await cli(["profiles", "diff", "local-sys"]);
      expect(diff.stdout).toContain("since the review of local-sys 0.1.0:\n      changed: helper.rs\n");
      expect(diff.stdout).toContain(
        '+pub fn run() { let out = std::env::var("OUT_DIR").unwrap(); std::fs::write(format!("{out}/ran.txt"), "CHANGED").unwrap(); }',
      );
      expect(ranMarks(path.join(ws, "target"))).toEqual(["reviewed"]);
      // Under plain cargo the changed script runs: the stop above is cratebox's.
      const plain = await execa("cargo", ["build", "--offline", "--target-dir", path.join(ws, "target-plain")], {
        cwd: ws,
        env,
        extendEnv: false,
        reject: false,
      });
      expect(plain.exitCode, plain.stderr).toBe(0);
      expect(ranMarks(path.join(ws, "target-plain"))).toEqual(["CHANGED"]);
    } finally {
      git(ws, "checkout", "--", "local-sys/helper.rs");
    }
    expect((await cratebox(["build"], ws, env)).code).toBe(0);
  });

  it("without dep-info or a record, the check right after compilation keeps the changed build script from running", async () => {
    const target = path.join(ws, "target-fresh");
    writeFileSync(path.join(ws, "local-sys/helper.rs"), HELPER_CHANGED);
    const records = path.join(ws, "cratebox.pins.json");
    const saved = readFileSync(records, "utf8");
    try {
      // With the record, preflight hashes the reviewed files even in an empty target directory.
      const early = await cratebox(["build", "--target-dir", target], ws, env);
      expect(early.code, early.output).toBe(2);
      expect(early.stderr).toMatch(/the build script's code now \(from the files its pin's record lists .*without dep-info\)/);
      // Without it, nothing is observable before cargo starts: the step that would run the script refuses it.
      rmSync(records);
      const res = await cratebox(["build", "--target-dir", target], ws, env);
      expect(res.code, res.output).toBe(101);
      expect(res.stderr).toMatch(/cratebox: grant for the build script of local-sys does not apply: .* whose build script is now sha256:/);
      expect(res.stderr).toContain("no record of what the pin covered (cratebox.pins.json): files now: build.rs, helper.rs");
      expect(ranMarks(target)).toEqual([]);
    } finally {
      writeFileSync(records, saved);
      git(ws, "checkout", "--", "local-sys/helper.rs");
      rmSync(target, { recursive: true, force: true });
    }
  });

  it("a proc macro whose unpacked source was changed in cargo's cache stops the run, though its checksum still holds", async () => {
    const src = readdirSync(path.join(home.cargoHome, "registry/src")).map((d) => path.join(home.cargoHome, "registry/src", d, "derive-lite-0.1.0/src/lib.rs"));
    const file = src.find((f) => existsSync(f))!;
    const original = readFileSync(file, "utf8");
    writeFileSync(file, `${original}// planted by a build script that ran under plain cargo\n`);
    try {
      const res = await cratebox(["build"], ws, env);
      expect(res.code, res.output).toBe(2);
      expect(res.stderr).toMatch(/grant for the proc macro of derive-lite does not apply: .* whose proc macro is now sha256:/);
      expect(res.stderr).toContain("changed: src/lib.rs");
      expect(res.stderr).toContain("+// planted by a build script that ran under plain cargo");
    } finally {
      writeFileSync(file, original);
    }
  });

  it("without dep-info or a record, the proc macro's compile is refused and its library removed before any crate loads it", async () => {
    const src = readdirSync(path.join(home.cargoHome, "registry/src")).map((d) => path.join(home.cargoHome, "registry/src", d, "derive-lite-0.1.0/src/lib.rs"));
    const file = src.find((f) => existsSync(f))!;
    const original = readFileSync(file, "utf8");
    const records = path.join(ws, "cratebox.pins.json");
    const saved = readFileSync(records, "utf8");
    const target = path.join(ws, "target-fresh-macro");
    const plainTarget = path.join(ws, "target-plain-macro");
    writeFileSync(file, original.replace('"42"', '"43"'));
    try {
      // Plain cargo compiles the changed macro and expands it into the app.
      const plain = await execa("cargo", ["build", "--target-dir", plainTarget], { cwd: ws, env, extendEnv: false, reject: false, all: true });
      expect(plain.exitCode, plain.all).toBe(0);
      rmSync(records);
      const res = await cratebox(["build", "--target-dir", target], ws, env);
      expect(res.code, res.output).toBe(101);
      expect(res.stderr).toMatch(/grant for the proc macro of derive-lite does not apply: .* whose proc macro is now sha256:/);
      const deps = path.join(target, "debug/deps");
      expect(readdirSync(deps).filter((f) => f.startsWith("libderive_lite") && f.endsWith(".so"))).toEqual([]);
      expect(existsSync(path.join(target, "debug/app"))).toBe(false);
    } finally {
      writeFileSync(file, original);
      writeFileSync(records, saved);
      for (const d of [target, plainTarget]) rmSync(d, { recursive: true, force: true });
    }
  });

  it("a version bump with the same build script: the run stops, and --carry moves the pin", async () => {
    const pin = pinOf("gen-sys", "build-script");
    writeManifest("1.0.1", "1.0.0");
    await lockUpdate();
    const stopped = await cratebox(["build"], ws, env);
    expect(stopped.code, stopped.output).toBe(2);
    expect(stopped.stderr).toContain("(or, if its pinned code is unchanged: cratebox approve gen-sys --carry)");
    const carry = await cli(["approve", "gen-sys", "--carry"]);
    expect(carry.code, carry.output).toBe(0);
    expect(carry.stdout).toMatch(/build-script unchanged in gen-sys 1\.0\.1 \(sha256:[0-9a-f]{64}, from the files its pin's record lists/);
    expect(carry.stdout).toContain("carried: [build.gen-sys] now pinned to gen-sys 1.0.1 (registry)");
    expect(toml()).toContain('version = "=1.0.1"');
    expect(toml()).toContain(`checksum = "sha256:${registry.checksum("gen-sys", "1.0.1")}"`);
    expect(pinOf("gen-sys", "build-script")).toBe(pin);
    const built = await cratebox(["build"], ws, env);
    expect(built.code, built.output).toBe(0);
  });

  it("a version whose include!d file changed: --carry refuses and shows that file's diff from the reviewed version", async () => {
    const before = toml();
    writeManifest("1.0.1", "1.0.1");
    await lockUpdate();
    const carry = await cli(["approve", "inc-sys", "--carry"]);
    expect(carry.code, carry.output).toBe(1);
    expect(carry.stdout).toContain("inc-sys 1.0.1: the build script changed since [build.inc-sys] was reviewed; the pin was not carried");
    expect(carry.stdout).toContain("since the review of inc-sys 1.0.0:\n      changed: plan.txt");
    expect(carry.stdout).toContain("-write the table\n      +write the table, then read ~/.ssh");
    expect(toml()).toBe(before);
    // Re-approving after the review: no dep-info for 1.0.1 yet, so the old pin goes and the user is told to build first.
    const approve = await cli(["approve", "inc-sys"]);
    expect(approve.stdout).toContain("its old build-script pin was removed (it pins other code)");
    expect(pinOf("inc-sys", "build-script")).toBeUndefined();
    expect((await cratebox(["build"], ws, env)).code).toBe(0);
    await cli(["approve", "inc-sys"]);
    expect(pinOf("inc-sys", "build-script")).toMatch(/^sha256:/);
  });
});

describe("a directory-source crate (a vendor directory), whose checksum covers none of its files", () => {
  it("a changed module file of its build script stops the run; the reviewed content is not on the machine, and it says so", async () => {
    const vendor = makeRegistry(["evil-build-0.1.0"]);
    const app = makeWorkspace({ registry: vendor.dir, dependencies: ['evil-build = "0.1"'] });
    cleanup.push(vendor.dir, app);
    const first = await cratebox(["build"], app, env);
    expect(first.code, first.output).toBe(0);
    const approved = await cli(["approve", "evil-build"], app);
    expect(approved.stdout).toMatch(/build-script = "sha256:[0-9a-f]{64}": evil-build 0\.1\.0's build script, 2 files \(build\.rs, net\.rs\)/);
    // .cargo-checksum.json lists no files: cargo itself does not notice a changed file.
    writeFileSync(
      path.join(vendor.crate("evil-build"), "net.rs"),
      `${readFileSync(path.join(vendor.crate("evil-build"), "net.rs"), "utf8")}// changed in the vendor directory\n`,
    );
    const res = await cratebox(["build"], app, env);
    expect(res.code, res.output).toBe(2);
    expect(res.stderr).toMatch(/grant for the build script of evil-build does not apply: .*, whose build script is now sha256:[0-9a-f]{64}\./);
    expect(res.stderr).toContain("since the review of evil-build 0.1.0:\n      changed: net.rs\n");
    expect(res.stderr).toContain("(the reviewed content of net.rs is not on this machine: compare by hand)");
  });
});

describe("audits as evidence", () => {
  const AUDITS = `[[audits.gen-sys]]\nwho = "Alice <alice@example.org>"\ncriteria = "safe-to-deploy"\nversion = "1.0.0"\n\n[[audits.gen-sys]]\nwho = "Bob <bob@example.org>"\ncriteria = "safe-to-run"\ndelta = "1.0.0 -> 1.0.1"\n\n[[audits.inc-sys]]\nwho = "Carol"\ncriteria = "safe-to-run"\nviolation = ">=1.0.1"\nnotes = "the plan reads ~/.ssh"\n\n[criteria.macro-reviewed]\ndescription = "Read every line of the expansion."\nimplies = "safe-to-run"\n\n[[audits.derive-lite]]\nwho = "Dana"\ncriteria = "macro-reviewed"\nversion = "0.1.0"\n`;

  beforeAll(() => {
    mkdirSync(path.join(ws, "supply-chain"), { recursive: true });
    writeFileSync(path.join(ws, "supply-chain/audits.toml"), AUDITS);
    writeFileSync(path.join(ws, "cratebox.toml"), `${toml()}\n[review]\naudits = ["supply-chain/audits.toml"]\n`);
  });

  it("profiles ls and explain show the chain's auditors, custom criteria and violations; nothing is granted by them", async () => {
    const ls = await cli(["profiles", "ls"]);
    expect(ls.code, ls.output).toBe(0);
    expect(ls.stdout).toMatch(/^build script {2}gen-sys 1\.0\.1 .*; audited \(safe-to-run\) by Alice <alice@example\.org>, Bob <bob@example\.org>$/m);
    expect(ls.stdout).toMatch(/^build script {2}inc-sys 1\.0\.1 .*; VIOLATION >=1\.0\.1 \(safe-to-run\) by Carol, supply-chain\/audits\.toml; not audited$/m);
    expect(ls.stdout).toMatch(/^proc macro {4}derive-lite 0\.1\.0 .*; audited \(macro-reviewed, safe-to-run\) by Dana$/m);
    expect(ls.stdout).toMatch(/^build script {2}local-sys 0\.1\.0 .*; not audited$/m);
    const explain = await cli(["profiles", "explain", "gen-sys"]);
    expect(explain.stdout).toContain("  audits: audited (safe-to-run) by Alice <alice@example.org>, Bob <bob@example.org>");
    expect(explain.stdout).toMatch(/network +false +from cratebox default/);
  });

  it("policies receive them: two-person-review.js denies the violation in a build", async () => {
    const policy = path.join(ROOT, "profiles/policies/two-person-review.js");
    const test = await cli(["policy", "test", policy]);
    expect(test.code, test.output).toBe(1);
    expect(test.stdout).toMatch(
      /inc-sys 1\.0\.1 +STOPS THE RUN\n {4}.*denied by .*two-person-review\.js \(rule audit-violation\): inc-sys 1\.0\.1: supply-chain\/audits\.toml records a violation >=1\.0\.1/,
    );
    const run = await cratebox(["build"], ws, env, ["--policy", policy]);
    expect(run.code, run.output).toBe(2);
    expect(run.stderr).toContain("inc-sys 1.0.1: supply-chain/audits.toml records a violation >=1.0.1 (safe-to-run) by Carol: the plan reads ~/.ssh");
  });

  it("cratebox review shows them per package, and a violation fails the review", async () => {
    const review = await cli(["review", "--base", "HEAD"]);
    expect(review.code, review.output).toBe(1);
    expect(review.stdout).toContain("    audits: audited (safe-to-run) by Alice <alice@example.org>, Bob <bob@example.org>");
    expect(review.stdout).toContain('  x inc-sys 1.0.1: supply-chain/audits.toml records a violation ">=1.0.1" (safe-to-run) by Carol: the plan reads ~/.ssh');
    const json = await cli(["review", "--base", "HEAD", "--json"]);
    const report = JSON.parse(json.stdout) as { packages: { name: string; flags: string[]; audits: { audited: boolean; by: string[] } | null }[] };
    expect(report.packages.find((p) => p.name === "inc-sys")).toMatchObject({ flags: expect.arrayContaining(["audit-violation"]), audits: { audited: false } });
    expect(report.packages.find((p) => p.name === "gen-sys")?.audits).toMatchObject({
      audited: true,
      by: ["Alice <alice@example.org>", "Bob <bob@example.org>"],
    });
  });
});
