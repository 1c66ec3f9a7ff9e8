import { describe, expect, it } from "vitest";
import { knownSysrootFor } from "../../src/core/sysroot.ts";

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
