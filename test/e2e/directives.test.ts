/**
 * Escapes through cargo directives: a sandboxed build script plants a program in its OUT_DIR and
 * asks the HOST toolchain to run it. Each class is shown executing the planted code under plain
 * cargo, then blocked under cratebox (the planted code never runs, the build stops and says
 * which grant would allow it). The build scripts exist only in the test's temp workspaces.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cratebox, makeFakeHome, plainCargo, testEnv } from "../helpers/run.ts";
import { makeRegistry, makeWorkspace, tempDir } from "../helpers/workspace.ts";

const registry = makeRegistry();
const fake = makeFakeHome();
// rustc links through `cc` with its own -B first (for ld.lld), so a planted `ld` is never
// reached; collect2, which gcc also looks up along -B, is: the planted one runs, then the real one.
const COLLECT2 = execFileSync("gcc", ["-print-prog-name=collect2"], { encoding: "utf8" }).trim();
const plantedCollect2 = (m: string) => ({ name: "collect2", text: `#!/bin/sh\necho ran > ${m}\nexec ${COLLECT2} "$@"\n` });

/** A build script that writes `planted` into OUT_DIR and prints `directive` (OUT in it = OUT_DIR). */
function escapeWorkspace(
  marker: string,
  planted: { name: string; text?: string; c?: string; extra?: { name: string; text: string } },
  directive: string,
): string {
  const buildRs = `
use std::{env, fs, os::unix::fs::PermissionsExt, process::Command};
fn main() {
    let out = env::var("OUT_DIR").unwrap();
    let file = format!("{out}/${planted.name}");
    ${
      planted.c
        ? `fs::write(format!("{out}/evil.c"), ${JSON.stringify(planted.c)}).unwrap();
    assert!(Command::new("cc").args(["-shared", "-fPIC", "-o", &file, &format!("{out}/evil.c")]).status().unwrap().success());`
        : `fs::write(&file, ${JSON.stringify(planted.text ?? "")}).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o755)).unwrap();`
    }
    ${planted.extra ? `fs::write(format!("{out}/${planted.extra.name}"), ${JSON.stringify(planted.extra.text)}.replace("OUT", &out)).unwrap();` : ""}
    println!("cargo:rerun-if-changed=build.rs");
    println!("{}", "${directive}".replace("OUT", &out));
}
`;
  return makeWorkspace({ registry: registry.dir, files: { "build.rs": buildRs, "src/main.rs": 'fn main() { println!("built"); }\n', ".marker-path": marker } });
}

describe("link escapes", () => {
  const cases = [
    {
      what: "-B makes gcc run a planted collect2",
      planted: plantedCollect2,
      directive: "cargo:rustc-link-arg=-BOUT",
      blocked: "rustc-link-arg=-B",
    },
    {
      what: "an @response file the script wrote carries -B to gcc",
      planted: (m: string) => ({ name: "collect2", text: `#!/bin/sh\necho ran > ${m}\nexec ${COLLECT2} "$@"\n`, extra: { name: "args", text: "-BOUT" } }),
      directive: "cargo:rustc-link-arg=@OUT/args",
      blocked: "rustc-link-arg=@",
    },
    {
      what: "rustc-env=LD_PRELOAD makes the host rustc load a planted library",
      planted: (m: string) => ({
        name: "evil.so",
        c: `#include <stdio.h>\n__attribute__((constructor)) static void ran(void) { FILE *f = fopen("${m}", "w"); if (f) { fputs("ran\\n", f); fclose(f); } }\n`,
      }),
      directive: "cargo:rustc-env=LD_PRELOAD=OUT/evil.so",
      blocked: "rustc-env=LD_PRELOAD=",
    },
  ];

  it.each(cases)("$what: runs under plain cargo, blocked under cratebox", async ({ planted, directive, blocked }) => {
    const dir = tempDir();
    const plainMarker = path.join(dir, "plain-ran");
    const plain = await plainCargo(["build"], escapeWorkspace(plainMarker, planted(plainMarker), directive), testEnv(fake));
    expect(plain.code, plain.output).toBe(0);
    expect(existsSync(plainMarker)).toBe(true); // the host ran the build script's file

    const boxedMarker = path.join(dir, "boxed-ran");
    const res = await cratebox(["build"], escapeWorkspace(boxedMarker, planted(boxedMarker), directive), testEnv(fake));
    expect(res.code).toBe(101);
    expect(existsSync(boxedMarker)).toBe(false);
    expect(res.stderr).toContain(`cratebox: blocked \`${blocked}`);
    expect(res.stderr).toMatch(/was stopped: it printed directives the host would act on, kept from cargo/);
    expect(res.stderr).toMatch(/grant them in cratebox\.toml: \[build\.app\] version = "=0\.1\.0" source = "path" directives = \[/);
  });

  it("a directives grant lets an intended one through, to the linker inside the compiler's sandbox", async () => {
    // Relative to the linker's working directory (the workspace root): the compiler's output
    // directory, the one place its sandbox may write.
    const marker = "target/debug/deps/granted-ran";
    const ws = escapeWorkspace(marker, plantedCollect2(marker), "cargo:rustc-link-arg=-BOUT");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(path.join(ws, "cratebox.toml"), 'version = 1\n[build.app]\nsource = "path"\ndirectives = ["rustc-link-arg=-B*"]\n');
    const res = await cratebox(["build"], ws, testEnv(fake));
    expect(res.code, res.output).toBe(0);
    // The granted -B reached the linker: the planted collect2 ran, in the sandbox of app's rustc call.
    expect(existsSync(path.join(ws, marker))).toBe(true);
  });
});
