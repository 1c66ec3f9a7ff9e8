/**
 * Throwaway cargo workspaces for the tests, built from real crates: Debian's crate sources
 * (/usr/share/cargo/registry) and the fixture crates in test/fixtures/crates, served together as
 * one local directory source that replaces crates.io. Fixture crates are copied, so a test may
 * arm an attack crate by writing its plan file into the copy.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const DEBIAN_REGISTRY = "/usr/share/cargo/registry";
const FIXTURE_CRATES = path.join(ROOT, "test/fixtures/crates");

const created: string[] = [];

/** A fresh temp directory, removed after the test file (test/helpers/cleanup.ts). */
export function tempDir(prefix = "cratebox-test-"): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/** Removes every directory tempDir made in this test file (CRATEBOX_TEST_KEEP=1 keeps them to look at). */
export function removeTempDirs(): void {
  for (const dir of created.splice(0)) if (!process.env.CRATEBOX_TEST_KEEP) rmSync(dir, { recursive: true, force: true });
}

/**
 * A directory source with every Debian crate (linked) and the named fixture crates (copied).
 * Returns its path and where each fixture copy is.
 */
export function makeRegistry(fixtures: string[] = []): { dir: string; crate: (name: string) => string } {
  const dir = tempDir("cratebox-registry-");
  for (const name of readdirSync(DEBIAN_REGISTRY)) symlinkSync(path.join(DEBIAN_REGISTRY, name), path.join(dir, name));
  const copies = new Map<string, string>();
  for (const fixture of fixtures) {
    const dest = path.join(dir, fixture);
    cpSync(path.join(FIXTURE_CRATES, fixture), dest, { recursive: true });
    copies.set(fixture.replace(/-\d+\.\d+\.\d+$/, ""), dest);
  }
  return {
    dir,
    crate: (name) => {
      const p = copies.get(name);
      if (!p) throw new Error(`fixture ${name} not in this registry`);
      return p;
    },
  };
}

export interface WorkspaceSpec {
  name?: string;
  /** `[dependencies]` lines, e.g. `serde = "1"` or `evil = { version = "0.1", features = ["armed"] }`. */
  dependencies?: string[];
  buildDependencies?: string[];
  /** Extra files, path relative to the workspace root -> content. */
  files?: Record<string, string>;
  registry: string;
}

/** A single-package workspace whose dependencies come only from `registry`, offline. */
export function makeWorkspace(spec: WorkspaceSpec): string {
  const dir = tempDir("cratebox-ws-");
  const name = spec.name ?? "app";
  const files: Record<string, string> = {
    "Cargo.toml": [
      "[package]",
      `name = "${name}"`,
      'version = "0.1.0"',
      'edition = "2021"',
      "",
      "[dependencies]",
      ...(spec.dependencies ?? []),
      "",
      "[build-dependencies]",
      ...(spec.buildDependencies ?? []),
      "",
    ].join("\n"),
    "src/main.rs": 'fn main() { println!("hello"); }\n',
    ".cargo/config.toml": [
      "[source.crates-io]",
      'replace-with = "test-registry"',
      "[source.test-registry]",
      `directory = "${spec.registry}"`,
      "[net]",
      "offline = true",
      "",
    ].join("\n"),
    ...spec.files,
  };
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

const FIXTURE_WORKSPACES = path.join(ROOT, "test/fixtures/workspaces");

/** A copy of test/fixtures/workspaces/<name>, wired to `registry` like makeWorkspace. */
export function copyWorkspace(name: string, registry: string): string {
  const dir = tempDir(`cratebox-${name}-`);
  cpSync(path.join(FIXTURE_WORKSPACES, name), dir, { recursive: true });
  mkdirSync(path.join(dir, ".cargo"), { recursive: true });
  writeFileSync(
    path.join(dir, ".cargo/config.toml"),
    `[source.crates-io]\nreplace-with = "test-registry"\n[source.test-registry]\ndirectory = "${registry}"\n[net]\noffline = true\n`,
  );
  return dir;
}
