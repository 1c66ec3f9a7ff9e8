/**
 * cratebox.toml in real containers: each key's effect is observed (granted and not granted),
 * pins and strict mode stop the run before anything builds, approve/deny write what makes it
 * go, an invalid file names file, line, key and what is accepted, and each built-in profile
 * makes a real Debian crate's build script see what it needs.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { CRATEBOX, cratebox, makeFakeHome, testEnv, type RunResult } from "../helpers/run.ts";
import { makeRegistry, makeWorkspace, tempDir } from "../helpers/workspace.ts";

const registry = makeRegistry(["evil-build-0.1.0", "cc-demo-0.1.0"]);
// The probe: evil-build runs the plan below and writes what it got into $OUT_DIR/loot.txt.
const probe = registry.crate("evil-build");

function probeWorkspace(plan: string[], toml?: string): string {
  writeFileSync(path.join(probe, "cratebox-attack.txt"), `${plan.join("\n")}\n`);
  return makeWorkspace({
    registry: registry.dir,
    dependencies: ['evil-build = "0.1"'],
    files: { ...(toml ? { "cratebox.toml": toml } : {}), "vendor/sdk/info.txt": "sdk-info\n", "secret/key.txt": "not-granted\n", "gen/.keep": "" },
  });
}

/** Every build-script output dir of `crate` under `targetDir`. */
function outDirs(targetDir: string, crate: string): string[] {
  const build = path.join(targetDir, "debug/build");
  return readdirSync(build)
    .filter((d) => d.startsWith(`${crate}-`) && existsSync(path.join(build, d, "out")))
    .map((d) => path.join(build, d));
}

function loot(targetDir: string): string {
  return readFileSync(path.join(outDirs(targetDir, "evil-build")[0]!, "out/loot.txt"), "utf8");
}

/** The directives a crate's build script printed (cargo's `output` file). */
function output(targetDir: string, crate: string): string {
  return outDirs(targetDir, crate)
    .map((d) => readFileSync(path.join(d, "output"), "utf8"))
    .join("\n");
}

const fake = makeFakeHome();
const env = testEnv(fake, { GRANTED_VAR: "granted-value", OTHER_VAR: "other-value" });
const boxed = (ws: string, target: string, args: string[] = []): Promise<RunResult> => cratebox(["build", "--target-dir", target], ws, env, args);

describe("grants change what a build script sees, and only for that crate", () => {
  const plan = (ws: string) => [
    "env GRANTED_VAR",
    "env OTHER_VAR",
    `read ${ws}/vendor/sdk/info.txt`,
    `read ${ws}/secret/key.txt`,
    `write ${ws}/gen/out.txt generated`,
    "netifs",
  ];

  it("default: nothing beyond the sandbox's own view", async () => {
    const ws = probeWorkspace([]);
    writeFileSync(path.join(probe, "cratebox-attack.txt"), plan(ws).join("\n"));
    const res = await boxed(ws, path.join(ws, "target"));
    expect(res.code, res.output).toBe(0);
    const got = loot(path.join(ws, "target"));
    expect(got).toMatch(/env GRANTED_VAR => ERR/);
    expect(got).toMatch(/env OTHER_VAR => ERR/);
    expect(got).toMatch(/vendor\/sdk\/info.txt => ERR/);
    expect(got).toMatch(/gen\/out.txt generated => ERR/);
    expect(got).toMatch(/netifs => OK \[lo\]$/m);
  });

  it("what a crate's own manifest asks for is shown, never applied", async () => {
    const ws = probeWorkspace(["env GRANTED_VAR", "netifs"]);
    const res = await boxed(ws, path.join(ws, "target"));
    expect(res.code, res.output).toBe(0);
    expect(loot(path.join(ws, "target"))).toMatch(/env GRANTED_VAR => ERR[\s\S]*netifs => OK \[lo\]/);
    const explain = await execa(CRATEBOX, ["profiles", "explain", "evil-build"], { cwd: ws, env, extendEnv: false, reject: false });
    expect(explain.stdout).toContain('the crate\'s manifest requests (shown, never applied): {"env":["GRANTED_VAR"],"network":true}');
    expect(explain.stdout).toMatch(/network +false +from cratebox default/);
  });

  it("granted: env, read, write and network take effect, the rest stays denied", async () => {
    const toml = `version = 1
[build.evil-build]
version = "0.1"
env = ["GRANTED_VAR"]
read = ["vendor/sdk"]
write = ["gen"]
network = true
`;
    const ws = probeWorkspace([], toml);
    writeFileSync(path.join(probe, "cratebox-attack.txt"), plan(ws).join("\n"));
    const report = path.join(tempDir(), "r.json");
    const res = await boxed(ws, path.join(ws, "target"), ["--report", report]);
    expect(res.code, res.output).toBe(0);
    const got = loot(path.join(ws, "target"));
    expect(got).toMatch(/env GRANTED_VAR => OK granted-value/);
    expect(got).toMatch(/env OTHER_VAR => ERR/);
    expect(got).toMatch(/vendor\/sdk\/info.txt => OK sdk-info/);
    expect(got).toMatch(/secret\/key.txt => ERR/);
    expect(got).toMatch(/gen\/out.txt generated => OK/);
    expect(readFileSync(path.join(ws, "gen/out.txt"), "utf8")).toBe("generated\n");
    expect(got).toMatch(/netifs => OK \[eth0, lo\]$/m);
    // the report says what was granted and where it came from
    const step = (
      JSON.parse(readFileSync(report, "utf8")) as {
        steps: { crate: string; phase: string; grant: { table: string; items: { key: string; value: string; from: string }[] } }[];
      }
    ).steps.find((s) => s.crate === "evil-build" && s.phase === "build-script")!;
    expect(step.grant.table).toBe(`[build.evil-build] (${ws}/cratebox.toml:2)`);
    expect(step.grant.items).toContainEqual({ key: "env", value: "GRANTED_VAR", from: `[build.evil-build] (${ws}/cratebox.toml:4)` });
  });

  it("a runtime or image the engine does not have is named, never silently replaced", async () => {
    // runsc is one the engine may have (scripts/setup can register gVisor): then the grant must work instead.
    const runtimes = (await execa("docker", ["info", "--format", "{{json .Runtimes}}"])).stdout;
    if (JSON.parse(runtimes).runsc) {
      const ws = probeWorkspace([], 'version = 1\n[build.evil-build]\nreviewed = true\nruntime = "runsc"\n');
      const res = await boxed(ws, path.join(ws, "target"));
      expect(res.code, res.stderr).toBe(0);
    }
    for (const [key, value, message] of [
      ...(JSON.parse(runtimes).runsc ? [] : ([["runtime", "runsc", "the runtime runsc named in a grant is not registered with the Docker engine"]] as const)),
      [
        "image",
        "cratebox-test/no-such-image:1",
        "the image cratebox-test/no-such-image:1 named in a grant is not in the engine, and cratebox does not pull images",
      ],
    ] as const) {
      const ws = probeWorkspace([], `version = 1\n[build.evil-build]\nreviewed = true\n${key} = "${value}"\n`);
      const res = await boxed(ws, path.join(ws, "target"));
      expect(res.code).toBe(101);
      expect(res.stderr).toContain(message);
    }
  });

  it("a write grant into cargo's build directory is refused before anything builds", async () => {
    const ws = probeWorkspace([]);
    mkdirSync(path.join(ws, "target/debug"), { recursive: true });
    writeFileSync(path.join(ws, "cratebox.toml"), `version = 1\n[build.evil-build]\nwrite = ["${ws}/target/debug"]\n`);
    const res = await boxed(ws, path.join(ws, "target"));
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("overlaps cargo's build directory");
    expect(existsSync(path.join(ws, "target/debug/build"))).toBe(false);
  });

  it("limits from cratebox.toml bind, and the failure names the limit and the grant to raise it", async () => {
    const ws = probeWorkspace(["alloc 1024"], `version = 1\n[build.evil-build]\nreviewed = true\nmemory = "256MiB"\n`);
    const res = await boxed(ws, path.join(ws, "target"));
    expect(res.code).toBe(101);
    expect(res.stderr).toContain(
      'build script of evil-build 0.1.0 was killed: memory limit of 256 MiB reached (raise it in cratebox.toml: [build.evil-build] version = "=0.1.0" memory = "4GiB"',
    );
  });

  it("a registry grant does not reach a path crate of the same name", async () => {
    const buildRs = 'fn main() { println!("cargo:rustc-env=SEEN={}", std::env::var("GRANTED_VAR").unwrap_or_else(|_| "withheld".into())); }';
    const main = 'fn main() { println!("{}", env!("SEEN")); }';
    for (const [source, expected] of [
      ["registry", "withheld"],
      ["path", "granted-value"],
    ] as const) {
      const ws = makeWorkspace({
        registry: registry.dir,
        files: { "build.rs": buildRs, "src/main.rs": main, "cratebox.toml": `version = 1\n[build.app]\nsource = "${source}"\nenv = ["GRANTED_VAR"]\n` },
      });
      const res = await boxed(ws, path.join(ws, "target"));
      expect(res.code, res.output).toBe(0);
      expect((await execa(path.join(ws, "target/debug/app"))).stdout).toBe(expected);
    }
  });
});

describe("pins, strict mode, approve and deny", () => {
  it("a stale version pin stops the run before anything builds; approve re-pins it", async () => {
    const ws = probeWorkspace(["env GRANTED_VAR"], `version = 1\n# reviewed in March\n[build.evil-build]\nversion = "=0.0.9"\nenv = ["GRANTED_VAR"]\n`);
    const target = path.join(ws, "target");
    const stopped = await boxed(ws, target);
    expect(stopped.code).toBe(2);
    expect(stopped.stderr).toContain("grant for the build script of evil-build does not apply");
    expect(stopped.stderr).toContain("was reviewed for version =0.0.9");
    expect(stopped.stderr).toContain("but cargo resolved evil-build 0.1.0");
    expect(stopped.stderr).toContain("cratebox approve evil-build");
    expect(existsSync(path.join(target, "debug/build"))).toBe(false);

    const approved = await execa(CRATEBOX, ["approve", "evil-build"], { cwd: ws, env, extendEnv: false, reject: false });
    expect(approved.exitCode, approved.stderr).toBe(0);
    const toml = readFileSync(path.join(ws, "cratebox.toml"), "utf8");
    expect(toml).toContain('# reviewed in March\n[build.evil-build]\nversion = "=0.1.0"\nenv = ["GRANTED_VAR"]\nsource = "registry"\n');
    const res = await boxed(ws, target);
    expect(res.code, res.output).toBe(0);
    expect(loot(target)).toMatch(/env GRANTED_VAR => OK granted-value/);
  });

  it("approve --connect adds hosts to the network list, pinned; a bad host writes nothing; --network with --connect is refused", async () => {
    const ws = probeWorkspace([], "version = 1\n");
    const run = (args: string[]) => execa(CRATEBOX, ["approve", "evil-build", ...args], { cwd: ws, env, extendEnv: false, reject: false });
    const first = await run(["--connect", "static.example.org:443"]);
    expect(first.exitCode, first.stderr).toBe(0);
    const second = await run(["--connect", "*.internal:8443"]);
    expect(second.exitCode, second.stderr).toBe(0);
    const toml = readFileSync(path.join(ws, "cratebox.toml"), "utf8");
    expect(toml).toMatch(
      /\[build\.evil-build\]\nversion = "=0\.1\.0"\nsource = "registry"\nchecksum = "sha256:[0-9a-f]{64}"\nnetwork = \["static\.example\.org:443", "\*\.internal:8443"\]\n/,
    );
    const bad = await run(["--connect", "static.example.org"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('"static.example.org" is not "host:port"');
    expect(readFileSync(path.join(ws, "cratebox.toml"), "utf8")).toBe(toml);
    const both = await run(["--network", "--connect", "a.example:443"]);
    expect(both.exitCode).toBe(2);
    expect(both.stderr).toContain("--network (full access) and --connect (named hosts) exclude each other");
  });

  it("a stale pin shows what changed in the build script when both versions are on disk", async () => {
    const reg = makeRegistry(["evil-build-0.1.0"]);
    const old = reg.crate("evil-build");
    const next = path.join(reg.dir, "evil-build-0.1.1");
    cpSync(old, next, { recursive: true });
    writeFileSync(path.join(next, "Cargo.toml"), readFileSync(path.join(old, "Cargo.toml"), "utf8").replace('version = "0.1.0"', 'version = "0.1.1"'));
    writeFileSync(path.join(next, "build.rs"), `${readFileSync(path.join(old, "build.rs"), "utf8")}// new in 0.1.1: phone home\n`);
    writeFileSync(path.join(next, ".cargo-checksum.json"), `{"files":{},"package":"${"1".repeat(64)}"}`);
    const ws = makeWorkspace({
      registry: reg.dir,
      dependencies: ['evil-build = "=0.1.1"'],
      files: { "cratebox.toml": 'version = 1\n[build.evil-build]\nversion = "=0.1.0"\nreviewed = true\n' },
    });
    const res = await boxed(ws, path.join(ws, "target"));
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("but cargo resolved evil-build 0.1.1");
    expect(res.stderr).toContain("what changed in the build script since the review:");
    expect(res.stderr).toContain("+++ evil-build-0.1.1/build.rs");
    expect(res.stderr).toContain("+// new in 0.1.1: phone home");
    const diff = await execa(CRATEBOX, ["profiles", "diff", "evil-build"], { cwd: ws, env, extendEnv: false, reject: false });
    expect(diff.stdout).toContain("+// new in 0.1.1: phone home");
  });

  it("a checksum pin that differs from Cargo.lock's stops the run too", async () => {
    const ws = probeWorkspace(
      [],
      `version = 1
[build.evil-build]
checksum = "sha256:${"0".repeat(64)}"
reviewed = true
`,
    );
    const stopped = await boxed(ws, path.join(ws, "target"));
    expect(stopped.code).toBe(2);
    expect(stopped.stderr).toMatch(/grant for the build script of evil-build does not apply: .*checksum/);
    expect(existsSync(path.join(ws, "target/debug/build"))).toBe(false);
  });

  it("strict mode stops on a build script nobody reviewed; deny records the review", async () => {
    const ws = probeWorkspace([], "version = 1\nstrict = true\n");
    const stopped = await boxed(ws, path.join(ws, "target"));
    expect(stopped.code).toBe(2);
    expect(stopped.stderr).toContain("strict: evil-build 0.1.0 (registry) has a build script but no [build.evil-build] table selects it");
    const lenient = await cratebox(["build", "--target-dir", path.join(ws, "target")], probeWorkspace([]), env, ["--strict"]);
    expect(lenient.code).toBe(2); // --strict on the command line, without any cratebox.toml

    const denied = await execa(CRATEBOX, ["deny", "evil-build"], { cwd: ws, env, extendEnv: false, reject: false });
    expect(denied.exitCode, denied.stderr).toBe(0);
    expect(readFileSync(path.join(ws, "cratebox.toml"), "utf8")).toMatch(
      /\[build\.evil-build\]\nversion = "=0\.1\.0"\nsource = "registry"\nchecksum = "sha256:[0-9a-f]{64}"\nreviewed = true\n$/,
    );
    const res = await boxed(ws, path.join(ws, "target"));
    expect(res.code, res.output).toBe(0);
    const check = await execa(CRATEBOX, ["profiles", "check"], { cwd: ws, env, extendEnv: false, reject: false });
    expect(check.exitCode).toBe(0);
    const ls = await execa(CRATEBOX, ["profiles", "ls"], { cwd: ws, env, extendEnv: false, reject: false });
    expect(ls.stdout).toMatch(/build script {2}evil-build 0\.1\.0 \(registry\) {2}\[build\.evil-build\] reviewed: default deny/);
  });

  it("prune removes tables that match no crate, keeping the rest of the file", async () => {
    const ws = probeWorkspace([], `version = 1\n\n[build.evil-build]\nreviewed = true\n\n# gone since spring\n[build.left-pad]\nreviewed = true\n`);
    const res = await execa(CRATEBOX, ["profiles", "prune"], { cwd: ws, env, extendEnv: false, reject: false });
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.stdout).toContain("pruned [build.left-pad]: no crate named left-pad in the build graph");
    expect(readFileSync(path.join(ws, "cratebox.toml"), "utf8")).toBe("version = 1\n\n[build.evil-build]\nreviewed = true\n");
  });
});

describe("in CI", () => {
  it("only the committed cratebox.toml counts", async () => {
    const ws = probeWorkspace(
      [],
      `version = 1
[build.evil-build]
reviewed = true
`,
    );
    const git = (...args: string[]) => execa("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: ws });
    await git("init", "-q");
    await git("add", "cratebox.toml");
    await git("commit", "-qm", "grants");
    const ci = testEnv(fake, { CI: "true" });
    expect((await cratebox(["build", "--target-dir", "target/a"], ws, ci)).code).toBe(0);
    writeFileSync(
      path.join(ws, "cratebox.toml"),
      `version = 1
[build.evil-build]
network = true
`,
    );
    const res = await cratebox(["build", "--target-dir", "target/b"], ws, ci);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("differs from the committed one");
    expect(res.stderr).toContain("in CI only the committed cratebox.toml counts");
    // Telling git to look away does not hide the change: contents are compared with HEAD.
    await git("update-index", "--skip-worktree", "cratebox.toml");
    const hidden = await cratebox(["build", "--target-dir", "target/c"], ws, ci);
    expect(hidden.code).toBe(2);
    expect(hidden.stderr).toContain("differs from the committed one");
  });
});

describe("an invalid cratebox.toml", () => {
  it("names the file, each line, key path and what is accepted, all at once, exit 2, nothing built", async () => {
    const ws = probeWorkspace([], `version = 1\n[defaults]\nmemory = "lots"\n[build.evil-build]\nenviron = ["X"]\ntimeout = 5\n`);
    for (const run of [
      () => boxed(ws, path.join(ws, "target")),
      () =>
        execa(CRATEBOX, ["profiles", "check"], { cwd: ws, env, extendEnv: false, reject: false }).then((r) => ({ code: r.exitCode ?? -1, stderr: r.stderr })),
    ]) {
      const res = await run();
      expect(res.code).toBe(2);
      const file = path.join(ws, "cratebox.toml");
      expect(res.stderr).toContain(`${file} is not valid (`);
      expect(res.stderr).toMatch(new RegExp(`${file.replace(/[/.]/g, "\\$&")}:3: defaults\\.memory: .*lots.*accepted: .*512MiB`));
      expect(res.stderr).toMatch(/:5: build\.evil-build\.environ: unknown key "environ".*env/);
    }
    expect(existsSync(path.join(ws, "target/debug/build"))).toBe(false);
  });
});

describe("built-in profiles on real Debian crates", () => {
  it("openssl, pkg-config, c-toolchain and sys-conventions pass exactly what those build scripts read", async () => {
    const ws = makeWorkspace({
      registry: registry.dir,
      dependencies: ['openssl-sys = "0.9"', 'libz-sys = "1"', 'cc-demo = "0.1"'],
      files: {
        "pc/zlib.pc":
          "prefix=/usr\nName: zlib\nDescription: zlib with a marker\nVersion: 1.2.13\nLibs: -L/tmp/cratebox-pc-marker -lz\nCflags: -I/usr/include\n",
      },
    });
    const multiarch = "/usr/lib/x86_64-linux-gnu";
    const vars = {
      // openssl-sys reads the target-specific forms first
      X86_64_UNKNOWN_LINUX_GNU_OPENSSL_LIB_DIR: multiarch,
      X86_64_UNKNOWN_LINUX_GNU_OPENSSL_INCLUDE_DIR: "/usr/include",
      CFLAGS: "-DCBX_MARK=7",
      PKG_CONFIG_PATH: path.join(ws, "pc"),
    };
    let runs = 0;
    const run = async (toml: string | undefined, extra: Record<string, string>) => {
      if (toml) writeFileSync(path.join(ws, "cratebox.toml"), toml);
      const target = path.join(ws, `target-${++runs}`);
      mkdirSync(target, { recursive: true });
      const res = await cratebox(["build", "--target-dir", target], ws, testEnv(fake, extra));
      expect(res.code, res.output).toBe(0);
      return { openssl: output(target, "openssl-sys"), zlib: output(target, "libz-sys"), cc: output(target, "cc-demo") };
    };

    const denied = await run(undefined, vars);
    expect(denied.openssl).not.toContain(`cargo:rustc-link-search=native=${multiarch}\n`);
    expect(denied.zlib).not.toContain("/tmp/cratebox-pc-marker");
    expect(denied.cc).toMatch(/^CFLAGS = None$/m);

    const granted = await run(
      `version = 1\n[build.openssl-sys]\nuse = ["openssl"]\n[build.libz-sys]\nuse = ["pkg-config"]\nread = ["pc"]\n# the marker directory is outside the system library dirs: the directive firewall wants a grant\ndirectives = ["rustc-link-search=native=/tmp/cratebox-pc-marker"]\n[build.cc-demo]\nuse = ["c-toolchain"]\n`,
      vars,
    );
    expect(granted.openssl).toContain(`cargo:rustc-link-search=native=${multiarch}\n`); // from X86_64_..._OPENSSL_LIB_DIR
    expect(granted.zlib).toContain("cargo:rustc-link-search=native=/tmp/cratebox-pc-marker"); // from PKG_CONFIG_PATH
    expect(granted.cc).toMatch(/^CFLAGS = Some\("-DCBX_MARK=7"\)$/m);

    const conventions = await run(`version = 1\n[build.openssl-sys]\nuse = ["sys-conventions"]\n`, {
      OPENSSL_LIB_DIR: multiarch,
      OPENSSL_INCLUDE_DIR: "/usr/include",
    });
    expect(conventions.openssl).toContain(`cargo:rustc-link-search=native=${multiarch}\n`);
  });
});
