import { describe, expect, it } from "vitest";
import { encodeFrame, FrameDecoder, FRAME_EXIT, FRAME_STDOUT } from "../../src/core/protocol.ts";
import { isBuildScriptBinaryName, isShim, shQuote, toBuildScriptShim } from "../../src/core/shim.ts";
import { toImageTag } from "../../src/core/image-tag.ts";

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
  it("is recognisable, quotes the real name, and fails closed outside cratebox", () => {
    const text = toBuildScriptShim("build_script_build-0123456789abcdef.cratebox-real");
    expect(isShim(text)).toBe(true);
    expect(text).toContain(`real="\${0%/*}/"'build_script_build-0123456789abcdef.cratebox-real'`);
    expect(text).toContain("exit 101");
    expect(text).toContain("CRATEBOX_ALLOW_UNSANDBOXED");
    expect(shQuote("it's")).toBe(`'it'\\''s'`);
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
