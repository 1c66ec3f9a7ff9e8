/**
 * Gathers the host facts the deciding code needs (core/sandbox-spec.ts HostFacts). Everything
 * that touches the file system or runs a program for that purpose lives here.
 */
import { accessSync, constants, existsSync, mkdirSync, readdirSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { homedir } from "node:os";
import { execFileSync } from "node:child_process";
import { CrateboxError } from "../core/errors.ts";
import { isWithin } from "../core/paths.ts";
import { SYSTEM_PATHS, type HostFacts, type Phase } from "../core/sandbox-spec.ts";

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

export function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
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

/** What stays the same for every step of a run: read once, not per build script. */
export interface RunHostFacts {
  image: string;
  buildRoots: string[];
  uid: number;
  gid: number;
  home: string;
  systemPaths: string[];
}

export function readRunHostFacts(image: string, buildRoots: string[]): RunHostFacts {
  return {
    image,
    buildRoots,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    home: realpathOrUndefined(homedir()) ?? homedir(),
    systemPaths: SYSTEM_PATHS.filter((p) => existsSync(p)),
  };
}

/**
 * For a binary cargo runs: `<target>/tmp` (created, as cargo does for integration tests) and the
 * executables at the top of the binary's profile directory (what CARGO_BIN_EXE_<name> names).
 */
function runnerFacts(run: RunHostFacts, program: string): Pick<HostFacts, "targetTmpDir" | "binExecutables"> {
  const targetTmpDir = path.join(run.buildRoots[0]!, "tmp");
  mkdirSync(targetTmpDir, { recursive: true });
  const real = realpathOrUndefined(program);
  if (!real || !run.buildRoots.some((root) => isWithin(real, root))) return { targetTmpDir, binExecutables: [] };
  const parent = path.dirname(real);
  const profileDir = path.basename(parent) === "deps" ? path.dirname(parent) : parent;
  let binExecutables: string[] = [];
  try {
    binExecutables = readdirSync(profileDir, { withFileTypes: true })
      .filter((e) => e.isFile() && isExecutableFile(path.join(profileDir, e.name)))
      .map((e) => path.join(profileDir, e.name));
  } catch {
    /* no profile directory: nothing to add */
  }
  return { targetTmpDir, binExecutables };
}

/** The host facts for one step; `sysroot` comes from the step's own RUSTC (or the run's rustc). */
export function toHostFacts(run: RunHostFacts, sysroot: string, phase: Phase = "build-script", program = ""): HostFacts {
  return {
    ...(phase === "build-script" ? {} : runnerFacts(run, program)),
    image: run.image,
    uid: run.uid,
    gid: run.gid,
    sysroot,
    home: run.home,
    buildRoots: run.buildRoots,
    systemPaths: run.systemPaths,
    realpath: realpathOrUndefined,
    isFile: isExecutableFile,
  };
}
