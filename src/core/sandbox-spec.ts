/**
 * The container that runs one sandboxed step, decided from the request and host facts. Pure:
 * every host fact (real paths, uid, toolchain) is handed in, nothing is read here.
 *
 * Default (deny): read-only host system directories, the toolchain in use, the crate's own source
 * and the OUT_DIRs cargo hands over in DEP_* variables; writable OUT_DIR and a private /tmp;
 * an empty HOME; no network; all capabilities dropped; read-only root filesystem.
 */
import path from "node:path";
import { CrateboxError, EXIT } from "./errors.ts";
import type { Limits } from "./limits.ts";
import { matchesEnvPattern, type EnvPattern } from "./profile/values.ts";
import { absolutePathsIn, isInsideOutDir, isWithin } from "./paths.ts";
import { SANDBOX_HOME, SANDBOX_TMP, toCompilerEnv, toSandboxEnv } from "./sandbox-env.ts";
import { NO_NETWORK, NO_PROXY_DEFAULT, proxyEnv, type NetworkAccess } from "./egress.ts";
import { type CARGO_HOME_CACHES, NESTED_CARGO_HOME } from "./nested-cargo.ts";

import { isCompilerPhase, isRunnerPhase, type Phase } from "./phase.ts";
import { type CompilerInvocation, withoutRuntool } from "./rustc-args.ts";

/** What a shim asks the orchestrator to run, as cargo handed it to the shim. */
export interface StepRequest {
  phase: Phase;
  /** Host path of the program: the real (swapped-aside) build script, or the binary cargo runs. */
  program: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

/** Facts about the host, gathered by the runtime before deciding. */
export interface HostFacts {
  image: string;
  uid: number;
  gid: number;
  /** The toolchain directory of the rustc cargo uses (`rustc --print sysroot`), real path. */
  sysroot: string;
  /** The invoking user's home directory, real path: never exposed. */
  home: string;
  /** Real paths of the directories where cargo writes build-script outputs (target/build dir). */
  buildRoots: string[];
  /** Host system paths present on this machine (subset of SYSTEM_PATHS). */
  systemPaths: string[];
  /** Host path -> real path (symlinks resolved), or undefined when it does not exist. */
  realpath: (p: string) => string | undefined;
  /** Whether a path is an executable file (for rustc/rustdoc/cargo inside the sysroot). */
  isFile: (p: string) => boolean;
  /**
   * Runner phases: the directory test binaries may write (`<target>/tmp`, compiled into them
   * as CARGO_TARGET_TMPDIR) and the package binaries integration tests run
   * (CARGO_BIN_EXE_<name>, the executables at the top of the profile directory).
   */
  targetTmpDir?: string;
  binExecutables?: string[];
  /**
   * A step whose grant lists hosts: the host side of its egress proxy (a Unix socket of this
   * step) and the relay that carries the step's TCP connections to it (runtime/egress-proxy.ts).
   */
  egress?: EgressRelay;
  /** Compiler phases (rustc, rustdoc): what the call reads and writes, and which variables are cargo's. */
  compiler?: CompilerFacts;
  /** Runner phases whose grant says `cargo = true`: what a nested cargo is given (core/nested-cargo.ts). */
  nestedCargo?: NestedCargoFacts;
}

/** What the runtime prepared for a nested cargo (trybuild) in a test's sandbox. */
export interface NestedCargoFacts {
  /** Host path of the cleaned config.toml written for this run (core/nested-cargo.ts cleanCargoConfig). */
  configFile: string;
  /** Directories that configuration names (directory sources, local registries, file:// indexes), real paths that exist. */
  sourcePaths: string[];
  /** The host CARGO_HOME's download caches that exist (registry/, git/), real paths. */
  caches: { name: (typeof CARGO_HOME_CACHES)[number]; path: string }[];
  /** The workspace root, real path, when the package is a workspace member. */
  workspaceRoot: string | undefined;
}

/** What the runtime gathered about one rustc or rustdoc call. */
export interface CompilerFacts {
  invocation: CompilerInvocation;
  /**
   * The crate's sources, read-only: its package directory; a workspace member's whole workspace
   * root (its target/ masked); a git dependency's checkout. Real paths.
   */
  sourceRoots: string[];
  /** @argfiles on the command line (cargo writes one for a long command line): read-only. */
  argfiles: string[];
  /** Variables a build script of the crate set for it (`rustc-env`) and cargo config's `[env]`: they pass. */
  passEnv: readonly string[];
  /** The environment cratebox was started with: a variable cargo's call has with the same value is the user's, withheld. */
  userEnv: Readonly<Record<string, string | undefined>>;
}

/** The in-container end of a proxied step's network: node runs the relay script, listening on loopback. */
interface EgressRelay {
  /** Host path of the Node binary cratebox runs on (mounted read-only). */
  node: string;
  /** Host path of the relay script (dist/shims/egress-relay.js). */
  script: string;
  /** Host path of this step's proxy socket. */
  socket: string;
}

/** Where the relay's parts appear inside the container, and where the step finds the proxy. */
export const RELAY_DIR = "/.cratebox";
const RELAY_PORT = 3128;
const PROXY_URL = `http://127.0.0.1:${RELAY_PORT}`;

/**
 * Host paths mounted read-only into every container so host-built binaries and the host C
 * toolchain work exactly as outside: /usr (compilers, libraries, headers, pkg-config files;
 * /bin, /lib, /lib64 are symlinks into it on merged-/usr systems and in the image), Debian's
 * alternatives (`cc` -> gcc) and the dynamic linker's cache.
 */
export const SYSTEM_PATHS = ["/usr", "/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d"] as const;

/**
 * What a grant adds to the default, in host terms (paths already resolved and checked by the
 * runtime). The default grant is DENY_ALL.
 */
export interface SandboxGrant {
  /** Host variables passed through (cratebox.toml `env`). */
  env: EnvPattern[];
  /** Extra host paths, read-only and writable (real paths). */
  read: string[];
  write: string[];
  network: NetworkAccess;
  runtime: "runc" | "runsc";
  /** `[test.*] cargo = true`: a nested cargo gets a private CARGO_HOME with a cleaned configuration (runner phases only). */
  cargo: boolean;
}

export const DENY_ALL: Readonly<SandboxGrant> = Object.freeze({ env: [], read: [], write: [], network: NO_NETWORK, runtime: "runc", cargo: false });

interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

interface Tmpfs {
  target: string;
  options: string;
}

export interface SandboxSpec {
  image: string;
  cmd: string[];
  /**
   * Seconds after which the program ends by itself even if cratebox is gone (the orchestrator
   * enforces the time limit and names it well before). A container outlives the process that
   * created it, so the engine runs `cmd` under backstopCommand(); a bwrap sandbox dies with
   * cratebox (--die-with-parent) and needs no timer. Undefined: no backstop (doctor's probes).
   */
  backstopSeconds?: number;
  workdir: string;
  env: Record<string, string>;
  user: string;
  mounts: Mount[];
  tmpfs: Tmpfs[];
  limits: Limits;
  /**
   * none: network mode none (loopback only); full: the engine's bridge; proxy: network mode
   * none too, plus the relay: `cmd` runs under it and its loopback port leads to the proxy.
   */
  network: "none" | "full" | "proxy";
  /** The relay command `cmd` runs under (network "proxy"). */
  relay?: string[];
  runtime: "runc" | "runsc";
  labels: Record<string, string>;
  /** Names of host environment variables not passed (diagnostics, report). */
  withheldEnv: string[];
  /** Paths the request referred to that were not mounted, and why. */
  withheldPaths: { path: string; reason: string }[];
}

/** A request the sandbox refuses outright (never run, never partially exposed). */
export class SpecError extends CrateboxError {
  constructor(message: string) {
    super("SPEC_REFUSED", message, undefined, EXIT.CARGO_FAILED);
    this.name = "SpecError";
  }
}

/** Seconds beyond the orchestrator's own timeout after which the container ends by itself. */
const FALLBACK_TIMEOUT_GRACE_S = 30;

/** The timer a container's command runs under: GNU timeout, SIGTERM at the backstop, SIGKILL 5 s later. */
export function backstopCommand(spec: SandboxSpec): string[] {
  return spec.backstopSeconds === undefined ? [] : ["/usr/bin/timeout", "--kill-after=5", String(spec.backstopSeconds)];
}

export function toSandboxSpec(
  req: StepRequest,
  host: HostFacts,
  limits: Limits,
  labels: Record<string, string>,
  grant: Readonly<SandboxGrant> = DENY_ALL,
): SandboxSpec {
  const withheldPaths: { path: string; reason: string }[] = [];
  const mounts: Mount[] = [];
  const ro = (source: string, target = source) => mounts.push({ source, target, readOnly: true });

  for (const p of host.systemPaths) ro(p);
  ro(host.sysroot);

  const buildScript = req.phase === "build-script";
  const compiler = isCompilerPhase(req.phase) ? host.compiler : undefined;
  if (isCompilerPhase(req.phase) && !compiler) throw new SpecError(`no compiler facts for this ${req.phase} call`);
  const program = mustResolve(host, req.program, buildScript ? "build-script binary" : compiler ? "compiler" : "program");
  if (buildScript && !host.buildRoots.some((root) => isWithin(program, root))) {
    throw new SpecError(`refusing to run ${req.program}: it is not inside cargo's build directory`);
  }
  // The compiler of a toolchain is already visible (the sysroot, /usr); another one is mounted alone.
  if (!compiler || ![host.sysroot, ...host.systemPaths].some((p) => isWithin(program, p))) ro(program, req.program);

  const manifestDir = mustResolve(host, req.env.CARGO_MANIFEST_DIR ?? req.cwd, "crate source directory");
  if (manifestDir === "/" || isWithin(host.home, manifestDir)) {
    throw new SpecError(`refusing to mount ${manifestDir} as a crate's source: it contains your home directory`);
  }
  ro(manifestDir, req.env.CARGO_MANIFEST_DIR ?? req.cwd);

  if (compiler) {
    mountCompilerView(req, host, compiler, mounts, withheldPaths);
  } else if (buildScript) {
    const outDirRaw = req.env.OUT_DIR;
    if (!outDirRaw) throw new SpecError("cargo did not set OUT_DIR for this build script");
    const outDir = mustResolve(host, outDirRaw, "OUT_DIR");
    if (!isInsideOutDir(outDir, host.buildRoots)) {
      throw new SpecError(`refusing OUT_DIR ${outDirRaw}: it is not a build-script output directory of this build`);
    }
    mounts.push({ source: outDir, target: outDirRaw, readOnly: false });

    // DEP_<links>_<key> values: other crates' OUT_DIRs are mounted read-only. Anything else is
    // not: a build script controls what it prints as metadata, so a path there could name ~/.ssh.
    // The real path is checked, so a symlink left in an OUT_DIR cannot widen the view either.
    for (const [name, value] of Object.entries(req.env)) {
      if (!name.startsWith("DEP_")) continue;
      for (const p of absolutePathsIn(value)) {
        const real = host.realpath(p);
        if (real === undefined) continue;
        if (isInsideOutDir(real, host.buildRoots)) ro(real, p);
        else if ([...host.systemPaths, host.sysroot].some((s) => isWithin(real, s))) continue;
        else withheldPaths.push({ path: p, reason: `${name} points outside any crate's OUT_DIR` });
      }
    }
  } else {
    if (host.targetTmpDir) mounts.push({ source: host.targetTmpDir, target: host.targetTmpDir, readOnly: false });
    for (const exe of host.binExecutables ?? []) ro(exe);
  }
  const runner = isRunnerPhase(req.phase);
  const nested = runner && grant.cargo ? host.nestedCargo : undefined;
  if (runner && grant.cargo && !nested) throw new SpecError("the grant says cargo = true but no cargo configuration was prepared for this step");
  if (nested) {
    // The private CARGO_HOME is a tmpfs (below); its config.toml and the caches are laid on top.
    mounts.push({ source: nested.configFile, target: `${NESTED_CARGO_HOME}/config.toml`, readOnly: true });
    for (const c of nested.caches) mounts.push({ source: c.path, target: `${NESTED_CARGO_HOME}/${c.name}`, readOnly: true });
    for (const p of [...nested.sourcePaths, ...(nested.workspaceRoot ? [nested.workspaceRoot] : [])]) {
      if (p === "/" || isWithin(host.home, p)) throw new SpecError(`refusing to mount ${p} for a nested cargo: it contains your home directory`);
      ro(p);
    }
  }

  // Granted paths: read-only first, then writable (a writable grant wins where both name a path).
  for (const p of grant.read) ro(p);
  for (const p of grant.write) mounts.push({ source: p, target: p, readOnly: false });

  // A workspace member's source directory usually contains target/: hide the rest of target/
  // behind an empty scratch tmpfs so a script reads no other crate's outputs; the mounts below it
  // (its binary, OUT_DIR, DEP_* OUT_DIRs) are laid on top.
  const tmpfs: Tmpfs[] = [
    // `exec` said out loud: Docker adds noexec to a tmpfs that does not say, and a test that
    // writes a script or builds a helper in its temporary directory must be able to run it.
    { target: SANDBOX_TMP, options: `rw,nosuid,nodev,exec,size=${limits.tmpBytes},mode=1777` },
    { target: SANDBOX_HOME, options: "rw,nosuid,nodev,noexec,size=16m,mode=1777" },
    // A nested cargo writes its locks and index caches into CARGO_HOME: a private one, counted in memory.
    ...(nested ? [{ target: NESTED_CARGO_HOME, options: "rw,nosuid,nodev,noexec,size=64m,mode=1777" }] : []),
  ];
  for (const root of host.buildRoots) {
    if (runner) {
      // A test may build inside target/: trybuild's UI tests run a nested cargo with
      // CARGO_TARGET_DIR=target/tests/trybuild. Binaries cargo runs get a private, empty,
      // executable target/ of /tmp's size (their binary, target/tmp and the package's executables
      // are laid on top); nothing written there outlives the sandbox or reaches the host's target/.
      tmpfs.push({ target: root, options: `rw,nosuid,nodev,exec,size=${limits.tmpBytes},mode=0755,uid=${host.uid},gid=${host.gid}` });
    } else if (mounts.some((m) => m.readOnly && m.source !== root && isWithin(root, m.source))) {
      tmpfs.push({ target: root, options: "rw,nosuid,nodev,noexec,size=1m,mode=0755" });
    }
  }

  const toolchain = {
    sysroot: host.sysroot,
    rustc: inSysroot(host, "rustc", req.env.RUSTC),
    rustdoc: inSysroot(host, "rustdoc", req.env.RUSTDOC),
    cargo: inSysroot(host, "cargo", req.env.CARGO),
  };
  const granted = (name: string) => grant.env.some((p) => matchesEnvPattern(p, name));
  const env = compiler
    ? toCompilerEnv(req.env, toolchain, { passEnv: compiler.passEnv, userEnv: compiler.userEnv }, granted)
    : toSandboxEnv(req.env, toolchain, buildScript, granted);
  if (nested) env.env.CARGO_HOME = NESTED_CARGO_HOME;

  // A proxied step: the relay's parts read-only, the proxy variables set, its own loopback
  // (a test's mock server) left out of the proxy unless a grant passes the host's NO_PROXY.
  let relay: string[] | undefined;
  if (grant.network.kind === "proxy") {
    if (!host.egress) throw new SpecError("the grant lists hosts but no egress proxy was started for this step");
    const at = (name: string) => `${RELAY_DIR}/${name}`;
    mounts.push(
      { source: host.egress.node, target: at("node"), readOnly: true },
      { source: host.egress.script, target: at("egress-relay.js"), readOnly: true },
      { source: host.egress.socket, target: at("egress.sock"), readOnly: false },
    );
    relay = [at("node"), "--max-old-space-size=64", at("egress-relay.js"), at("egress.sock"), String(RELAY_PORT), "--"];
    Object.assign(env.env, proxyEnv(PROXY_URL));
    for (const name of ["NO_PROXY", "no_proxy"]) env.env[name] ??= NO_PROXY_DEFAULT;
  }

  return {
    image: host.image,
    cmd: [req.program, ...(compiler?.invocation.doctest ? withoutRuntool(req.args) : req.args)],
    backstopSeconds: Math.ceil(limits.timeoutMs / 1000) + FALLBACK_TIMEOUT_GRACE_S,
    workdir: req.cwd,
    env: env.env,
    user: `${host.uid}:${host.gid}`,
    mounts: dedupeMounts(
      mounts,
      tmpfs.map((t) => t.target),
    ),
    tmpfs,
    limits,
    network: grant.network.kind,
    ...(relay ? { relay } : {}),
    runtime: grant.runtime,
    labels,
    withheldEnv: env.withheld,
    withheldPaths,
  };
}

/**
 * A compiler call's view: the crate's sources and the working directory read-only, its OUT_DIR
 * and what it links against (-L, --extern) read-only, and writable only its outputs (--out-dir,
 * -o, dep-info) and its incremental directory, which must lie in cargo's build directory.
 */
function mountCompilerView(req: StepRequest, host: HostFacts, c: CompilerFacts, mounts: Mount[], withheldPaths: { path: string; reason: string }[]): void {
  const ro = (p: string) => mounts.push({ source: p, target: p, readOnly: true });
  const refuseHome = (p: string, what: string) => {
    if (p === "/" || isWithin(host.home, p)) throw new SpecError(`refusing to mount ${p} as ${what}: it contains your home directory`);
  };
  for (const root of c.sourceRoots) {
    refuseHome(root, "a crate's sources");
    ro(root);
  }
  const inBuild = (p: string) => host.buildRoots.some((root) => isWithin(p, root));
  const visible = (p: string) => mounts.some((m) => isWithin(p, m.target)) || [host.sysroot, ...host.systemPaths].some((s) => isWithin(p, s));
  const cwd = mustResolve(host, req.cwd, "working directory");
  if (!visible(cwd)) {
    refuseHome(cwd, "the working directory");
    ro(cwd);
  }
  for (const file of [...c.argfiles, ...c.invocation.sources]) {
    const real = host.realpath(file);
    if (real && !visible(real)) ro(real);
  }
  if (req.env.OUT_DIR) {
    const out = host.realpath(req.env.OUT_DIR);
    if (out && isInsideOutDir(out, host.buildRoots)) ro(out);
  }
  for (const dir of c.invocation.readDirs) {
    const real = host.realpath(dir);
    if (real === undefined) continue;
    if (inBuild(real)) ro(real);
    else if (!visible(real)) withheldPaths.push({ path: dir, reason: "a library directory outside cargo's build directory and the system's" });
  }
  for (const dir of [...c.invocation.outDirs, ...(c.invocation.incremental ? [c.invocation.incremental] : [])]) {
    const real = host.realpath(dir);
    if (real === undefined) throw new SpecError(`the compiler's output directory ${dir} does not exist`);
    if (!inBuild(real)) throw new SpecError(`refusing to let a compiler write to ${dir}: it is not inside cargo's build directory`);
    mounts.push({ source: real, target: real, readOnly: false });
  }
}

function mustResolve(host: HostFacts, p: string, what: string): string {
  if (!path.isAbsolute(p)) throw new SpecError(`${what} ${p} is not an absolute path`);
  const real = host.realpath(p);
  if (real === undefined) throw new SpecError(`${what} ${p} does not exist`);
  return real;
}

/** The toolchain's own binary when it exists, else what cargo passed (e.g. a system cargo in /usr). */
function inSysroot(host: HostFacts, tool: string, given: string | undefined): string {
  const own = `${host.sysroot}/bin/${tool}`;
  if (host.isFile(own)) return own;
  return given ?? tool;
}

/**
 * Drops read-only mounts that another read-only mount of the same host place already shows,
 * unless a tmpfs mask lies between the two (then the inner mount is what makes it visible).
 */
function dedupeMounts(mounts: Mount[], masks: string[]): Mount[] {
  const identity = (m: Mount) => m.source === m.target;
  const covers = (o: Mount, m: Mount) =>
    o.readOnly &&
    identity(o) &&
    isWithin(m.target, o.target) &&
    !mounts.some((w) => !w.readOnly && w.target === o.target) &&
    !masks.some((t) => t !== o.target && isWithin(t, o.target) && isWithin(m.target, t));
  return mounts.filter((m, i) => {
    // Several mounts of one place: a writable one wins (a write grant over the crate's own
    // read-only source, or a path named in both read and write).
    const same = mounts.filter((o) => o.target === m.target);
    const chosen = same.find((o) => !o.readOnly) ?? same[0];
    if (chosen !== m) return false;
    if (!m.readOnly || !identity(m)) return true;
    return !mounts.some((o, j) => j !== i && o.target !== m.target && covers(o, m));
  });
}

/** Where learn mode's trace is written inside the container (a writable mount of a host dir). */
const TRACE_MOUNT = "/cratebox-trace";
const TRACED_CALLS = "openat,open,stat,lstat,newfstatat,statx,access,faccessat,faccessat2,execve,connect";

/**
 * Learn mode (`cratebox learn`): the same container, with the program run under the host's
 * strace (/usr/bin/strace, on the read-only /usr mount) writing to `traceDir`.
 */
export function withTracing(spec: SandboxSpec, traceDir: string): SandboxSpec {
  const cmd = ["/usr/bin/strace", "-f", "-qq", "-o", `${TRACE_MOUNT}/trace`, "-e", `trace=${TRACED_CALLS}`, ...spec.cmd];
  return { ...spec, cmd, mounts: [...spec.mounts, { source: traceDir, target: TRACE_MOUNT, readOnly: false }] };
}
