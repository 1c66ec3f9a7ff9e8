/**
 * `cratebox learn`: a build script that needs a variable and a directory outside the workspace
 * fails under the default; learn mode traces it, proposes exactly those two grants (pinned),
 * leaves a probe that tolerated failure out, applies nothing; the proposal, applied, builds.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cratebox, makeFakeHome, testEnv } from "../helpers/run.ts";
import { makeRegistry, makeWorkspace, tempDir } from "../helpers/workspace.ts";

describe("learn mode", () => {
  it("proposes the minimal pinned grant that makes a failing build pass", async () => {
    const sdk = path.join(tempDir("cratebox-sdk-"), "sdk");
    mkdirSync(sdk, { recursive: true });
    writeFileSync(path.join(sdk, "version.txt"), "4.2\n");
    const optional = path.join(tempDir("cratebox-opt-"), "optional.conf"); // exists on the host too
    writeFileSync(optional, "x\n");
    const buildRs = `
fn main() {
    println!("cargo:rerun-if-env-changed=MY_SDK_DIR");
    // A probe that tolerates failure: an optional config file.
    let _ = std::fs::read_to_string(${JSON.stringify(optional)});
    let dir = std::env::var("MY_SDK_DIR").expect("MY_SDK_DIR must be set");
    let v = std::fs::read_to_string(format!("{dir}/version.txt")).expect("the SDK must be readable");
    println!("cargo:rustc-env=SDK_VERSION={}", v.trim());
}
`;
    const ws = makeWorkspace({
      registry: makeRegistry().dir,
      files: {
        "build.rs": buildRs,
        "src/main.rs": 'fn main() { println!("{}", env!("SDK_VERSION")); }\n',
        "cratebox.toml": "# reviewed grants\nversion = 1\n",
      },
    });
    const env = testEnv(makeFakeHome(), { MY_SDK_DIR: sdk });

    const denied = await cratebox(["build"], ws, env);
    expect(denied.code).toBe(101);

    // The script stops at its first missing grant, so each learn run reveals the next one.
    const proposedFile = path.join(ws, "cratebox.toml.proposed");
    const learned = await cratebox(["build"], ws, env, ["learn"]);
    expect(learned.code).toBe(101); // learn applies nothing: the build still fails
    expect(learned.stderr).toContain(`written to ${proposedFile}; nothing was applied`);
    expect(readFileSync(path.join(ws, "cratebox.toml"), "utf8")).toBe("# reviewed grants\nversion = 1\n");
    expect(readFileSync(proposedFile, "utf8")).toContain('env = ["MY_SDK_DIR"]');
    renameSync(proposedFile, path.join(ws, "cratebox.toml"));

    const again = await cratebox(["build"], ws, env, ["learn"]);
    expect(again.code).toBe(101);
    const proposed = readFileSync(proposedFile, "utf8");
    // exactly the variable and the file it read (not its directory), pinned; nothing for the tolerated probe
    expect(proposed).toMatch(/\n\[build\.app\]\nversion = "=0\.1\.0"\nsource = "path"\nenv = \["MY_SDK_DIR"\]\nread = \[".*\/sdk\/version\.txt"\]\n$/);
    expect(proposed).toContain(`read = ["${sdk}/version.txt"]`);
    expect(proposed).not.toContain(path.dirname(optional));
    expect(again.stderr).toMatch(/also tried \(not proposed\): read .*optional\.conf/); // the probe: shown, not proposed
    renameSync(proposedFile, path.join(ws, "cratebox.toml"));
    const granted = await cratebox(["build"], ws, env);
    expect(granted.code, granted.output).toBe(0);
    expect(existsSync(path.join(ws, "target/debug/app"))).toBe(true);
  });
});

describe("learn mode and the directive firewall", () => {
  it("proposes the directives the firewall kept back, pinned", async () => {
    const libs = tempDir("cratebox-libs-");
    const ws = makeWorkspace({ registry: makeRegistry().dir, files: { "build.rs": `fn main() { println!("cargo:rustc-link-search=native=${libs}"); }\n` } });
    const env = testEnv(makeFakeHome());
    const res = await cratebox(["build"], ws, env, ["learn"]);
    expect(res.code).toBe(101);
    expect(res.stderr).toContain(`proposing directive rustc-link-search=native=${libs}`);
    const proposed = readFileSync(path.join(ws, "cratebox.toml.proposed"), "utf8");
    expect(proposed).toContain(`[build.app]\nversion = "=0.1.0"\nsource = "path"\ndirectives = ["rustc-link-search=native=${libs}"]\n`);
    renameSync(path.join(ws, "cratebox.toml.proposed"), path.join(ws, "cratebox.toml"));
    expect((await cratebox(["build"], ws, env)).code).toBe(0);
  });
});

describe("learn mode on a crate using the real pkg-config crate", () => {
  it("learns PKG_CONFIG_PATH, the .pc directory and the library search path, then builds", async () => {
    const reg = makeRegistry(["pc-probe-0.1.0"]);
    const prefix = tempDir("cratebox-cbxdemo-");
    mkdirSync(path.join(prefix, "pc"), { recursive: true });
    mkdirSync(path.join(prefix, "lib"), { recursive: true });
    writeFileSync(
      path.join(prefix, "pc/cbxdemo.pc"),
      `Name: cbxdemo\nDescription: zlib under another name\nVersion: 1.0\nLibs: -L${prefix}/lib -lz\nCflags:\n`,
    );
    const ws = makeWorkspace({
      registry: reg.dir,
      dependencies: ['pc-probe = "0.1"'],
      files: { "src/main.rs": 'fn main() { println!("{}", pc_probe::version()); }\n' },
    });
    const env = testEnv(makeFakeHome(), { PKG_CONFIG_PATH: path.join(prefix, "pc") });
    const proposedFile = path.join(ws, "cratebox.toml.proposed");
    const learned: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await cratebox(["build"], ws, env, ["learn"]);
      if (res.code === 0) break;
      expect(existsSync(proposedFile), res.output).toBe(true);
      learned.push(/proposing ([^;\n]+)/.exec(res.stderr)?.[1] ?? "?");
      renameSync(proposedFile, path.join(ws, "cratebox.toml"));
    }
    expect(learned).toEqual(["env PKG_CONFIG_PATH", `read ${prefix}/pc`, `directive rustc-link-search=native=${prefix}/lib`]);
    const final = await cratebox(["build"], ws, env);
    expect(final.code, final.output).toBe(0);
    expect(readFileSync(path.join(ws, "cratebox.toml"), "utf8")).toMatch(
      new RegExp(
        `\\[build\\.pc-probe\\]\\nversion = "=0\\.1\\.0"\\nchecksum = "sha256:0+c2"\\nenv = \\["PKG_CONFIG_PATH"\\]\\nread = \\["${prefix.replace(/[/.]/g, "\\$&")}/pc"\\]\\ndirectives = \\["rustc-link-search=native=${prefix.replace(/[/.]/g, "\\$&")}/lib"\\]\\n$`,
      ),
    );
  });
});

describe("learn mode and the network", () => {
  it("proposes the host a build script asked for through the proxy, by name and port; the proposal, applied, builds", async () => {
    // A loopback HTTP server this test starts; at most 20 connections, closed at the end.
    const { createServer } = await import("node:http");
    const server = createServer((_req, res) => res.writeHead(200, { "content-length": "7" }).end("schema\n"));
    server.maxConnections = 20;
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as { port: number }).port;
    try {
      // A std-only client that honours http_proxy, as curl, reqwest and ureq do; fails unless 200.
      const buildRs = `
use std::io::{Read, Write};
fn main() {
    let url = "http://127.0.0.1:${port}/schema";
    let via = std::env::var("http_proxy").ok().map(|p| p.trim_start_matches("http://").trim_end_matches('/').to_string());
    let (to, target) = match via { Some(p) => (p, url.to_string()), None => ("127.0.0.1:${port}".to_string(), "/schema".to_string()) };
    let mut s = std::net::TcpStream::connect(to).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    write!(s, "GET {target} HTTP/1.1\\r\\nHost: 127.0.0.1:${port}\\r\\nConnection: close\\r\\n\\r\\n").unwrap();
    let mut answer = String::new();
    let _ = s.take(65536).read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "download failed: {answer}");
}
`;
      const ws = makeWorkspace({
        registry: makeRegistry().dir,
        files: { "build.rs": buildRs, "src/main.rs": "fn main() {}\n", "cratebox.toml": "version = 1\n" },
      });
      const env = testEnv(makeFakeHome());
      const learned = await cratebox(["build"], ws, env, ["learn"]);
      expect(learned.code).toBe(101);
      expect(learned.stderr).toContain(`proposing network 127.0.0.1:${port}`);
      const proposedFile = path.join(ws, "cratebox.toml.proposed");
      expect(readFileSync(proposedFile, "utf8")).toMatch(
        new RegExp(`\\[build\\.app\\]\\nversion = "=0\\.1\\.0"\\nsource = "path"\\nnetwork = \\["127\\.0\\.0\\.1:${port}"\\]\\n$`),
      );
      renameSync(proposedFile, path.join(ws, "cratebox.toml"));
      const granted = await cratebox(["build"], ws, env);
      expect(granted.code, granted.output).toBe(0);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
