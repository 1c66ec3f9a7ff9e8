/** A rustc or rustdoc call: what it reads and writes, what it may know, what it leaves. Pure. */
import { describe, expect, it } from "vitest";
import { CompileLog, isExpectedBuildScriptFile, pinnableOutput, withoutEnvDeps } from "../../src/core/compile-output.ts";
import { DEFAULT_LIMITS } from "../../src/core/limits.ts";
import { parseCompilerArgs, withoutRuntool } from "../../src/core/rustc-args.ts";
import { toCompilerEnv } from "../../src/core/sandbox-env.ts";
import { type HostFacts, type StepRequest, toSandboxSpec } from "../../src/core/sandbox-spec.ts";

const deps = "/w/target/debug/deps";

describe("parseCompilerArgs", () => {
  it("reads what cargo's rustc command line says: crate, outputs, incremental, dep-info, libraries", () => {
    const inv = parseCompilerArgs(
      [
        "--crate-name",
        "app",
        "--edition=2021",
        "src/main.rs",
        "--error-format=json",
        "--crate-type",
        "bin",
        "--emit=dep-info,link",
        "-C",
        "metadata=ab",
        "-C",
        "extra-filename=-0123",
        "--out-dir",
        deps,
        "-C",
        `incremental=/w/target/debug/incremental`,
        "-L",
        `dependency=${deps}`,
        "-L",
        "native=/usr/lib/x86_64-linux-gnu",
        "--extern",
        `serde=${deps}/libserde-1.rlib`,
        "--extern",
        "other=/x/y/libother.rmeta",
      ],
      "rustc",
      "/w",
    );
    expect(inv).toMatchObject({
      crateName: "app",
      extraFilename: "-0123",
      outDirs: [deps],
      incremental: "/w/target/debug/incremental",
      doctest: false,
      crateTypes: ["bin"],
      probe: false,
    });
    expect(inv.depInfo).toBe(`${deps}/app-0123.d`);
    expect(inv.sources).toEqual(["/w/src/main.rs"]);
    expect(inv.readDirs).toEqual([deps, "/usr/lib/x86_64-linux-gnu", "/x/y"]);
  });

  it("reads every crate type, comma-separated or repeated (a proc macro's compile)", () => {
    expect(parseCompilerArgs(["--crate-type", "proc-macro", "src/lib.rs"], "rustc", "/w").crateTypes).toEqual(["proc-macro"]);
    expect(parseCompilerArgs(["--crate-type=lib,cdylib", "--crate-type", "lib", "src/lib.rs"], "rustc", "/w").crateTypes).toEqual(["lib", "cdylib"]);
  });

  it("knows a probe from a compilation", () => {
    expect(parseCompilerArgs(["-vV"], "rustc", "/w").probe).toBe(true);
    expect(parseCompilerArgs(["-", "--crate-name", "___", "--print=file-names", "--crate-type", "bin"], "rustc", "/w").probe).toBe(true);
    expect(parseCompilerArgs(["--print", "sysroot"], "rustc", "/w").probe).toBe(true);
    expect(parseCompilerArgs(["--crate-name", "x", "src/lib.rs", "--print", "cfg"], "rustc", "/w").probe).toBe(false);
  });

  it("reads rustdoc's output directory and doctests, and takes cargo's runner out of them", () => {
    const doc = parseCompilerArgs(["--crate-name", "p", "src/lib.rs", "-o", "/w/target/doc", "-L", `dependency=${deps}`], "rustdoc", "/w");
    expect(doc.outDirs).toEqual(["/w/target/doc"]);
    const args = ["--crate-name", "p", "--test", "src/lib.rs", "--test-runtool", "/cratebox/runner.sh", "--test-runtool-arg=x", "--test-args", "--quiet"];
    expect(parseCompilerArgs(args, "rustdoc", "/w").doctest).toBe(true);
    expect(withoutRuntool(args)).toEqual(["--crate-name", "p", "--test", "src/lib.rs", "--test-args", "--quiet"]);
  });
});

describe("toCompilerEnv", () => {
  const ctx = { sysroot: "/sr", rustc: "/sr/bin/rustc", rustdoc: "/sr/bin/rustdoc", cargo: "/sr/bin/cargo" };
  const userEnv = { GITHUB_TOKEN: "ghp_x", CARGO_REGISTRY_TOKEN: "cio_x", HOME: "/home/u", PATH: "/usr/bin", DATABASE_URL: "pg://u:p@db", MY_VAR: "user" };
  const call = {
    ...userEnv,
    CARGO_PKG_NAME: "app",
    CARGO_MANIFEST_DIR: "/w",
    CARGO: "/home/u/.cargo/bin/cargo",
    OUT_DIR: "/w/target/debug/build/app-1/out",
    BUILD_STAMP: "from-rustc-env",
    MY_VAR: "set-by-config",
    RUSTC_WRAPPER: "/cratebox/rustc-wrapper.sh",
    CRATEBOX_SOCKET: "/tmp/s",
    CARGO_MAKEFLAGS: "-j --jobserver-fds=3,4",
  };

  it("passes what cargo set for the crate and what a build script or [env] set; withholds the user's own", () => {
    const { env, withheld } = toCompilerEnv(call, ctx, { passEnv: [], userEnv });
    expect(env).toMatchObject({
      CARGO_PKG_NAME: "app",
      CARGO_MANIFEST_DIR: "/w",
      CARGO: "/sr/bin/cargo",
      OUT_DIR: call.OUT_DIR,
      BUILD_STAMP: "from-rustc-env",
      MY_VAR: "set-by-config",
    });
    for (const secret of ["GITHUB_TOKEN", "CARGO_REGISTRY_TOKEN", "DATABASE_URL"]) expect(env[secret]).toBeUndefined();
    expect(withheld).toEqual(["CARGO_REGISTRY_TOKEN", "DATABASE_URL", "GITHUB_TOKEN", "HOME", "PATH"]);
    expect(env.RUSTC_WRAPPER).toBeUndefined();
    expect(env.CRATEBOX_SOCKET).toBeUndefined();
    expect(env.CARGO_MAKEFLAGS).toBeUndefined();
    expect(env).toMatchObject({ HOME: "/home/cratebox", TMPDIR: "/tmp" });
  });

  it("passes a user's variable a build script named (rustc-env) or a grant names", () => {
    const { env } = toCompilerEnv(call, ctx, { passEnv: ["DATABASE_URL"], userEnv }, (n) => n === "GITHUB_TOKEN");
    expect(env).toMatchObject({ DATABASE_URL: "pg://u:p@db", GITHUB_TOKEN: "ghp_x" });
  });
});

describe("what a compiler leaves", () => {
  it("reads the variables and files its diagnostics say it wanted", () => {
    const seen: string[] = [];
    const log = new CompileLog((c) => seen.push(c.toString()));
    log.push(Buffer.from('{"$message_type":"diagnostic","message":"environment variable `GITHUB_TOKEN` not defined at compile time","rendered":"error: env'));
    log.push(Buffer.from("\"}\nerror: couldn't read `/home/u/.ssh/id_ed25519`: No such file or directory (os error 2)\n"));
    log.end();
    expect([...log.envMissing]).toEqual(["GITHUB_TOKEN"]);
    expect([...log.unreadable]).toEqual(["/home/u/.ssh/id_ed25519"]);
    expect(seen.join("")).toContain("GITHUB_TOKEN");
  });

  it("drops withheld variables from the dep-info, keeps the rest", () => {
    const d = "/w/target/debug/deps/app-1.d: src/main.rs\n\nsrc/main.rs:\n\n# env-dep:GITHUB_TOKEN\n# env-dep:CARGO_PKG_NAME=app\n# env-dep:SECRET=x\\ny\n";
    expect(withoutEnvDeps(d, new Set(["GITHUB_TOKEN", "SECRET"]))).toBe(
      "/w/target/debug/deps/app-1.d: src/main.rs\n\nsrc/main.rs:\n\n# env-dep:CARGO_PKG_NAME=app\n",
    );
  });

  it("keeps only what a build-script compilation may leave in its directory", () => {
    const ok = (f: string) => isExpectedBuildScriptFile(f, "build_script_build", "-0123456789abcdef");
    for (const f of [
      "build_script_build-0123456789abcdef",
      "build_script_build-0123456789abcdef.d",
      "build_script_build-0123456789abcdef.cratebox-real",
      "build-script-build",
    ])
      expect(ok(f)).toBe(true);
    for (const f of ["build-script-main", "evil.sh", "build_script_build-0123456789abcdee", "output"]) expect(ok(f)).toBe(false);
  });
});

describe("pinnableOutput: what a content pin covers in a compile's outputs", () => {
  const args = (...a: string[]) => parseCompilerArgs(a, "rustc", "/w");
  it("a build script: its binary and, behind the shim, the real one", () => {
    expect(
      pinnableOutput(args("--crate-name", "build_script_build", "--crate-type", "bin", "build.rs", "--out-dir", "/t/build/x-1", "-C", "extra-filename=-1")),
    ).toEqual({ kind: "build-script", outputs: ["/t/build/x-1/build_script_build-1", "/t/build/x-1/build_script_build-1.cratebox-real"] });
  });
  it("a proc macro: the shared library rustc loads into its users", () => {
    expect(
      pinnableOutput(args("--crate-name", "derive_lite", "--crate-type", "proc-macro", "src/lib.rs", "--out-dir", "/t/deps", "-C", "extra-filename=-ab")),
    ).toEqual({
      kind: "proc-macro",
      outputs: ["/t/deps/libderive_lite-ab.so"],
    });
  });
  it("nothing for a library or a binary", () => {
    expect(pinnableOutput(args("--crate-name", "serde", "--crate-type", "lib", "src/lib.rs", "--out-dir", "/t/deps"))).toBeUndefined();
  });
});

describe("toSandboxSpec for a compiler", () => {
  const known = new Set([
    "/w",
    "/w/src/main.rs",
    deps,
    "/w/target/debug/incremental",
    "/sr/bin/rustc",
    "/usr",
    "/w/target/debug/build/app-1/out",
    "/opt/secret-libs",
  ]);
  const host: HostFacts = {
    image: "img",
    uid: 1,
    gid: 1,
    sysroot: "/sr",
    home: "/home/u",
    buildRoots: ["/w/target"],
    systemPaths: ["/usr"],
    realpath: (p) => (known.has(p) ? p : undefined),
    isFile: (p) => p.startsWith("/sr/bin/"),
    compiler: {
      invocation: parseCompilerArgs(
        [
          "--crate-name",
          "app",
          "src/main.rs",
          "--out-dir",
          deps,
          "-C",
          "incremental=/w/target/debug/incremental",
          "-L",
          `dependency=${deps}`,
          "-L",
          "native=/opt/secret-libs",
        ],
        "rustc",
        "/w",
      ),
      sourceRoots: ["/w"],
      argfiles: [],
      passEnv: [],
      userEnv: {},
    },
  };
  const req: StepRequest = {
    phase: "rustc",
    program: "/sr/bin/rustc",
    args: ["--crate-name", "app"],
    cwd: "/w",
    env: { CARGO_PKG_NAME: "app", CARGO_MANIFEST_DIR: "/w", OUT_DIR: "/w/target/debug/build/app-1/out" },
  };
  const spec = toSandboxSpec(req, host, DEFAULT_LIMITS, {});

  it("shows the sources and OUT_DIR read-only, lets it write only its outputs and incremental directory, masks the rest of target/", () => {
    const mount = (t: string) => spec.mounts.find((m) => m.target === t);
    expect(mount("/w")).toMatchObject({ readOnly: true });
    expect(mount("/w/target/debug/build/app-1/out")).toMatchObject({ readOnly: true });
    expect(mount(deps)).toMatchObject({ readOnly: false });
    expect(mount("/w/target/debug/incremental")).toMatchObject({ readOnly: false });
    expect(spec.mounts.filter((m) => !m.readOnly).map((m) => m.target)).toEqual([deps, "/w/target/debug/incremental"]);
    expect(spec.tmpfs.map((t) => t.target)).toContain("/w/target");
    expect(spec.network).toBe("none");
  });

  it("does not mount a library directory outside cargo's build directory and the system's", () => {
    expect(spec.mounts.some((m) => m.target === "/opt/secret-libs")).toBe(false);
    expect(spec.withheldPaths.map((w) => w.path)).toContain("/opt/secret-libs");
  });

  it("refuses outputs outside cargo's build directory", () => {
    const bad = { ...host, compiler: { ...host.compiler!, invocation: { ...host.compiler!.invocation, outDirs: ["/w"] } } };
    expect(() => toSandboxSpec(req, bad, DEFAULT_LIMITS, {})).toThrow(/refusing to let a compiler write to \/w/);
  });
});
