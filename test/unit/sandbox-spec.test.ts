import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../src/core/limits.ts";
import { SpecError, toSandboxSpec, type HostFacts, type StepRequest } from "../../src/core/sandbox-spec.ts";
import { toCreateOptions } from "../../src/core/container-options.ts";

const sysroot = "/home/u/.rustup/toolchains/stable-x86_64-unknown-linux-gnu";
const target = "/work/app/target";
const existing = new Map<string, string>([
  [`${target}/debug/build/foo-aaaaaaaaaaaaaaaa/build_script_build-aaaaaaaaaaaaaaaa.cratebox-real`, ""],
  [`${target}/debug/build/foo-bbbbbbbbbbbbbbbb/out`, ""],
  [`${target}/debug/build/libz-sys-cccccccccccccccc/out/include`, ""],
  ["/reg/foo-1.0.0", ""],
  ["/work/app", ""],
  ["/usr/include", ""],
  ["/home/u/.ssh", ""],
  ["/usr", ""],
  ["/usr/bin/true", ""],
]);

function host(overrides: Partial<HostFacts> = {}): HostFacts {
  return {
    image: "cratebox/sandbox:test",
    uid: 1000,
    gid: 1000,
    sysroot,
    home: "/home/u",
    buildRoots: [target],
    systemPaths: ["/usr", "/etc/alternatives"],
    realpath: (p) => (existing.has(p) ? existing.get(p) || p : undefined),
    isFile: (p) => p.startsWith(`${sysroot}/bin/`),
    ...overrides,
  };
}

function request(env: Record<string, string> = {}, cwd = "/reg/foo-1.0.0"): StepRequest {
  return {
    phase: "build-script",
    program: `${target}/debug/build/foo-aaaaaaaaaaaaaaaa/build_script_build-aaaaaaaaaaaaaaaa.cratebox-real`,
    args: [],
    cwd,
    env: {
      CARGO_PKG_NAME: "foo",
      CARGO_PKG_VERSION: "1.0.0",
      CARGO_MANIFEST_DIR: cwd,
      OUT_DIR: `${target}/debug/build/foo-bbbbbbbbbbbbbbbb/out`,
      RUSTC: "/home/u/.cargo/bin/rustc",
      ...env,
    },
  };
}

const spec = (env?: Record<string, string>, h?: Partial<HostFacts>, cwd?: string) =>
  toSandboxSpec(request(env, cwd), host(h), DEFAULT_LIMITS, { "cratebox.run": "r1" });

describe("toSandboxSpec (deny by default)", () => {
  it("mounts system dirs, the toolchain, the program and the crate source read-only; OUT_DIR writable", () => {
    const s = spec();
    const byTarget = Object.fromEntries(s.mounts.map((m) => [m.target, m.readOnly]));
    expect(byTarget).toEqual({
      "/usr": true,
      "/etc/alternatives": true,
      [sysroot]: true,
      [request().program]: true,
      "/reg/foo-1.0.0": true,
      [`${target}/debug/build/foo-bbbbbbbbbbbbbbbb/out`]: false,
    });
    expect(s.workdir).toBe("/reg/foo-1.0.0");
    expect(s.user).toBe("1000:1000");
    expect(s.env.HOME).toBe("/home/cratebox");
    expect(s.env.RUSTC).toBe(`${sysroot}/bin/rustc`);
    expect(s.tmpfs.map((t) => t.target)).toEqual(["/tmp", "/home/cratebox"]);
  });

  it("never mounts the home directory or ~/.rustup as a whole", () => {
    const s = spec();
    for (const m of s.mounts) {
      expect(["/home/u", "/home/u/.rustup", "/home/u/.cargo"]).not.toContain(m.source);
    }
  });

  it("runs the real binary, with a backstop timer 30 s past the time limit", () => {
    const s = spec();
    expect(s.cmd[0]).toBe(request().program);
    expect(s.backstopSeconds).toBe(DEFAULT_LIMITS.timeoutMs / 1000 + 30);
  });

  it("mounts another crate's OUT_DIR named in DEP_* read-only", () => {
    const s = spec({ DEP_Z_INCLUDE: `${target}/debug/build/libz-sys-cccccccccccccccc/out/include` });
    expect(s.mounts).toContainEqual({
      source: `${target}/debug/build/libz-sys-cccccccccccccccc/out/include`,
      target: `${target}/debug/build/libz-sys-cccccccccccccccc/out/include`,
      readOnly: true,
    });
  });

  it("does not mount a DEP_* path outside every OUT_DIR (a script controls its metadata)", () => {
    const s = spec({ DEP_EVIL_ROOT: "/home/u/.ssh" });
    expect(s.mounts.some((m) => m.source === "/home/u/.ssh")).toBe(false);
    expect(s.withheldPaths).toEqual([{ path: "/home/u/.ssh", reason: "DEP_EVIL_ROOT points outside any crate's OUT_DIR" }]);
  });

  it("checks the real path of DEP_* values: a symlink in an OUT_DIR to ~/.ssh is not followed", () => {
    const link = `${target}/debug/build/libz-sys-cccccccccccccccc/out/sneaky`;
    const s = spec({ DEP_Z_SNEAKY: link }, { realpath: (p) => (p === link ? "/home/u/.ssh" : existing.has(p) ? p : undefined) });
    expect(s.mounts.some((m) => m.source === "/home/u/.ssh")).toBe(false);
    expect(s.withheldPaths[0]?.path).toBe(link);
  });

  it("ignores DEP_* values already visible (system headers) and non-paths", () => {
    const s = spec({ DEP_OPENSSL_INCLUDE: "/usr/include", DEP_OPENSSL_VERSION_NUMBER: "30000000" });
    expect(s.withheldPaths).toEqual([]);
    expect(s.mounts.filter((m) => m.source === "/usr/include")).toEqual([]);
  });

  it("hides the rest of target/ when the crate source contains it (workspace member)", () => {
    const s = spec({}, {}, "/work/app");
    expect(s.tmpfs.map((t) => t.target)).toContain(target);
    // what must stay visible on top of the mask
    expect(s.mounts.map((m) => m.target)).toEqual(expect.arrayContaining([request().program, `${target}/debug/build/foo-bbbbbbbbbbbbbbbb/out`]));
  });

  it("refuses an OUT_DIR that is not a build-script output directory", () => {
    expect(() => spec({ OUT_DIR: "/work/app" })).toThrowError(SpecError);
  });

  it("refuses a program outside the build directory", () => {
    const r = { ...request(), program: "/usr/bin/true" };
    expect(() => toSandboxSpec(r, host(), DEFAULT_LIMITS, {})).toThrow(/not inside cargo's build directory/);
  });

  it("refuses to mount a crate source that contains the home directory", () => {
    existing.set("/home", "");
    expect(() => spec({}, {}, "/home")).toThrow(/contains your home directory/);
  });
});

describe("toCreateOptions", () => {
  const o = toCreateOptions(spec());
  it("runs the command under the backstop timer: a container outlives a cratebox that was killed", () => {
    expect(o.Cmd).toEqual(["/usr/bin/timeout", "--kill-after=5", String(DEFAULT_LIMITS.timeoutMs / 1000 + 30), ...spec().cmd]);
  });
  it("is deny-by-default at the engine level", () => {
    const h = o.HostConfig!;
    expect(h.NetworkMode).toBe("none");
    expect(o.NetworkDisabled).toBe(true);
    expect(h.CapDrop).toEqual(["ALL"]);
    expect(h.SecurityOpt).toEqual(["no-new-privileges"]);
    expect(h.ReadonlyRootfs).toBe(true);
    expect(h.Privileged).toBe(false);
    expect(h.Init).toBe(true);
    expect(h.PidsLimit).toBe(DEFAULT_LIMITS.pids);
    expect(h.Memory).toBe(DEFAULT_LIMITS.memoryBytes);
    expect(h.MemorySwap).toBe(DEFAULT_LIMITS.memoryBytes);
    expect(o.User).toBe("1000:1000");
    expect(o.Labels).toEqual({ "cratebox.run": "r1" });
  });
  it("mounts no socket and no docker socket", () => {
    expect(JSON.stringify(o)).not.toMatch(/docker\.sock|ssh-agent|\/run\//);
  });
});

describe("toSandboxSpec for binaries cargo runs (tests, benches, cargo run)", () => {
  const testBin = `${target}/debug/deps/harness-dddddddddddddddd`;
  existing.set(testBin, "");
  existing.set("/tmp/rustdoctestAbc/rust_out", "");
  const runner = (program: string) =>
    toSandboxSpec(
      {
        phase: "test",
        program,
        args: ["--nocapture"],
        cwd: "/work/app",
        env: { CARGO_PKG_NAME: "harness", CARGO_MANIFEST_DIR: "/work/app", RUST_BACKTRACE: "1", GITHUB_TOKEN: "x", OUT_DIR: "/w", RUST_TEST_THREADS: "1" },
      },
      host({ targetTmpDir: `${target}/tmp`, binExecutables: [`${target}/debug/app`] }),
      DEFAULT_LIMITS,
      {},
    );

  it("mounts the package read-only, target/tmp writable, the package's binaries read-only", () => {
    const s = runner(testBin);
    const byTarget = Object.fromEntries(s.mounts.map((m) => [m.target, m.readOnly]));
    expect(byTarget[testBin]).toBe(true);
    expect(byTarget["/work/app"]).toBe(true);
    expect(byTarget[`${target}/tmp`]).toBe(false);
    expect(byTarget[`${target}/debug/app`]).toBe(true);
    expect(s.tmpfs.map((t) => t.target)).toContain(target); // the rest of target/ stays hidden
    expect(s.cmd).toEqual([testBin, "--nocapture"]);
  });

  it("passes the harness's variables and withholds the rest", () => {
    const s = runner(testBin);
    expect(s.env.RUST_BACKTRACE).toBe("1");
    expect(s.env.RUST_TEST_THREADS).toBe("1");
    expect(s.env.CARGO_PKG_NAME).toBe("harness");
    expect(s.env).not.toHaveProperty("GITHUB_TOKEN");
  });

  it("gives a test a private, executable target/ of /tmp's size (trybuild's nested cargo builds there)", () => {
    const mask = runner(testBin).tmpfs.find((t) => t.target === target);
    expect(mask?.options).toMatch(/(^|,)exec(,|$)/);
    expect(mask?.options).toContain(`size=${DEFAULT_LIMITS.tmpBytes}`);
    expect(mask?.options).toContain("uid=1000,gid=1000");
    // a build script's view of target/ stays a tiny non-executable placeholder
    expect(spec({}, {}, "/work/app").tmpfs.find((t) => t.target === target)?.options).toBe("rw,nosuid,nodev,noexec,size=1m,mode=0755");
  });

  it("mounts /tmp executable: Docker makes a tmpfs noexec unless told", () => {
    expect(runner(testBin).tmpfs.find((t) => t.target === "/tmp")?.options).toMatch(/(^|,)exec(,|$)/);
    expect(spec().tmpfs.find((t) => t.target === "/tmp")?.options).not.toMatch(/noexec/);
  });

  it("runs a doctest binary that rustdoc built outside target/", () => {
    const s = runner("/tmp/rustdoctestAbc/rust_out");
    expect(s.mounts).toContainEqual({ source: "/tmp/rustdoctestAbc/rust_out", target: "/tmp/rustdoctestAbc/rust_out", readOnly: true });
  });
});
