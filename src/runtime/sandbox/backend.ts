/**
 * Which backend runs the sandboxes of a run. `auto` (the default) takes bubblewrap where it
 * works here (unprivileged user namespaces, or root) and the Docker engine otherwise; a step
 * bwrap cannot give what it asks (its own image, gVisor, full network) goes to the engine
 * either way. The engine is connected only when a step first needs it, so a run whose steps
 * all run under bwrap, or a no-op build, never touches it.
 */
import { accessSync, constants } from "node:fs";
import type { BackendChoice } from "../../core/backends.ts";
import { BWRAP_ISOLATION, bwrapRefusal } from "../../core/bwrap-args.ts";
import { CrateboxError } from "../../core/errors.ts";
import type { SandboxSpec } from "../../core/sandbox-spec.ts";
import { BwrapRuntime } from "./bwrap-runtime.ts";
import { bwrapLauncher, type Launcher } from "./launch.ts";
import { type CgroupSupport, detectCgroups } from "./cgroups.ts";
import type { ListedSandbox, Sandbox, SandboxRuntime } from "./runtime.ts";

export type BwrapProbe = { ok: true; bwrap: string } | { ok: false; reason: string };

const BWRAP_CANDIDATES = ["/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"];

/** The probe: a sandbox isolated as every step's is, with the host's /usr, running /bin/true. */
const PROBE_ARGS = [
  ...BWRAP_ISOLATION,
  "--ro-bind",
  "/usr",
  "/usr",
  "--symlink",
  "usr/bin",
  "/bin",
  "--symlink",
  "usr/lib",
  "/lib",
  "--symlink",
  "usr/lib64",
  "/lib64",
  "--proc",
  "/proc",
  "--",
  "/bin/true",
];
const PROBE_TIMEOUT_MS = 10_000;

/**
 * Is bwrap installed, and can it make the namespaces cratebox needs here? One tiny sandbox
 * (about 10 ms), started by the launcher the run's sandboxes use: with the native spawner, the
 * probe costs no fork of Node and does not hold up its event loop (it used to be a spawnSync,
 * 17 to 20 ms of a one-file rebuild's main thread, issue 13).
 */
export async function probeBwrap(launcher: Launcher): Promise<BwrapProbe> {
  const bwrap = BWRAP_CANDIDATES.find((p) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!bwrap) return { ok: false, reason: "bubblewrap is not installed (Debian: apt-get install bubblewrap)" };
  const ran = await new Promise<{ exitCode: number; stderr: string } | { error: string }>((resolve) => {
    let stderr = "";
    const timer = setTimeout(() => {
      stderr += `no answer in ${PROBE_TIMEOUT_MS / 1000} s`;
      probe.kill();
    }, PROBE_TIMEOUT_MS);
    const probe = launcher.launch(bwrap, PROBE_ARGS, {}, undefined, {
      stdout: () => {},
      stderr: (c) => {
        stderr += c.toString("utf8");
      },
      spawned: () => {},
      joinFailed: () => {},
      error: (err) => {
        clearTimeout(timer);
        resolve({ error: err.message });
      },
      closed: (exitCode) => {
        clearTimeout(timer);
        resolve({ exitCode, stderr });
      },
    });
  });
  if ("exitCode" in ran && ran.exitCode === 0) return { ok: true, bwrap };
  const why = "error" in ran ? ran.error : ran.stderr.trim() || `exit ${ran.exitCode}`;
  return { ok: false, reason: `bwrap cannot make its namespaces here: ${why}` };
}

export interface BackendInfo {
  /** What runs the steps bwrap can run (the rest goes to the engine). */
  primary: "bwrap" | "docker";
  /** Why, in one sentence (doctor, the report). */
  reason: string;
  /** bwrap's limits: the cgroup support, or why there is none. */
  cgroups: CgroupSupport | undefined;
  cgroupsMissing: string | undefined;
}

/**
 * The backend for a run: what was asked for (`--backend`, CRATEBOX_BACKEND), and what this host
 * can do. `owner`: this process's owner label (the cgroup probe is made below it).
 */
export async function chooseBackend(choice: BackendChoice, owner: string, launcher: Launcher): Promise<BackendInfo & { bwrap: string | undefined }> {
  if (choice === "docker")
    return { primary: "docker", reason: "asked for (--backend docker)", bwrap: undefined, cgroups: undefined, cgroupsMissing: undefined };
  const probe = await probeBwrap(launcher);
  if (!probe.ok) {
    if (choice === "bwrap")
      throw new CrateboxError("BACKEND_UNAVAILABLE", `--backend bwrap: ${probe.reason}`, "install bubblewrap, or use the Docker engine: --backend docker");
    return { primary: "docker", reason: `${probe.reason}; using the Docker engine`, bwrap: undefined, cgroups: undefined, cgroupsMissing: undefined };
  }
  const cg = detectCgroups(owner);
  const cgroups = "support" in cg ? cg.support : undefined;
  const cgroupsMissing = "reason" in cg ? cg.reason : undefined;
  return {
    primary: "bwrap",
    reason: choice === "bwrap" ? "asked for (--backend bwrap)" : `bubblewrap works here (${probe.bwrap}); a step bwrap cannot run goes to the Docker engine`,
    bwrap: probe.bwrap,
    cgroups,
    cgroupsMissing,
  };
}

export interface RouterOptions {
  choice: BackendChoice;
  ownImage: string;
  owner: string;
  /** Connects to the engine (and prepares it: image, sweep, warnings) the first time a step needs it. */
  connectDocker: () => Promise<SandboxRuntime>;
  /** Told once, when the backend is chosen (at the first step). */
  onChosen?: (info: BackendInfo) => void;
  /** What starts the probe and the bwrap sandboxes, when the run made it already (run-cargo.ts). */
  launcher?: Launcher | undefined;
}

/**
 * The run's sandbox runtime: bwrap for what it can run when it is the primary backend, the
 * Docker engine for the rest, each made when first needed.
 */
export class SandboxRouter implements SandboxRuntime {
  readonly kind = "router";
  private readonly opts: RouterOptions;
  private info: (BackendInfo & { bwrap: string | undefined }) | undefined;
  private choosing: Promise<BackendInfo> | undefined;
  /** Starts the probe and every bwrap sandbox of the run (launch.ts). */
  private readonly launcher: Launcher;
  private bwrap: BwrapRuntime | undefined;
  private docker: Promise<SandboxRuntime> | undefined;

  constructor(opts: RouterOptions) {
    this.opts = opts;
    this.launcher = opts.launcher ?? bwrapLauncher();
  }

  /** Which backend runs what, decided on first use. */
  backend(): Promise<BackendInfo> {
    this.choosing ??= chooseBackend(this.opts.choice, this.opts.owner, this.launcher).then((info) => {
      this.info = info;
      if (info.bwrap)
        this.bwrap = new BwrapRuntime({
          bwrap: info.bwrap,
          cgroups: info.cgroups,
          ownImage: this.opts.ownImage,
          owner: this.opts.owner,
          launcher: this.launcher,
        });
      this.opts.onChosen?.(info);
      return info;
    });
    return this.choosing;
  }

  /** The backend, if a step has chosen it already. */
  chosen(): BackendInfo | undefined {
    return this.info;
  }

  /** True when the engine was needed (and connected) during this run. */
  get usedDocker(): boolean {
    return this.docker !== undefined;
  }

  private engine(): Promise<SandboxRuntime> {
    this.docker ??= this.opts.connectDocker();
    return this.docker;
  }

  async create(spec: SandboxSpec): Promise<Sandbox> {
    const info = await this.backend();
    if (info.primary === "bwrap" && this.bwrap && !bwrapRefusal(spec, this.opts.ownImage)) return this.bwrap.create(spec);
    return (await this.engine()).create(spec);
  }

  async remove(id: string): Promise<void> {
    if (id.startsWith("bwrap-")) return this.bwrap?.remove(id);
    if (this.docker !== undefined) return (await this.docker).remove(id);
  }

  async list(label: string, value?: string): Promise<ListedSandbox[]> {
    const own = (await this.bwrap?.list(label, value)) ?? [];
    return this.docker !== undefined ? [...own, ...(await (await this.docker).list(label, value))] : own;
  }
}
