/**
 * Ways a build script could have run unsandboxed under a cratebox run, each closed: cargo's
 * @argfile for long command lines, aliases and subcommands outside a fixed list, --config
 * moving the target directory, and `cargo run` handing its runner a relative path.
 * (Found by a review; each test failed before its fix.)
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { cratebox, makeFakeHome, plainCargo, testEnv } from "../helpers/run.ts";
import { makeRegistry, makeWorkspace, tempDir } from "../helpers/workspace.ts";

const registry = makeRegistry();
const fake = makeFakeHome();
const env = testEnv(fake);
// Bakes the HOME the build script saw into the program.
const BUILD_RS =
  'fn main() { println!("cargo:rerun-if-env-changed=FOO"); println!("cargo:rustc-env=SEEN_HOME={}", std::env::var("HOME").unwrap_or_default()); }';
const MAIN_RS = 'fn main() { println!("{}", env!("SEEN_HOME")); }';
const ws = (files: Record<string, string> = {}) => makeWorkspace({ registry: registry.dir, files: { "build.rs": BUILD_RS, "src/main.rs": MAIN_RS, ...files } });
const seenHome = async (bin: string) => (await execa(bin)).stdout;

describe("no way around the sandbox", () => {
  it("a manifest long enough to make cargo use an @argfile", async () => {
    // One --check-cfg argument over the kernel's 128 KiB per-argument limit makes cargo retry with @argfile.
    const features = Array.from({ length: 6000 }, (_, i) => `a_feature_with_a_rather_long_name_${i} = []`).join("\n");
    const dir = ws();
    const cargoToml = path.join(dir, "Cargo.toml");
    writeFileSync(cargoToml, `${readFileSync(cargoToml, "utf8")}\n[features]\n${features}\n`);
    const res = await cratebox(["build"], dir, env);
    expect(res.code, res.output).toBe(0);
    expect(res.stderr).toContain("1 build script sandboxed, all passed");
    expect(await seenHome(path.join(dir, "target/debug/app"))).toBe("/home/cratebox");
  });

  it("an alias, and subcommands cratebox has never heard of", async () => {
    const dir = ws();
    const cfg = path.join(dir, ".cargo/config.toml");
    writeFileSync(cfg, `${readFileSync(cfg, "utf8")}[alias]\nxb = "build"\n`);
    const res = await cratebox(["xb"], dir, env);
    expect(res.code, res.output).toBe(0);
    expect(res.stderr).toContain("1 build script sandboxed, all passed");
    expect(await seenHome(path.join(dir, "target/debug/app"))).toBe("/home/cratebox");
  });

  it("--config moving the target directory: plain-built scripts there are put behind the sandbox", async () => {
    const dir = ws();
    const target = path.join(tempDir(), "elsewhere");
    const config = ["--config", `build.target-dir="${target}"`];
    expect((await plainCargo([...config, "build"], dir, env)).code).toBe(0);
    const res = await cratebox([...config, "build"], dir, testEnv(fake, { FOO: "changed" }));
    expect(res.code, res.output).toBe(0);
    expect(res.stderr).toContain("put 1 build script(s) compiled outside cratebox behind the sandbox");
    expect(res.stderr).toContain("1 build script sandboxed, all passed");
    expect(await seenHome(path.join(target, "debug/app"))).toBe("/home/cratebox");
  });

  it("cargo run: the program runs in the sandbox too", async () => {
    const dir = ws();
    const res = await cratebox(["run", "-q"], dir, env);
    expect(res.code, res.output).toBe(0);
    expect(res.stdout.trim()).toBe("/home/cratebox");
    expect(res.stderr).toContain("1 build script and 1 program sandboxed, all passed");
  });
});
