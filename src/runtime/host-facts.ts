/**
 * Gathers the host facts the deciding code needs (core/sandbox-spec.ts HostFacts). Everything
 * that touches the file system or runs a program for that purpose lives here.
 */
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createSocket } from "node:dgram";
import path from "node:path";
import { homedir, networkInterfaces } from "node:os";
import { execFileSync } from "node:child_process";
import { CrateboxError } from "../core/errors.ts";
import { isWithin } from "../core/paths.ts";
import { type KnownSysroot, knownSysrootFor, sysrootBeside } from "../core/sysroot.ts";
import type { HostAddresses } from "../core/egress.ts";
import type { Phase } from "../core/phase.ts";
import { SYSTEM_PATHS, type HostFacts } from "../core/sandbox-spec.ts";
import { realpathOrUndefined } from "./realpath.ts";

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
  private readonly learned: KnownSysroot | undefined;

  /** `learned`: what the run asked at start (run-cargo.ts), used where it surely applies (core/sysroot.ts). */
  constructor(learned?: KnownSysroot) {
    this.learned = learned;
  }

  resolve(rustc: string, env: NodeJS.ProcessEnv): string {
    const hit = this.known.get(rustc);
    if (hit) return hit;
    const learned = knownSysrootFor(this.learned, rustc, env);
    if (learned) return checkedSysroot(rustc, learned);
    // A toolchain's rustc by its full path (what cargo runs in a compilation): no process to ask.
    const realRustc = path.isAbsolute(rustc) ? realpathOrUndefined(rustc) : undefined;
    const beside = realRustc ? sysrootBeside(realRustc, isDirectory) : undefined;
    if (beside) {
      const checked = checkedSysroot(rustc, beside);
      this.known.set(rustc, checked);
      return checked;
    }
    let out: string;
    try {
      out = execFileSync(rustc, ["--print", "sysroot"], { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
    } catch (err) {
      throw new CrateboxError(
        "TOOLCHAIN",
        `could not ask ${rustc} for its sysroot: ${(err as Error).message}`,
        "is the Rust toolchain installed (`rustup show`)?",
      );
    }
    const real = checkedSysroot(rustc, out);
    this.known.set(rustc, real);
    return real;
  }
}

/** A sysroot's real path, refused when it is not one toolchain's directory (it is mounted into every sandbox). */
function checkedSysroot(rustc: string, sysroot: string): string {
  const real = realpathOrUndefined(sysroot);
  if (!real) throw new CrateboxError("TOOLCHAIN", `${rustc} reports a sysroot that does not exist: ${sysroot}`);
  if (real === "/" || real === realpathOrUndefined(homedir()) || real === realpathOrUndefined(`${homedir()}/.rustup`)) {
    throw new CrateboxError("TOOLCHAIN", `refusing to mount sysroot ${real}: it is not a single toolchain directory`);
  }
  return real;
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

/**
 * This machine's addresses, and the subnets of its bridges (docker0, br-*, any Linux bridge), for the
 * egress proxy: a listed name may not lead to them. Read when a proxied step starts, so a bridge
 * created meanwhile counts. Node lists only interfaces that are up (docker0 is down while no
 * container uses it, yet its address is this machine's), so the bridges' routes come from
 * /proc/net/route, and the proxy asks the kernel itself whether an address is local
 * (isLocalAddress) before it connects.
 */
export function readHostAddresses(): HostAddresses {
  const own: string[] = [];
  const bridges = new Set<string>();
  // Any Linux bridge (docker0, br-*, docker_gwbridge, podman0, virbr0, ...): containers and VMs live behind them.
  const isBridge = (name: string) => name === "docker0" || name.startsWith("br-") || existsSync(`/sys/class/net/${name}/bridge`);
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    for (const a of addresses ?? []) {
      own.push(a.address);
      if (isBridge(name) && a.cidr) bridges.add(a.cidr);
    }
  }
  try {
    for (const line of readFileSync("/proc/net/route", "utf8").split("\n").slice(1)) {
      const [iface, dest, , , , , , mask] = line.trim().split(/\s+/);
      if (!iface || !dest || !mask || !isBridge(iface)) continue;
      const quad = (hex: string) => [0, 1, 2, 3].map((i) => parseInt(hex.slice(6 - 2 * i, 8 - 2 * i), 16)).join(".");
      const bits = [...parseInt(mask, 16).toString(2)].filter((b) => b === "1").length;
      bridges.add(`${quad(dest)}/${bits}`);
    }
  } catch {
    /* not Linux, or no /proc: the interfaces above are what is known */
  }
  return { own, bridges: [...bridges] };
}

/** Is `address` one of this machine's own? The kernel decides: only a local address can be bound. */
export async function isLocalAddress(address: string): Promise<boolean> {
  const socket = createSocket(address.includes(":") ? "udp6" : "udp4");
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, address, () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    try {
      socket.close();
    } catch {
      /* never bound */
    }
  }
}
