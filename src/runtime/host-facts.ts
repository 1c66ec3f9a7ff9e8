/**
 * Gathers the host facts the deciding code needs (core/sandbox-spec.ts HostFacts). Everything
 * that touches the file system or runs a program for that purpose lives here.
 */
import { accessSync, constants, existsSync, realpathSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { execFileSync } from "node:child_process";
import { CrateboxError } from "../core/errors.ts";
import { SYSTEM_PATHS, type HostFacts } from "../core/sandbox-spec.ts";

export function realpathOrUndefined(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
}

function isExecutableFile(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** `rustc --print sysroot` for a given rustc, once per distinct rustc. */
export class SysrootCache {
  private readonly known = new Map<string, string>();

  resolve(rustc: string, env: NodeJS.ProcessEnv): string {
    const hit = this.known.get(rustc);
    if (hit) return hit;
    let out: string;
    try {
      out = execFileSync(rustc, ["--print", "sysroot"], { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
    } catch (err) {
      throw new CrateboxError("TOOLCHAIN", `could not ask ${rustc} for its sysroot: ${(err as Error).message}`, "is the Rust toolchain installed (`rustup show`)?");
    }
    const real = realpathOrUndefined(out);
    if (!real) throw new CrateboxError("TOOLCHAIN", `${rustc} reports a sysroot that does not exist: ${out}`);
    if (real === "/" || real === realpathOrUndefined(homedir()) || real === realpathOrUndefined(`${homedir()}/.rustup`)) {
      throw new CrateboxError("TOOLCHAIN", `refusing to mount sysroot ${real}: it is not a single toolchain directory`);
    }
    this.known.set(rustc, real);
    return real;
  }
}

export interface RunHostFacts {
  image: string;
  buildRoots: string[];
}

/** The host facts for one step; `sysroot` comes from the step's own RUSTC. */
export function toHostFacts(run: RunHostFacts, sysroot: string): HostFacts {
  return {
    image: run.image,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    sysroot,
    home: realpathOrUndefined(homedir()) ?? homedir(),
    buildRoots: run.buildRoots,
    systemPaths: SYSTEM_PATHS.filter((p) => existsSync(p)),
    realpath: realpathOrUndefined,
    isFile: isExecutableFile,
  };
}
