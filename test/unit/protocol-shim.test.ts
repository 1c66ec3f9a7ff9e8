import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { encodeFrame, FrameDecoder, FRAME_EXIT, FRAME_STDOUT } from "../../src/core/protocol.ts";
import { isBuildScriptBinaryName, isShim, toBuildScriptShim } from "../../src/core/shim.ts";
import { toImageTag } from "../../src/core/image-tag.ts";
import { tempDir } from "../helpers/workspace.ts";

describe("frames", () => {
  it("decode across arbitrary chunk boundaries", () => {
    const a = encodeFrame(FRAME_STDOUT, Buffer.from("cargo:rustc-cfg=x\n"));
    const b = encodeFrame(FRAME_EXIT, Buffer.from('{"code":0}'));
    const all = Buffer.concat([a, b]);
    for (let cut = 0; cut <= all.length; cut++) {
      const d = new FrameDecoder();
      const frames = [...d.push(all.subarray(0, cut)), ...d.push(all.subarray(cut))];
      expect(frames.map((f) => [f.type, Buffer.from(f.payload).toString()])).toEqual([
        [FRAME_STDOUT, "cargo:rustc-cfg=x\n"],
        [FRAME_EXIT, '{"code":0}'],
      ]);
    }
  });
});

describe("shim", () => {
  it("is recognisable, finds the real binary beside itself, and fails closed outside cratebox", () => {
    const text = toBuildScriptShim();
    expect(isShim(text)).toBe(true);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion in the shim's text
    expect(text).toContain('for f in "${0%/*}"/build_script_*.cratebox-real; do');
    expect(text).toContain("exit 101");
    expect(text).toContain("CRATEBOX_ALLOW_UNSANDBOXED");
  });
  it("recognises build-script binaries by rustc's naming", () => {
    expect(isBuildScriptBinaryName("build_script_build-0123456789abcdef")).toBe(true);
    expect(isBuildScriptBinaryName("build_script_build-0123456789abcdef.d")).toBe(false);
    expect(isBuildScriptBinaryName("build-script-build")).toBe(false);
  });
});

describe("toImageTag", () => {
  const entries = [
    { path: "Dockerfile", kind: "file" as const, mode: 0o644, data: "FROM scratch\n" },
    { path: "rootfs", kind: "dir" as const, mode: 0o755, data: "" },
  ];
  it("depends on content, not on directory modes or order", () => {
    const t = toImageTag("sandbox", entries);
    expect(t).toMatch(/^cratebox\/sandbox:[0-9a-f]{16}$/);
    expect(toImageTag("sandbox", [entries[1]!, { ...entries[0]!, mode: 0o664 }])).toBe(t);
    expect(toImageTag("sandbox", [{ ...entries[0]!, data: "FROM scratch\nLABEL x=1\n" }, entries[1]!])).not.toBe(t);
  });
});

describe("the shim as sh runs it", () => {
  const REAL = "build_script_build-0123456789abcdef.cratebox-real";
  /** A fresh build-script directory with the shim and the given real binaries (name -> content). */
  const setup = (reals: Record<string, string>) => {
    const dir = tempDir("cratebox-shim-");
    const shim = path.join(dir, "build-script-build");
    writeFileSync(shim, toBuildScriptShim(), { mode: 0o755 });
    for (const [name, text] of Object.entries(reals)) writeFileSync(path.join(dir, name), text, { mode: 0o755 });
    const run = (env: Record<string, string> = {}) => spawnSync(shim, [], { env: { PATH: "/usr/bin:/bin", CARGO_PKG_NAME: "foo", ...env }, encoding: "utf8" });
    return { dir, run };
  };

  it("fails closed when the real binary is missing", () => {
    const r = setup({}).run({ CRATEBOX_ALLOW_UNSANDBOXED: "1" });
    expect(r.status).toBe(101);
    expect(r.stderr).toContain("the real build script next to");
  });
  it("outside a cratebox run refuses, unless explicitly allowed", () => {
    const { run } = setup({ [REAL]: "#!/bin/sh\necho real-ran\n" });
    expect(run().status).toBe(101);
    expect(run().stderr).toContain("foo  was compiled under cratebox and runs only in its sandbox");
    expect(run({ CRATEBOX_ALLOW_UNSANDBOXED: "1" }).stdout).toBe("real-ran\n");
  });
  it("inside a run hands the real binary to the client", () => {
    const { dir, run } = setup({ [REAL]: "#!/bin/sh\necho real-ran\n" });
    const r = run({ CRATEBOX_SOCKET: "/s", CRATEBOX_NODE: "/bin/echo", CRATEBOX_CLIENT: "client" });
    expect(r.stdout).toBe(`client ${dir}/${REAL}\n`);
  });
  it("fails closed when two binaries claim the directory", () => {
    const { run } = setup({ [REAL]: "#!/bin/sh\necho real-ran\n", "build_script_other-0123456789abcdef.cratebox-real": "" });
    expect(run({ CRATEBOX_ALLOW_UNSANDBOXED: "1" }).stderr).toContain("more than one build script binary");
  });
});
