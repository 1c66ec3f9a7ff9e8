/**
 * What a dependency runs while your code compiles: its proc macros (inside rustc and rustdoc),
 * and what it pulls into the artifacts (include_str!, option_env!). Each attack runs first under
 * plain cargo, where it must WORK, then under cratebox, where it must be STOPPED, each in its
 * own copy of the registry, workspace, fake HOME and target directory.
 *
 * The macro (test/fixtures/crates/evil-macro-0.1.0) comes re-exported through another crate
 * (evil-facade), as serde_derive comes through serde: the program's rustc call names only
 * evil-facade's rlib. It also has an `.init_array` constructor, which runs when rustc merely
 * loads it.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { toBuildScriptShim } from "../../src/core/shim.ts";
import { listen, type Listener } from "../helpers/listener.ts";
import { cratebox, type FakeHome, makeFakeHome, plainCargo, type RunResult, testEnv } from "../helpers/run.ts";
import { makeRegistry, makeWorkspace } from "../helpers/workspace.ts";

type Mode = "plain" | "boxed";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await Promise.resolve(fn()).catch(() => {});
});
const track = (dir: string) => {
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};
const rand = () => randomBytes(10).toString("hex");

interface Side {
  ws: string;
  fake: FakeHome;
  env: Record<string, string>;
  secrets: { ssh: string; credentials: string; github: string };
  onExpand: Listener;
  onLoad: Listener;
  marker: string;
  build: (args?: string[]) => Promise<RunResult>;
}

const VICTIM = {
  "victim/Cargo.toml": '[package]\nname = "victim"\nversion = "0.1.0"\nedition = "2021"\nbuild = "build.rs"\n',
  // Reruns (without a recompile) when trigger.txt changes: cargo then executes the compiled script as it is.
  "victim/build.rs": 'fn main() { println!("cargo:rerun-if-changed=trigger.txt"); }\n',
  "victim/trigger.txt": "0\n",
  "victim/src/lib.rs": "pub fn id() -> u8 { 7 }\n",
};

/** A workspace whose program derives the macro through evil-facade, armed with the full plan; a second crate with a build script to clobber. */
async function side(mode: Mode, backend?: "bwrap" | "docker"): Promise<Side> {
  const registry = makeRegistry(["evil-macro-0.1.0", "evil-facade-0.1.0"]);
  track(registry.dir);
  const fake = makeFakeHome();
  track(fake.home);
  const secrets = { ssh: `ssh-${rand()}`, credentials: `cio-${rand()}`, github: `ghp_${rand()}` };
  mkdirSync(path.join(fake.home, ".ssh"), { recursive: true });
  writeFileSync(path.join(fake.home, ".ssh/id_ed25519"), secrets.ssh);
  writeFileSync(path.join(fake.cargoHome, "credentials.toml"), `[registry]\ntoken = "${secrets.credentials}"\n`);
  const ws = track(
    makeWorkspace({
      registry: registry.dir,
      dependencies: ['evil-facade = "0.1"', 'victim = { path = "victim" }'],
      files: { ...VICTIM, "src/main.rs": '#[derive(evil_facade::Evil)]\nstruct Probe;\nfn main() { println!("{}", Probe::loot()); let _ = victim::id(); }\n' },
    }),
  );
  const onExpand = await listen();
  const onLoad = await listen();
  cleanups.push(onExpand.close, onLoad.close);
  const marker = path.join(fake.home, "clobbered-script-ran");
  writeFileSync(
    path.join(registry.crate("evil-macro"), "cratebox-attack.txt"),
    [
      "read-home .ssh/id_ed25519",
      "read-home .cargo/credentials.toml",
      "env GITHUB_TOKEN",
      `connect 127.0.0.1:${onExpand.port} expanded`,
      "unix /var/run/docker.sock",
      `clobber ${ws}/target/debug/build ${marker}`,
      "on-load write-home loaded-and-ran.txt constructor",
      `on-load connect 127.0.0.1:${onLoad.port} loaded`,
      "",
    ].join("\n"),
  );
  const env = testEnv(fake, { GITHUB_TOKEN: secrets.github, ...(backend ? { CRATEBOX_BACKEND: backend } : {}) });
  const build = (args: string[] = ["build"]) => (mode === "plain" ? plainCargo(args, ws, env) : cratebox(args, ws, env));
  return { ws, fake, env, secrets, onExpand, onLoad, marker, build };
}

const loot = (s: Side) => execFileSync(path.join(s.ws, "target/debug/app"), { encoding: "utf8", env: {} });

describe("a derive macro re-exported through another crate", () => {
  it("reads the home and the environment, phones home, finds the Docker socket and runs on load under plain cargo", async () => {
    const s = await side("plain");
    const res = await s.build();
    expect(res.code, res.output).toBe(0);
    const got = loot(s);
    expect(got).toContain(`read-home .ssh/id_ed25519 => OK ${s.secrets.ssh}`);
    expect(got).toContain(`read-home .cargo/credentials.toml => OK [registry]`);
    expect(got).toContain(s.secrets.credentials);
    expect(got).toContain(`env GITHUB_TOKEN => OK ${s.secrets.github}`);
    expect(got).toMatch(/connect 127\.0\.0\.1:\d+ expanded => OK connected/);
    expect(s.onExpand.lines).toContain("expanded");
    expect(s.onLoad.lines).toContain("loaded");
    expect(readFileSync(path.join(s.fake.home, "loaded-and-ran.txt"), "utf8")).toContain("constructor");
    if (existsSync("/var/run/docker.sock")) expect(got).toContain("unix /var/run/docker.sock => OK connected");
  });

  it.each(["bwrap", "docker"] as const)(
    "gets nothing under cratebox on %s: no home, no token, no network, no socket, and its constructor runs only in the sandbox",
    async (backend) => {
      const s = await side("boxed", backend);
      const res = await s.build();
      expect(res.code, res.output).toBe(0);
      const got = loot(s);
      for (const secret of Object.values(s.secrets)) expect(got + res.output).not.toContain(secret);
      expect(got).toMatch(/read-home \.ssh\/id_ed25519 => ERR/);
      expect(got).toMatch(/env GITHUB_TOKEN => ERR/);
      expect(got).toMatch(/connect 127\.0\.0\.1:\d+ expanded => ERR/);
      expect(got).toMatch(/unix \/var\/run\/docker\.sock => ERR/);
      expect(s.onExpand.lines).toEqual([]);
      expect(s.onLoad.lines).toEqual([]);
      expect(existsSync(path.join(s.fake.home, "loaded-and-ran.txt"))).toBe(false);
      expect(res.stderr).toMatch(/cratebox: \d+ rustc calls and \d+ build scripts? sandboxed, all passed/);
    },
  );

  it("runs inside rustdoc too: `cargo doc` under plain cargo, nothing under cratebox", async () => {
    const plain = await side("plain");
    expect((await plain.build(["doc"])).code).toBe(0);
    expect(plain.onLoad.lines).toContain("loaded");
    expect(plain.onExpand.lines).toContain("expanded");
    const boxed = await side("boxed");
    const res = await boxed.build(["doc"]);
    expect(res.code, res.output).toBe(0);
    expect(existsSync(path.join(boxed.ws, "target/doc/app/index.html"))).toBe(true);
    expect(boxed.onLoad.lines).toEqual([]);
    expect(boxed.onExpand.lines).toEqual([]);
    expect(existsSync(path.join(boxed.fake.home, "loaded-and-ran.txt"))).toBe(false);
    expect(res.stderr).toMatch(/\d+ rustdoc calls?/);
  });
});

describe("a proc macro that overwrites another crate's build script", () => {
  it("gets its script run on the host by plain cargo's next build", async () => {
    const s = await side("plain");
    expect((await s.build()).code).toBe(0);
    expect(loot(s)).toMatch(/clobber .* => OK replaced [1-9]/);
    writeFileSync(path.join(s.ws, "victim/trigger.txt"), "1\n");
    await s.build();
    expect(readFileSync(s.marker, "utf8")).toContain("ran-on-the-host");
  });

  it("cannot write there under cratebox, and a script planted there never runs on the host", async () => {
    const s = await side("boxed");
    expect((await s.build()).code).toBe(0);
    expect(loot(s)).toMatch(/clobber .* => ERR/);
    const build = path.join(s.ws, "target/debug/build");
    const victimDir = readdirSync(build)
      .map((d) => path.join(build, d))
      .find((d) => existsSync(path.join(d, "build-script-build")) && d.includes("victim-"))!;
    const shim = toBuildScriptShim();
    expect(readFileSync(path.join(victimDir, "build-script-build"), "utf8")).toBe(shim);
    // As a macro of an earlier plain-cargo build could have: a shell script in the shim's place.
    const planted = `#!/bin/sh\necho ran-on-the-host >> ${s.marker}\n`;
    for (const f of readdirSync(victimDir).filter((f) => f === "build-script-build" || /^build_script_build-[0-9a-f]{16}$/.test(f))) {
      rmSync(path.join(victimDir, f));
      writeFileSync(path.join(victimDir, f), planted, { mode: 0o755 });
    }
    writeFileSync(path.join(s.ws, "victim/trigger.txt"), "1\n");
    const again = await s.build();
    expect(again.code, again.output).toBe(0);
    expect(again.stderr).toMatch(/was neither cratebox's shim nor a compiled build script/);
    expect(existsSync(s.marker)).toBe(false);
    expect(statSync(path.join(victimDir, "build-script-build")).size).toBe(Buffer.byteLength(shim));
  });
});

describe("secrets compiled into the artifacts", () => {
  async function leaky(
    mode: Mode,
    main: (home: string) => string,
  ): Promise<{ res: RunResult; ws: string; env: Record<string, string>; token: string; key: string; home: string }> {
    const fake = makeFakeHome();
    track(fake.home);
    const key = `key-${rand()}`;
    const token = `ghp_${rand()}`;
    mkdirSync(path.join(fake.home, ".ssh"), { recursive: true });
    writeFileSync(path.join(fake.home, ".ssh/id_ed25519"), key);
    const registry = makeRegistry();
    track(registry.dir);
    const ws = track(makeWorkspace({ registry: registry.dir, files: { "src/main.rs": main(fake.home) } }));
    const env = testEnv(fake, { GITHUB_TOKEN: token });
    const res = mode === "plain" ? await plainCargo(["build"], ws, env) : await cratebox(["build"], ws, env);
    return { res, ws, env, token, key, home: fake.home };
  }
  const grep = (dir: string, needle: string): string[] =>
    readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => {
      const p = path.join(dir, f);
      return statSync(p).isFile() && readFileSync(p).includes(needle);
    });
  const OPTION_ENV = () => 'fn main() { println!("token={:?}", option_env!("GITHUB_TOKEN")); }\n';

  it("option_env! of a token: in the binary and the dep-info under plain cargo; nowhere under cratebox, and the rebuild stays Fresh", async () => {
    const plain = await leaky("plain", OPTION_ENV);
    expect(plain.res.code).toBe(0);
    expect(execFileSync(path.join(plain.ws, "target/debug/app"), { encoding: "utf8" })).toContain(plain.token);
    expect(grep(path.join(plain.ws, "target"), plain.token).some((f) => f.endsWith(".d"))).toBe(true);

    const boxed = await leaky("boxed", OPTION_ENV);
    expect(boxed.res.code, boxed.res.output).toBe(0);
    expect(execFileSync(path.join(boxed.ws, "target/debug/app"), { encoding: "utf8" })).toBe("token=None\n");
    expect(grep(path.join(boxed.ws, "target"), boxed.token)).toEqual([]);
    const again = await cratebox(["build", "-v"], boxed.ws, boxed.env);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/Fresh app/);
    expect(again.stderr).not.toMatch(/Compiling app/);
  });

  it("include_str! of a home file: compiled in under plain cargo; under cratebox the build stops, naming the file and the grant", async () => {
    const INCLUDE = (home: string) => `fn main() { println!("{}", include_str!("${home}/.ssh/id_ed25519")); }\n`;
    const plain = await leaky("plain", INCLUDE);
    expect(plain.res.code).toBe(0);
    expect(execFileSync(path.join(plain.ws, "target/debug/app"), { encoding: "utf8" })).toContain(plain.key);

    const boxed = await leaky("boxed", INCLUDE);
    expect(boxed.res.code).toBe(101);
    expect(boxed.res.output).not.toContain(boxed.key);
    const file = `${boxed.home}/.ssh/id_ed25519`;
    expect(boxed.res.stderr).toContain(
      `compilation of app 0.1.0 failed in the sandbox; it reads ${file} at compile time (include_str!/include_bytes!), which the sandbox does not show; if it needs it, grant in cratebox.toml: [rustc.app] version = "=0.1.0" source = "path" read = ["${file}"]`,
    );
  });
});

describe("the cargo commands that compile, under cratebox", () => {
  const LIB = [
    "/// Doubles.",
    "///",
    "/// ```",
    "/// assert_eq!(app::double(2), 4);",
    "/// ```",
    "pub fn double(x: i32) -> i32 { x * 2 }",
    "",
    "/// ```",
    '/// assert!(std::env::var("GITHUB_TOKEN").is_err(), "a doctest sees no token");',
    "/// ```",
    "pub fn nothing() {}",
    "",
  ].join("\n");
  async function lib(): Promise<{ ws: string; env: Record<string, string> }> {
    const fake = makeFakeHome();
    track(fake.home);
    const registry = makeRegistry();
    track(registry.dir);
    const ws = track(
      makeWorkspace({ registry: registry.dir, files: { "src/lib.rs": LIB, "src/main.rs": 'fn main() { println!("{}", app::double(21)); }\n' } }),
    );
    return { ws, env: testEnv(fake, { GITHUB_TOKEN: `ghp_${rand()}` }) };
  }

  it("doctests compile and run in rustdoc's sandbox, and pass or fail as under cargo", async () => {
    const { ws, env } = await lib();
    const res = await cratebox(["test", "--doc"], ws, env);
    expect(res.code, res.output).toBe(0);
    expect(res.stdout).toMatch(/test result: ok\. 2 passed/);
    expect(res.stderr).toMatch(/rustdoc call/);
    writeFileSync(path.join(ws, "src/lib.rs"), LIB.replace("assert_eq!(app::double(2), 4)", "assert_eq!(app::double(2), 5)"));
    const failing = await cratebox(["test", "--doc"], ws, env);
    expect(failing.code).toBe(101);
    expect(failing.stdout).toMatch(/test result: FAILED\. 1 passed; 1 failed/);
  });

  it("cargo clippy runs clippy-driver in the sandbox and reports its lints", async () => {
    const { ws, env } = await lib();
    writeFileSync(path.join(ws, "src/main.rs"), 'fn answer() -> i32 { return app::double(21); }\nfn main() { println!("{}", answer()); }\n');
    const res = await cratebox(["clippy"], ws, env);
    expect(res.code, res.output).toBe(0);
    expect(res.stderr).toMatch(/unneeded `return` statement/);
    expect(res.stderr).toMatch(/cratebox: \d+ rustc calls sandboxed, all passed/);
  });

  it("a no-op rebuild runs nothing: every unit Fresh", async () => {
    const { ws, env } = await lib();
    expect((await cratebox(["build"], ws, env)).code).toBe(0);
    const again = await cratebox(["build", "-v"], ws, env);
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/Compiling|Running/);
    expect(again.stderr).toContain("nothing sandboxed: cargo ran no compiler, build script or binary");
  });
});
