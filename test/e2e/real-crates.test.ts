/**
 * Real crates, real build scripts: one workspace over Debian's crate sources, built once with
 * plain cargo and once with cratebox, must come out the same. It covers C compiled through the
 * real `cc` crate (the cc-demo fixture) and linked into the program, system libraries probed
 * through pkg-config (libz-sys, openssl-sys, zstd-sys, libsqlite3-sys; zstd-sys also runs
 * bindgen/libclang inside its build script), rustc-version probes (serde, proc-macro2, libc) and
 * a code generator writing into OUT_DIR (typenum).
 *
 * Compared per build-script run directory (`<target>/debug/build/<pkg>-<hash>/` with an
 * `output` file): the directives the script printed (target-dir prefix normalised) and the
 * files it left in OUT_DIR.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reportSchema } from "../../src/core/report.ts";
import { cratebox, makeFakeHome, plainCargo, testEnv, type RunResult } from "../helpers/run.ts";
import { makeRegistry, makeWorkspace, tempDir } from "../helpers/workspace.ts";

const DEPENDENCIES = [
  'cc-demo = "0.1"',
  'libz-sys = "1"',
  'openssl-sys = "0.9"',
  'zstd-sys = "2"',
  'libsqlite3-sys = "0.25"',
  'serde = { version = "1", features = ["derive"] }',
  'serde_json = "1"',
  'proc-macro2 = "1"',
  'libc = "0.2"',
  'typenum = "1"',
];

// Touches every dependency, so each one's build-script directives are needed to compile and
// link it: the C function from cc-demo, a symbol from each system library, typenum's generated
// constants, serde's derive. Everything printed is deterministic (no pid, no paths).
const MAIN_RS = `use serde::Serialize;
use typenum::Unsigned;

#[derive(Serialize)]
struct Facts {
    cc_demo: i32,
    zlib: String,
    zstd: u32,
    sqlite: i32,
    openssl_3: bool,
    typenum: usize,
    tokens: usize,
    pid_positive: bool,
}

fn main() {
    let zlib = unsafe { std::ffi::CStr::from_ptr(libz_sys::zlibVersion()) };
    let tokens: proc_macro2::TokenStream = "a + b * c".parse().unwrap();
    let facts = Facts {
        cc_demo: cc_demo::mix(2, 3),
        zlib: zlib.to_string_lossy().into_owned(),
        zstd: unsafe { zstd_sys::ZSTD_versionNumber() },
        sqlite: unsafe { libsqlite3_sys::sqlite3_libversion_number() },
        openssl_3: unsafe { openssl_sys::OpenSSL_version_num() } >= 0x3000_0000,
        typenum: typenum::U42::USIZE,
        tokens: tokens.into_iter().count(),
        pid_positive: unsafe { libc::getpid() } > 0,
    };
    println!("{}", serde_json::to_string(&facts).unwrap());
}
`;

interface Report {
  exitCode: number;
  steps: { phase: string; crate: string; ok: boolean; cause: string; containerId: string; runMs: number | null }[];
}

/** `<pkg>-<hash>` names of the build-script run directories (those with an `output` file). */
function runDirs(target: string): string[] {
  const build = path.join(target, "debug/build");
  return readdirSync(build)
    .filter((d) => existsSync(path.join(build, d, "output")))
    .sort();
}

/** `<pkg>-<hash>` -> the run's directives, with the target directory replaced by `<target>`. */
function directives(target: string): Record<string, string> {
  const build = path.join(target, "debug/build");
  return Object.fromEntries(runDirs(target).map((d) => [d, readFileSync(path.join(build, d, "output"), "utf8").replaceAll(target, "<target>")]));
}

/** `<pkg>-<hash>` -> every path below its OUT_DIR (files and directories), relative, sorted. */
function outDirLists(target: string): Record<string, string[]> {
  const build = path.join(target, "debug/build");
  return Object.fromEntries(
    runDirs(target).map((d) => {
      const out = path.join(build, d, "out");
      return [d, existsSync(out) ? readdirSync(out, { recursive: true, encoding: "utf8" }).sort() : []];
    }),
  );
}

const pkgOf = (dir: string) => dir.replace(/-[0-9a-f]{16}$/, "");

describe("real crates build the same under cratebox as under plain cargo", () => {
  const registry = makeRegistry(["cc-demo-0.1.0"]);
  const fake = makeFakeHome();
  const scratch = tempDir("cratebox-real-");
  const plainTarget = path.join(scratch, "plain");
  const boxedTarget = path.join(scratch, "boxed");
  const reportFile = path.join(scratch, "report.json");
  let ws: string;
  let plain: RunResult;
  let boxed: RunResult;
  let report: Report;

  beforeAll(async () => {
    ws = makeWorkspace({ registry: registry.dir, dependencies: DEPENDENCIES, files: { "src/main.rs": MAIN_RS } });
    const env = testEnv(fake);
    plain = await plainCargo(["build", "--target-dir", plainTarget], ws, env);
    boxed = await cratebox(["build", "--target-dir", boxedTarget], ws, env, ["--report", reportFile]);
    if (existsSync(reportFile)) report = reportSchema.parse(JSON.parse(readFileSync(reportFile, "utf8"))) as Report;
  });

  afterAll(() => {
    for (const dir of [scratch, ws, registry.dir, fake.home]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("builds with both, and the program runs and prints the same", () => {
    expect(plain.code, plain.output).toBe(0);
    expect(boxed.code, boxed.output).toBe(0);
    const run = (target: string) => execFileSync(path.join(target, "debug/app"), { encoding: "utf8", env: {} });
    const fromPlain = run(plainTarget);
    expect(run(boxedTarget)).toBe(fromPlain);
    // The C function compiled by cc-demo's build script is linked in: 2 * 31 + 3.
    const facts = JSON.parse(fromPlain) as Record<string, unknown>;
    expect(facts).toMatchObject({ cc_demo: 65, openssl_3: true, typenum: 42, tokens: 5, pid_positive: true });
    expect(facts.zlib).toMatch(/^1\.\d+/);
  });

  it("ran the same build scripts, which printed the same directives", () => {
    const fromPlain = directives(plainTarget);
    const fromBoxed = directives(boxedTarget);
    // The kinds of build scripts the test is about all ran.
    const pkgs = new Set(Object.keys(fromPlain).map(pkgOf));
    for (const p of ["cc-demo", "libz-sys", "openssl-sys", "zstd-sys", "libsqlite3-sys", "serde", "proc-macro2", "libc", "typenum"]) expect(pkgs).toContain(p);
    expect(Object.keys(fromBoxed)).toEqual(Object.keys(fromPlain));
    expect(fromBoxed).toEqual(fromPlain);
    // Spot checks that the directives are the real thing, not two equally empty files.
    const of = (pkg: string) => Object.entries(fromBoxed).find(([d]) => pkgOf(d) === pkg)![1];
    expect(of("cc-demo")).toContain("cargo:rustc-link-lib=static=ccdemo");
    expect(of("cc-demo")).toContain("cargo:rustc-link-search=native=<target>/debug/build/cc-demo-");
    expect(of("libz-sys")).toContain("cargo:rustc-link-lib=z");
    expect(of("openssl-sys")).toMatch(/cargo:rustc-link-lib=ssl/);
    expect(of("libsqlite3-sys")).toContain("cargo:rustc-link-lib=sqlite3");
    expect(of("zstd-sys")).toContain("cargo:rustc-link-lib=zstd");
    expect(of("typenum")).toContain("cargo:rustc-env=TYPENUM_BUILD_OP=<target>/debug/build/typenum-");
    expect(of("proc-macro2")).toContain("cargo:rustc-cfg=");
    expect(of("libc")).toContain("cargo:rustc-cfg=libc_");
  });

  it("left the same files in every OUT_DIR", () => {
    const fromPlain = outDirLists(plainTarget);
    expect(outDirLists(boxedTarget)).toEqual(fromPlain);
    const of = (pkg: string) => Object.entries(fromPlain).find(([d]) => pkgOf(d) === pkg)![1];
    expect(of("typenum")).toEqual(expect.arrayContaining(["consts.rs", "op.rs"]));
    expect(of("cc-demo")).toEqual(expect.arrayContaining(["libccdemo.a"]));
  });

  it("ran every build script and every compilation in its own sandbox, and says so", () => {
    expect(report, boxed.output).toBeDefined();
    expect(report.exitCode).toBe(0);
    const dirs = runDirs(boxedTarget);
    const scripts = report.steps.filter((s) => s.phase === "build-script");
    expect(scripts).toHaveLength(dirs.length);
    expect(scripts.map((s) => s.crate).sort()).toEqual(dirs.map(pkgOf).sort());
    for (const step of report.steps) {
      expect(step, step.crate).toMatchObject({ ok: true, cause: "exit" });
      expect(step.containerId, step.crate).toMatch(/^([0-9a-f]{64}|bwrap-[0-9a-f-]+)$/);
      // The backend's own run time, also for a script that exits within a millisecond (Docker
      // 20.10 then reports FinishedAt slightly before StartedAt).
      expect(step.runMs, step.crate).toBeGreaterThanOrEqual(0);
    }
    // Every crate of the graph was compiled by a sandboxed rustc: the app, each dependency, each build script.
    const compiled = new Set(report.steps.filter((s) => s.phase === "rustc").map((s) => s.crate));
    for (const pkg of ["app", "cc-demo", "libz-sys", "openssl-sys", "serde", "serde_derive", "proc-macro2", "libc", "typenum"])
      expect(compiled, pkg).toContain(pkg);
    // Every compiled build script was put behind the shim, its real binary moved aside.
    const build = path.join(boxedTarget, "debug/build");
    const withScript = readdirSync(build).filter((d) => readdirSync(path.join(build, d)).some((f) => /^build_script_\w+-[0-9a-f]{16}$/.test(f)));
    expect(withScript).toHaveLength(dirs.length);
    for (const d of withScript)
      expect(
        readdirSync(path.join(build, d)).some((f) => f.endsWith(".cratebox-real")),
        d,
      ).toBe(true);
    const rustcCalls = report.steps.filter((s) => s.phase === "rustc").length;
    expect(boxed.stderr).toContain(`cratebox: ${rustcCalls} rustc calls and ${dirs.length} build scripts sandboxed, all passed`);
  });

  it("compiled the same artifacts (the same crates, the same metadata hashes)", () => {
    const artifacts = (target: string) =>
      readdirSync(path.join(target, "debug/deps"))
        .filter((f) => /\.(rlib|rmeta|so)$/.test(f))
        .sort();
    expect(artifacts(boxedTarget)).toEqual(artifacts(plainTarget));
  });
});
