import { describe, expect, it } from "vitest";
import { knownSysrootFor, sysrootBeside } from "../../src/core/sysroot.ts";

const known = { rustc: "rustc", sysroot: "/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu" };

describe("the sysroot learned at start", () => {
  it("serves the same rustc of the same rustup toolchain", () => {
    expect(knownSysrootFor(known, "rustc", { RUSTUP_TOOLCHAIN: "stable-x86_64-unknown-linux-gnu" })).toBe(known.sysroot);
    expect(knownSysrootFor(known, "rustc", {})).toBe(known.sysroot);
  });

  it("does not serve another toolchain, another rustc, or when nothing was learned", () => {
    expect(knownSysrootFor(known, "rustc", { RUSTUP_TOOLCHAIN: "nightly-x86_64-unknown-linux-gnu" })).toBeUndefined();
    expect(knownSysrootFor(known, "/opt/rust/bin/rustc", {})).toBeUndefined();
    expect(knownSysrootFor(undefined, "rustc", {})).toBeUndefined();
  });
});

describe("the sysroot beside a toolchain's own rustc", () => {
  const dirs = new Set(["/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/lib/rustlib", "/usr/lib/rustlib"]);
  const isDir = (p: string) => dirs.has(p);

  it("is the directory above its bin/ when that holds lib/rustlib", () => {
    expect(sysrootBeside("/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/bin/rustc", isDir)).toBe(
      "/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu",
    );
    expect(sysrootBeside("/usr/bin/rustc", isDir)).toBe("/usr");
  });

  it("is not guessed for a proxy, a renamed or relative rustc, or a bin/ without lib/rustlib", () => {
    expect(sysrootBeside("/root/.cargo/bin/rustup", isDir)).toBeUndefined();
    expect(sysrootBeside("/usr/bin/rustc-1.63", isDir)).toBeUndefined();
    expect(sysrootBeside("rustc", isDir)).toBeUndefined();
    expect(sysrootBeside("/opt/wrappers/bin/rustc", isDir)).toBeUndefined();
    expect(sysrootBeside("/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/libexec/rustc", isDir)).toBeUndefined();
  });
});
