/**
 * A local registry the review tests build themselves (cargo's `local-registry` layout): each
 * crate written from a small spec, packed with `cargo package --offline --no-verify`, its
 * `.crate` next to `index/`, and an index line carrying its `cksum` and `pubtime`. Packed in
 * dependency order, so cargo resolves each package's own dependencies from the same registry.
 */
import { createHash } from "node:crypto";
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { indexPath } from "../../src/core/review/index-entry.ts";

export interface CrateSpec {
  name: string;
  version: string;
  /** Extra [package] lines, e.g. `links = "x"`. */
  package?: string[];
  lib?: string[];
  dependencies?: Record<string, string>;
  buildDependencies?: Record<string, string>;
  /** Files besides Cargo.toml; src/lib.rs defaults to an empty library. */
  files?: Record<string, string>;
  /** Files to mark executable. */
  executable?: string[];
  /** The index's pubtime; undefined: the line has none. */
  pubtime?: string;
}

export interface BuiltRegistry {
  dir: string;
  /** Path of a packed .crate. */
  crate(name: string, version: string): string;
  checksum(name: string, version: string): string;
}

/** A CARGO_HOME whose cargo reads crates.io's packages from the local registry `dir`, offline. */
export function useLocalRegistry(cargoHome: string, dir: string): void {
  writeFileSync(
    path.join(cargoHome, "config.toml"),
    `[source.crates-io]\nreplace-with = "fixtures"\n[source.fixtures]\nlocal-registry = "${dir}"\n[net]\noffline = true\n`,
  );
}

/** `env` must make cargo read this registry (a CARGO_HOME whose config.toml points at `dir`). */
export async function buildRegistry(dir: string, work: string, specs: CrateSpec[], env: Record<string, string>): Promise<BuiltRegistry> {
  mkdirSync(path.join(dir, "index"), { recursive: true });
  const sums = new Map<string, string>();
  for (const spec of specs) {
    const src = path.join(work, `${spec.name}-${spec.version}`);
    const dep = (deps: Record<string, string> | undefined) => Object.entries(deps ?? {}).map(([n, v]) => `${n} = "${v}"`);
    const files: Record<string, string> = {
      "Cargo.toml": [
        "[package]",
        `name = "${spec.name}"`,
        `version = "${spec.version}"`,
        'edition = "2021"',
        'description = "a review fixture"',
        'license = "MIT"',
        ...(spec.package ?? []),
        "",
        "[lib]",
        ...(spec.lib ?? []),
        "",
        "[dependencies]",
        ...dep(spec.dependencies),
        "",
        "[build-dependencies]",
        ...dep(spec.buildDependencies),
        "",
      ].join("\n"),
      "src/lib.rs": "",
      ...spec.files,
    };
    for (const [rel, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(src, rel)), { recursive: true });
      writeFileSync(path.join(src, rel), text, { mode: spec.executable?.includes(rel) ? 0o755 : 0o644 });
    }
    const target = path.join(work, "target");
    const res = await execa("cargo", ["package", "--offline", "--no-verify", "--allow-dirty", "--quiet"], {
      cwd: src,
      env: { ...env, CARGO_TARGET_DIR: target },
      extendEnv: false,
      reject: false,
    });
    if (res.exitCode !== 0) throw new Error(`cargo package ${spec.name} ${spec.version}: ${res.stderr}`);
    sums.set(`${spec.name} ${spec.version}`, registerCrate(dir, spec, path.join(target, "package", `${spec.name}-${spec.version}.crate`)));
  }
  return {
    dir,
    crate: (name, version) => path.join(dir, `${name}-${version}.crate`),
    checksum: (name, version) => sums.get(`${name} ${version}`)!,
  };
}

/** Puts a packed .crate into the local registry `dir` with its index line; returns its checksum. */
export function registerCrate(dir: string, spec: CrateSpec, packed: string): string {
  mkdirSync(path.join(dir, "index"), { recursive: true });
  const file = path.join(dir, `${spec.name}-${spec.version}.crate`);
  copyFileSync(packed, file);
  const cksum = createHash("sha256").update(readFileSync(file)).digest("hex");
  addIndexLine(dir, spec, cksum);
  return cksum;
}

function addIndexLine(dir: string, spec: CrateSpec, cksum: string): void {
  const deps = (kind: "normal" | "build", list: Record<string, string> | undefined) =>
    Object.entries(list ?? {}).map(([name, req]) => ({ name, req: `^${req}`, features: [], optional: false, default_features: true, target: null, kind }));
  const line = {
    name: spec.name,
    vers: spec.version,
    deps: [...deps("normal", spec.dependencies), ...deps("build", spec.buildDependencies)],
    cksum,
    features: {},
    yanked: false,
    ...(spec.package?.some((l) => l.startsWith("links")) ? { links: /"(.*)"/.exec(spec.package.find((l) => l.startsWith("links"))!)![1] } : {}),
    ...(spec.pubtime ? { pubtime: spec.pubtime } : {}),
  };
  const file = path.join(dir, "index", indexPath(spec.name));
  mkdirSync(path.dirname(file), { recursive: true });
  appendFileSync(file, `${JSON.stringify(line)}\n`);
}
