/**
 * gVisor (`runtime = "runsc"`): how the engine must register it for cratebox's steps, and which
 * steps its registration cannot run. Pure: the engine's `info().Runtimes` comes in as data.
 *
 * Seen on Debian 12's runsc (2022-12) under Docker 20.10: without `--network=none` no sandbox
 * starts at all ("cannot run with network enabled in root network namespace"), so the engine's
 * bridge (`network = true`) is not there under runsc; and a sandbox may not connect to a host
 * Unix socket unless `--host-uds=open`, which the egress relay needs to reach the step's proxy
 * (a bind-mounted socket of that step alone). Under runc any mounted socket is reachable
 * anyway; cratebox mounts no other.
 */

/** The flags cratebox's steps need from runsc (scripts/setup registers it with these). */
export const RUNSC_ARGS = ["--network=none", "--host-uds=open"] as const;

/** The daemon.json entry that registers runsc as cratebox needs it. */
export function runscDaemonJson(runscPath = "/usr/bin/runsc"): string {
  return JSON.stringify({ runtimes: { runsc: { path: runscPath, runtimeArgs: RUNSC_ARGS } } });
}

/** How to register runsc, in one hint. */
export function runscRegisterHint(runscPath = "/usr/bin/runsc"): string {
  return `install gVisor (Debian: apt-get install runsc) and register it in /etc/docker/daemon.json: ${runscDaemonJson(runscPath)}, then reload dockerd (kill -HUP $(pidof dockerd)); scripts/setup does both`;
}

/** An engine's registration of a runtime, as `GET /info` shows it under `Runtimes`. */
export interface RuntimeRegistration {
  path?: string;
  runtimeArgs?: string[] | null;
}

function flag(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!.replace(/^--?/, "");
    if (a === name) return args[i + 1] ?? "";
    if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
  }
  return undefined;
}

/** Whether runsc as registered can give a step's network (undefined: it can), and the way out. */
export function runscRefusal(network: "none" | "full" | "proxy", reg: RuntimeRegistration): { reason: string; hint: string } | undefined {
  const args = reg.runtimeArgs ?? [];
  if (network === "full" && flag(args, "network") === "none")
    return {
      reason: "it asks for full network (network = true) under runsc, and this engine runs runsc with --network=none: the step would have no network at all",
      hint: 'grant the hosts it needs instead (network = ["host:port"], through cratebox\'s egress proxy, which works under runsc), or run that crate with runtime = "runc"',
    };
  const uds = flag(args, "host-uds") ?? (args.some((a) => /^--?fsgofer-host-uds$/.test(a)) ? "all" : "none");
  if (network === "proxy" && uds !== "open" && uds !== "all")
    return {
      reason:
        "it reaches the network through cratebox's egress proxy, and this engine runs runsc without --host-uds=open: the relay inside could not reach the proxy's socket",
      hint: `register runsc with ${RUNSC_ARGS.join(" ")} (/etc/docker/daemon.json: ${runscDaemonJson(reg.path)}; scripts/setup does it), or run that crate with runtime = "runc"`,
    };
  return undefined;
}

/** doctor's word on the engine's runsc: registered as cratebox needs it, or what to change. */
export function runscCheck(runtimes: Record<string, RuntimeRegistration> | undefined): { ok: boolean; detail: string; fix?: string } {
  const reg = runtimes?.runsc;
  if (!reg) return { ok: false, detail: 'gVisor (runsc) is not registered with the engine: a grant\'s runtime = "runsc" is refused', fix: runscRegisterHint() };
  const args = reg.runtimeArgs ?? [];
  const missing = RUNSC_ARGS.filter((want) => {
    const [name, value] = want.slice(2).split("=") as [string, string];
    return flag(args, name) !== value && !(name === "host-uds" && flag(args, name) === "all");
  });
  const shown = `${reg.path ?? "runsc"}${args.length ? ` ${args.join(" ")}` : ""}`;
  if (missing.length === 0) return { ok: true, detail: `gVisor registered as runsc (${shown})` };
  return {
    ok: false,
    detail:
      `gVisor registered as runsc (${shown}) without ${missing.join(" ")}: ${missing.includes("--network=none") ? "a sandbox may not start on this engine; " : ""}${missing.includes("--host-uds=open") ? "steps with a network host list are refused under it" : ""}`.replace(
        /; $/,
        "",
      ),
    fix: `register it with ${RUNSC_ARGS.join(" ")}: ${runscDaemonJson(reg.path)} in /etc/docker/daemon.json, then kill -HUP $(pidof dockerd)`,
  };
}
