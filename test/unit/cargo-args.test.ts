import { describe, expect, it } from "vitest";
import { parseCargoInvocation } from "../../src/core/cargo-args.ts";
import { fromCargoSubcommand } from "../../src/cli/options.ts";

describe("parseCargoInvocation", () => {
  it("finds the subcommand after toolchain and global options", () => {
    expect(parseCargoInvocation(["+nightly", "-v", "--config", "build.jobs=1", "build", "--release"])).toMatchObject({
      toolchain: "nightly",
      subcommand: "build",
      builds: true,
      runsBinaries: false,
    });
    expect(parseCargoInvocation(["-Z", "unstable-options", "test"])).toMatchObject({ subcommand: "test", builds: true, runsBinaries: true });
    expect(parseCargoInvocation(["--version"])).toMatchObject({ subcommand: undefined, builds: false });
    expect(parseCargoInvocation(["metadata"])).toMatchObject({ builds: false });
  });
  it("reads --target-dir and --manifest-path in both spellings, not past --", () => {
    expect(parseCargoInvocation(["build", "--target-dir", "out", "--manifest-path=a/Cargo.toml"])).toMatchObject({
      targetDir: "out",
      manifestPath: "a/Cargo.toml",
    });
    expect(parseCargoInvocation(["run", "--", "--target-dir", "x"]).targetDir).toBeUndefined();
  });
});

describe("fromCargoSubcommand", () => {
  it("turns `cargo cratebox build` into `cratebox cargo build`, keeping cratebox's own options first", () => {
    expect(fromCargoSubcommand(["cratebox", "build", "--release"])).toEqual(["cargo", "build", "--release"]);
    expect(fromCargoSubcommand(["cratebox", "--memory", "1g", "test"])).toEqual(["--memory", "1g", "cargo", "test"]);
  });
});
