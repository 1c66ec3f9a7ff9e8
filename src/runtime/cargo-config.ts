/**
 * The user's own RUSTC_WRAPPER (sccache and the like), which cratebox chains behind its own.
 * Cargo takes it from RUSTC_WRAPPER, CARGO_BUILD_RUSTC_WRAPPER, or `build.rustc-wrapper` in the
 * nearest config file (https://doc.rust-lang.org/cargo/reference/config.html#buildrustc-wrapper).
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { homedir } from "node:os";
import { parse } from "smol-toml";
import { noteInput } from "./start-inputs.ts";

/** Cargo's config files for `cwd`, closest first, then `$CARGO_HOME/config.toml`. */
export function configFiles(cwd: string, env: NodeJS.ProcessEnv): string[] {
  const files: string[] = [];
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    for (const name of ["config.toml", "config"]) {
      const f = path.join(dir, ".cargo", name);
      noteInput(f);
      if (existsSync(f)) {
        files.push(f);
        break;
      }
    }
    if (dir === path.dirname(dir)) break;
  }
  const cargoHome = env.CARGO_HOME ?? path.join(homedir(), ".cargo");
  for (const name of ["config.toml", "config"]) {
    const f = path.join(cargoHome, name);
    noteInput(f);
    if (existsSync(f) && !files.includes(f)) {
      files.push(f);
      break;
    }
  }
  return files;
}

/** The user's wrapper, or undefined. An empty value (cargo's "no wrapper") is undefined too. */
export function findUserRustcWrapper(cwd: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const name of ["RUSTC_WRAPPER", "CARGO_BUILD_RUSTC_WRAPPER"]) {
    const v = env[name];
    if (v !== undefined) return v === "" ? undefined : v;
  }
  for (const file of configFiles(cwd, env)) {
    let value: unknown;
    try {
      value = (parse(readFileSync(file, "utf8")) as { build?: { "rustc-wrapper"?: unknown } }).build?.["rustc-wrapper"];
    } catch {
      continue; // cargo itself will report a broken config file
    }
    if (typeof value !== "string") continue;
    if (value === "") return undefined;
    // A value with a slash is a path relative to the directory that holds `.cargo/`.
    return value.includes("/") && !path.isAbsolute(value) ? path.resolve(path.dirname(path.dirname(file)), value) : value;
  }
  return undefined;
}

/** The names cargo config's `[env]` tables set (cargo passes them to rustc and build scripts). */
export function readConfigEnvNames(cwd: string, env: NodeJS.ProcessEnv): string[] {
  const names = new Set<string>();
  for (const file of configFiles(cwd, env)) {
    try {
      const table = (parse(readFileSync(file, "utf8")) as { env?: Record<string, unknown> }).env;
      for (const name of Object.keys(table ?? {})) names.add(name);
    } catch {
      /* cargo itself will report a broken config file */
    }
  }
  return [...names];
}
