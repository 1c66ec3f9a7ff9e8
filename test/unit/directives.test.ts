import { describe, expect, it } from "vitest";
import { checkDirective, parseDirective } from "../../src/core/directives.ts";
import { LineFilter } from "../../src/core/line-filter.ts";

const ctx = { outDir: "/t/debug/build/foo-1/out", granted: [] as string[] };
const passes = (line: string, granted: string[] = []) => checkDirective(line, { ...ctx, granted }).pass;

describe("the directive firewall", () => {
  it.each([
    "cargo:rerun-if-changed=build.rs",
    "cargo::rerun-if-env-changed=FOO",
    "cargo:warning=hello",
    "cargo:rustc-cfg=has_feature",
    "cargo::rustc-check-cfg=cfg(has_feature)",
    "cargo:rustc-link-lib=static=foo",
    "cargo:rustc-link-search=native=/t/debug/build/foo-1/out/lib",
    "cargo:rustc-link-search=/usr/lib/x86_64-linux-gnu",
    "cargo:rustc-flags=-l z -L /usr/lib",
    "cargo:rustc-link-arg=-Wl,--as-needed",
    "cargo:rustc-link-arg=-fuse-ld=lld",
    "cargo:rustc-env=GIT_HASH=abc123",
    "cargo:include=/t/debug/build/foo-1/out/include",
    "cargo::metadata=KEY=VALUE",
    "not a directive at all",
  ])("lets %s through", (line) => expect(passes(line)).toBe(true));

  it.each([
    ["cargo:rustc-link-arg=-B/t/debug/build/foo-1/out", /-B makes the compiler driver run programs/],
    ["cargo::rustc-link-arg-bins=-fuse-ld=/tmp/evil-ld", /-fuse-ld with a path/],
    ["cargo:rustc-link-arg=-fuse-ld=evil", /unknown linker name/],
    ["cargo:rustc-link-arg=-Wl,-plugin=/tmp/x.so", /plugin/],
    ["cargo:rustc-link-arg=-fplugin=/tmp/x.so", /plugin/],
    ["cargo:rustc-link-arg=--sysroot=/tmp/root", /sysroot/],
    ["cargo:rustc-link-arg=-specs=/tmp/x.specs", /specs/],
    ["cargo:rustc-link-arg=-Wl,-T,/tmp/x.ld", /linker script/],
    ["cargo:rustc-link-arg=@/tmp/args", /response file/],
    ["cargo:rustc-link-arg-bin=app=-B/tmp", /-B/],
    ["cargo:rustc-cdylib-link-arg=-B/tmp", /-B/],
    ["cargo:rustc-link-search=native=/home/u/.ssh", /search path outside/],
    ["cargo:rustc-flags=-L /opt/evil", /search path outside/],
    ["cargo:rustc-flags=-C link-arg=-B/tmp", /only -l and -L/],
    ["cargo:rustc-env=LD_PRELOAD=/t/debug/build/foo-1/out/evil.so", /LD_PRELOAD would steer/],
    ["cargo:rustc-env=RUSTC_BOOTSTRAP=1", /RUSTC_BOOTSTRAP/],
    ["cargo:rustc-env=PATH=/tmp", /PATH/],
    ["cargo::some-future-directive=x", /does not know yet/],
  ])("blocks %s", (line, reason) => {
    const v = checkDirective(line, ctx);
    expect(v.pass).toBe(false);
    if (!v.pass) expect(v.blocked.reason).toMatch(reason);
  });

  it("a `directives` grant lets exactly the matching directives through", () => {
    expect(passes("cargo:rustc-link-arg=-Wl,-T,/src/foo/memory.x", ["rustc-link-arg=-Wl,-T,*"])).toBe(true);
    expect(passes("cargo:rustc-link-arg=-B/tmp", ["rustc-link-arg=-Wl,-T,*"])).toBe(false);
    expect(passes("cargo:rustc-env=RUSTC_BOOTSTRAP=1", ["rustc-env=RUSTC_BOOTSTRAP=1"])).toBe(true);
  });

  it("parses both syntaxes", () => {
    expect(parseDirective("cargo::rustc-env=A=B")).toEqual({ key: "rustc-env", value: "A=B", syntax: "new" });
    expect(parseDirective("cargo:root=/x")).toEqual({ key: "root", value: "/x", syntax: "old" });
  });
});

describe("LineFilter", () => {
  it("keeps whole lines in order across chunk boundaries and checks a last partial line", () => {
    const out: string[] = [];
    const f = new LineFilter(
      (l) => !l.includes("bad"),
      (c) => out.push(c.toString()),
    );
    f.push(Buffer.from("one\nba"));
    f.push(Buffer.from("d\ntwo\nthr"));
    f.push(Buffer.from("ee"));
    f.end();
    expect(out).toEqual(["one\n", "two\n", "three"]);
  });
});

describe("dynamic libraries from OUT_DIR", () => {
  it("recognises dynamic links and search paths into OUT_DIR", async () => {
    const { dynamicLibOf, searchPathInOutDir } = await import("../../src/core/directives.ts");
    expect(dynamicLibOf("rustc-link-lib", "evil")).toBe("evil");
    expect(dynamicLibOf("rustc-link-lib", "dylib=evil")).toBe("evil");
    expect(dynamicLibOf("rustc-link-lib", "static=evil")).toBeUndefined();
    expect(searchPathInOutDir("rustc-link-search", "native=/t/debug/build/foo-1/out/lib", "/t/debug/build/foo-1/out")).toBe("/t/debug/build/foo-1/out/lib");
    expect(searchPathInOutDir("rustc-link-search", "/usr/lib", "/t/debug/build/foo-1/out")).toBeUndefined();
  });
  it("blocks leading whitespace and new link-argument classes", () => {
    expect(passes("   cargo:rustc-env=LD_PRELOAD=/x.so")).toBe(false);
    expect(passes("\tcargo::rustc-link-arg=-B/tmp")).toBe(false);
    for (const arg of ["-wrapper", "-o", "/home/u/.cargo/bin/rustc", "-Wl,-o,/tmp/x", "-save-temps=obj"]) {
      const blocked = !passes(`cargo:rustc-link-arg=${arg}`);
      expect(blocked || arg.startsWith("/"), arg).toBe(true);
    }
  });
});

describe("DirectiveGate", () => {
  it("relays kept lines, records what it kept back and the variables asked for, and catches an OUT_DIR dylib at the end", async () => {
    const { DirectiveGate } = await import("../../src/core/directive-gate.ts");
    const out: string[] = [];
    const outDir = "/t/debug/build/foo-1/out";
    const gate = new DirectiveGate(outDir, [], (c) => out.push(c.toString()));
    gate.push(
      Buffer.from(`cargo:rerun-if-env-changed=FOO_DIR\ncargo:rustc-link-search=native=${outDir}\ncargo:rustc-link-lib=evil\ncargo:rustc-env=LD_PRELOAD=x\n`),
    );
    gate.end((f) => f === `${outDir}/libevil.so`);
    expect(out.join("")).toBe(`cargo:rerun-if-env-changed=FOO_DIR\ncargo:rustc-link-search=native=${outDir}\ncargo:rustc-link-lib=evil\n`);
    expect([...gate.askedEnv]).toEqual(["FOO_DIR"]);
    expect(gate.blocked.map((b) => b.directive)).toEqual(["rustc-env=LD_PRELOAD=x", "rustc-link-lib=evil"]);
  });
});
