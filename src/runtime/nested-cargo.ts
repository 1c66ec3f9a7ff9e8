/**
 * What a nested cargo in a test's sandbox is given (`[test.<package>] cargo = true`): the cleaned
 * cargo configuration (core/nested-cargo.ts) written once per run into the run's private
 * directory, the directories it names and the host CARGO_HOME's caches that exist.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { CARGO_HOME_CACHES, cleanCargoConfig, type ConfigFile } from "../core/nested-cargo.ts";
import type { Profile } from "../core/profile/schema.ts";
import type { NestedCargoFacts } from "../core/sandbox-spec.ts";
import { configFiles } from "./cargo-config.ts";
import { isDirectory } from "./host-facts.ts";
import { realpathOrUndefined } from "./realpath.ts";

/** Does any [test.*] table of cratebox.toml say cargo = true? Only then is anything prepared. */
export function wantsNestedCargo(profile: Profile): boolean {
  return Object.values(profile.test ?? {}).some((e) => (Array.isArray(e) ? e : [e]).some((t) => t.cargo === true));
}

/**
 * Prepares the run's nested-cargo facts on first use: cargo's configuration as seen from `cwd`
 * (the directory cargo was started in), cleaned, written 0600 into `runDir`.
 */
export function nestedCargoPreparer(cwd: string, env: NodeJS.ProcessEnv, runDir: string): (workspaceRoot: string | undefined) => NestedCargoFacts {
  let prepared: Omit<NestedCargoFacts, "workspaceRoot"> | undefined;
  return (workspaceRoot) => {
    if (!prepared) {
      const files: ConfigFile[] = [];
      for (const file of configFiles(cwd, env)) {
        try {
          files.push({ file, text: readFileSync(file, "utf8") });
        } catch {
          /* unreadable: cargo itself will say so */
        }
      }
      const clean = cleanCargoConfig(files, env);
      const configFile = path.join(runDir, "nested-cargo-config.toml");
      writeFileSync(configFile, clean.toml, { mode: 0o600 });
      const cargoHome = env.CARGO_HOME ?? path.join(homedir(), ".cargo");
      const existing = (p: string) => (isDirectory(p) ? realpathOrUndefined(p) : undefined);
      prepared = {
        configFile,
        sourcePaths: clean.paths.map(existing).filter((p): p is string => p !== undefined),
        caches: CARGO_HOME_CACHES.flatMap((name) => {
          const p = existing(path.join(cargoHome, name));
          return p ? [{ name, path: p }] : [];
        }),
      };
    }
    return { ...prepared, workspaceRoot: workspaceRoot === undefined ? undefined : (realpathOrUndefined(workspaceRoot) ?? workspaceRoot) };
  };
}
