import { describe, expect, it } from "vitest";
import { isCargoBuildScriptVariable, SANDBOX_HOME, toSandboxEnv } from "../../src/core/sandbox-env.ts";

const sysroot = "/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu";
const ctx = { sysroot, rustc: `${sysroot}/bin/rustc`, rustdoc: `${sysroot}/bin/rustdoc`, cargo: `${sysroot}/bin/cargo` };

describe("toSandboxEnv", () => {
  const host = {
    CARGO_MANIFEST_DIR: "/src/foo",
    CARGO_PKG_NAME: "foo",
    CARGO_FEATURE_STD: "1",
    CARGO_CFG_TARGET_OS: "linux",
    DEP_Z_INCLUDE: "/t/debug/build/libz-sys-1/out/include",
    OUT_DIR: "/t/debug/build/foo-2/out",
    TARGET: "x86_64-unknown-linux-gnu",
    NUM_JOBS: "2",
    RUSTC: "/home/u/.cargo/bin/rustc",
    RUSTC_WRAPPER: "/opt/cratebox/src/shims/rustc-wrapper.sh",
    RUSTC_WORKSPACE_WRAPPER: "/usr/bin/clippy-driver",
    CARGO_MAKEFLAGS: "-j --jobserver-fds=6,7",
    CARGO_HOME: "/home/u/.cargo",
    CARGO_REGISTRY_TOKEN: "secret",
    GITHUB_TOKEN: "secret",
    SSH_AUTH_SOCK: "/tmp/ssh-agent.sock",
    HOME: "/home/u",
    PATH: "/home/u/.cargo/bin:/usr/bin",
    CRATEBOX_SOCKET: "/tmp/cratebox-x/run.sock",
    LD_LIBRARY_PATH: `/t/debug/deps:${sysroot}/lib`,
  };
  const { env, withheld } = toSandboxEnv(host, ctx);

  it("passes cargo's build-script variables", () => {
    for (const k of ["CARGO_MANIFEST_DIR", "CARGO_PKG_NAME", "CARGO_FEATURE_STD", "CARGO_CFG_TARGET_OS", "DEP_Z_INCLUDE", "OUT_DIR", "TARGET", "NUM_JOBS"]) {
      expect(env[k]).toBe(host[k as keyof typeof host]);
    }
  });

  it("withholds secrets, agents, wrappers, homes and cratebox's own plumbing", () => {
    for (const k of [
      "CARGO_REGISTRY_TOKEN",
      "GITHUB_TOKEN",
      "SSH_AUTH_SOCK",
      "RUSTC_WRAPPER",
      "RUSTC_WORKSPACE_WRAPPER",
      "CARGO_MAKEFLAGS",
      "CARGO_HOME",
      "CRATEBOX_SOCKET",
    ]) {
      expect(env).not.toHaveProperty(k);
      expect(withheld).toContain(k);
    }
  });

  it("points the toolchain at the mounted sysroot and gives an empty home", () => {
    expect(env.RUSTC).toBe(`${sysroot}/bin/rustc`);
    expect(env.HOME).toBe(SANDBOX_HOME);
    expect(env.PATH?.split(":")[0]).toBe(`${sysroot}/bin`);
    expect(env.PATH).not.toContain("/home/u");
    expect(env.LD_LIBRARY_PATH).toBe(`${sysroot}/lib`);
  });

  it("recognises variables by exact name or documented prefix", () => {
    expect(isCargoBuildScriptVariable("CARGO_PKG_VERSION")).toBe(true);
    expect(isCargoBuildScriptVariable("CARGO_REGISTRIES_MY_TOKEN")).toBe(false);
    expect(isCargoBuildScriptVariable("CARGO_TARGET_DIR")).toBe(false);
    expect(isCargoBuildScriptVariable("DEBUG")).toBe(true);
  });
});
