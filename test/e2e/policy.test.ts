/**
 * Organisation policies in real runs: ceilings bind in real containers, a denial stops the run
 * citing the policy's message and file, policies from --policy, CRATEBOX_POLICY and
 * cratebox.toml compose, and a hostile policy ends the run cleanly before anything builds.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { CRATEBOX, cratebox, makeFakeHome, testEnv } from "../helpers/run.ts";
import { makeRegistry, makeWorkspace, ROOT, tempDir } from "../helpers/workspace.ts";

const registry = makeRegistry(["evil-build-0.1.0"]);
const probe = registry.crate("evil-build");
const fake = makeFakeHome();
const env = testEnv(fake, { GRANTED_VAR: "granted-value" });

// The probe crate's grant: env, network and a generous memory limit.
const GRANTS = `version = 1\n[build.evil-build]\nversion = "=0.1.0"\nenv = ["GRANTED_VAR"]\nnetwork = true\nmemory = "2GiB"\n`;

function workspace(plan: string[], toml = GRANTS): string {
  writeFileSync(path.join(probe, "cratebox-attack.txt"), `${plan.join("\n")}\n`);
  return makeWorkspace({ registry: registry.dir, dependencies: ['evil-build = "0.1"'], files: { "cratebox.toml": toml } });
}

function policyFile(body: string): string {
  const file = path.join(tempDir("cratebox-policy-"), "policy.js");
  writeFileSync(file, body);
  return file;
}

function loot(ws: string): string {
  const build = path.join(ws, "target/debug/build");
  const dir = readdirSync(build).find((d) => d.startsWith("evil-build-") && existsSync(path.join(build, d, "out/loot.txt")))!;
  return readFileSync(path.join(build, dir, "out/loot.txt"), "utf8");
}

describe("policy ceilings in real containers", () => {
  it("the shipped no-network policy and an env ceiling take away what cratebox.toml granted", async () => {
    const ws = workspace(["env GRANTED_VAR", "netifs"]);
    const ceiling = policyFile(
      'function policy() { return [{ crate: "*", phase: "*", action: "cap", caps: { env: ["CC", "CFLAGS"] }, rule: "known-env" }]; }\n',
    );
    const res = await cratebox(["build"], ws, env, ["--policy", path.join(ROOT, "profiles/policies/no-network.js"), "--policy", ceiling]);
    expect(res.code, res.output).toBe(0);
    expect(loot(ws)).toMatch(/env GRANTED_VAR => ERR/);
    expect(loot(ws)).toMatch(/netifs => OK \[lo\]$/m);
    const explain = await execa(CRATEBOX, ["profiles", "explain", "evil-build", "--policy", ceiling], { cwd: ws, env, extendEnv: false, reject: false });
    expect(explain.stdout).toMatch(/policy {3}env: .*GRANTED_VAR.*\(rule known-env, .*policy\.js\)/);
  });

  it("a limit ceiling binds: the step is killed at the policy's memory limit, not the grant's", async () => {
    const ws = workspace(["alloc 1024"]);
    const cap = policyFile(
      'function policy() { return [{ crate: "*", phase: "build", action: "cap", caps: { memoryBytes: 256 * 1024 * 1024 }, rule: "small" }]; }\n',
    );
    const res = await cratebox(["build"], ws, testEnv(fake, { CRATEBOX_POLICY: cap }));
    expect(res.code).toBe(101);
    expect(res.stderr).toContain("build script of evil-build 0.1.0 was killed: memory limit of 256 MiB reached");
  });
});

describe("refusals and requirements stop the run before anything builds", () => {
  it("cites the policy's message and file; policies from every source compose", async () => {
    const deny = policyFile(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the policy's own JavaScript source
      'function policy(input) { return input.crates.filter((c) => c.requested.build && c.requested.build.network).map((c) => ({ crate: c.name, phase: "build", action: "deny", rule: "no-net", message: `${c.name} may not have network` })); }\n',
    );
    const pins = path.join(ROOT, "profiles/policies/pins-required.js");
    const ws = workspace([], GRANTS.replace("[build.evil-build]", `policy = ["${pins}"]\n[build.evil-build]`));
    const res = await cratebox(["build"], ws, testEnv(fake, { CRATEBOX_POLICY: deny }));
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`evil-build 0.1.0 build script: denied by ${deny} (rule no-net): evil-build may not have network`);
    expect(res.stderr).toMatch(new RegExp(`evil-build 0\\.1\\.0 build script: ${pins.replace(/[/.]/g, "\\$&")} \\(rule [^)]+\\) requires .*checksum`));
    expect(existsSync(path.join(ws, "target/debug/build"))).toBe(false);

    const test = await execa(CRATEBOX, ["policy", "test", deny, "--workspace", ws], { env, extendEnv: false, reject: false });
    expect(test.exitCode).toBe(1);
    expect(test.stdout).toMatch(/build script {2}evil-build 0\.1\.0 {2}STOPS THE RUN/);
  });

  it.each([
    ["an endless loop", "function policy() { for (;;) {} }", /policy\.js.*(time|timed out)/i],
    ["an allocation bomb", "function policy() { const a = []; for (;;) a.push(new Array(1e7).fill(1)); }", /policy\.js.*memory/i],
    [
      "reaching for the host",
      "function policy() { return [{ crate: process.env.HOME, phase: 'build', action: 'allow' }]; }",
      /policy\.js.*process is not defined/,
    ],
    ["malformed decisions", "function policy() { return [{ crate: 'x', action: 'grant-everything' }]; }", /policy\.js/],
  ])("%s ends in a clean error, exit 2", async (_what, body, message) => {
    const ws = workspace([]);
    const res = await cratebox(["build"], ws, env, ["--policy", policyFile(`${body}\n`)]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(message);
    expect(res.stderr).not.toMatch(/internal error/);
    expect(existsSync(path.join(ws, "target/debug/build"))).toBe(false);
  });
});
