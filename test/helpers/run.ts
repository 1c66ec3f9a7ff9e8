/**
 * Running plain cargo and cratebox the same way, in a throwaway environment the test plants:
 * a fake HOME and CARGO_HOME (so no test ever reads the real home), the real toolchain through
 * RUSTUP_HOME, and only the variables a test adds.
 */
import { execFileSync } from "node:child_process";
import { execa } from "execa";
import { mkdirSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { ROOT, tempDir } from "./workspace.ts";

export const CRATEBOX = path.join(ROOT, "bin/cratebox");
const REAL_RUSTUP_HOME = process.env.RUSTUP_HOME ?? path.join(homedir(), ".rustup");
const REAL_CARGO_BIN = path.join(process.env.CARGO_HOME ?? path.join(homedir(), ".cargo"), "bin");

export interface FakeHome {
  home: string;
  cargoHome: string;
}

export function makeFakeHome(): FakeHome {
  const home = tempDir("cratebox-home-");
  const cargoHome = path.join(home, ".cargo");
  mkdirSync(cargoHome, { recursive: true });
  return { home, cargoHome };
}

export function testEnv(fake: FakeHome, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: `${REAL_CARGO_BIN}:/usr/local/bin:/usr/bin:/bin`,
    HOME: fake.home,
    CARGO_HOME: fake.cargoHome,
    RUSTUP_HOME: REAL_RUSTUP_HOME,
    XDG_CACHE_HOME: path.join(fake.home, ".cache"),
    CARGO_TERM_COLOR: "never",
    // The suite's private TMPDIR (scripts/test): what cratebox leaves there fails the suite.
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    // Node's compile cache for cratebox under test: where scripts/test keeps it (its default is TMPDIR).
    ...(process.env.NODE_COMPILE_CACHE ? { NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE } : {}),
    ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
    ...extra,
  };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  output: string;
}

async function run(file: string, args: string[], cwd: string, env: Record<string, string>, timeoutMs: number): Promise<RunResult> {
  const res = await execa(file, args, { cwd, env, extendEnv: false, reject: false, all: true, timeout: timeoutMs, stdin: "ignore" });
  return { code: res.exitCode ?? -1, stdout: res.stdout, stderr: res.stderr, output: res.all ?? "" };
}

export function plainCargo(args: string[], cwd: string, env: Record<string, string>, timeoutMs = 240_000): Promise<RunResult> {
  return run("cargo", args, cwd, env, timeoutMs);
}

/** `cratebox [crateboxArgs] cargo <args>`. */
export function cratebox(args: string[], cwd: string, env: Record<string, string>, crateboxArgs: string[] = [], timeoutMs = 240_000): Promise<RunResult> {
  // `learn` is a command before `cargo`; options may come first.
  return run(CRATEBOX, [...crateboxArgs, "cargo", ...args], cwd, env, timeoutMs);
}

/** git in a test's own repository, as a fixed committer, without signing. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false", ...args], { cwd, encoding: "utf8" });
}
