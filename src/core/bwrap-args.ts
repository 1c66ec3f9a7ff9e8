/**
 * SandboxSpec -> a bubblewrap (bwrap) command line. Pure.
 *
 * The same deny-by-default view as the Docker backend (core/container-options.ts), built from
 * the same spec: an empty read-only root with the merged-/usr links, the spec's bind mounts at
 * the same paths, private /tmp and HOME tmpfs, new proc and dev, every namespace unshared (user,
 * mount, pid, network, ipc, uts, cgroup), no way to make more user namespaces, every capability
 * dropped, no new privileges, a new session (no terminal injection), and bwrap's own PID 1 that
 * reaps orphans and takes everything with it when the program ends or cratebox dies.
 *
 * Why `--cap-drop ALL` matters: inside its own user namespace the program would otherwise hold
 * every capability there, and could remount the read-only binds writable (seen here: a
 * remount,rw of a --ro-bind followed by a write reached the host file).
 *
 * The environment is not on the command line (where `ps` would show a granted secret): the
 * runtime starts bwrap with exactly the spec's environment, which bwrap hands down.
 * Full network (`network = true`) has no bwrap form that is not the host's own network
 * namespace, so such a spec is for the Docker backend (canRunWithBwrap says why not).
 */
import { isWithin } from "./paths.ts";
import type { SandboxSpec } from "./sandbox-spec.ts";

/** The links of a merged-/usr system, as cratebox's own image has them. */
const ROOT_LINKS: [string, string][] = [
  ["usr/bin", "/bin"],
  ["usr/lib", "/lib"],
  ["usr/lib64", "/lib64"],
  ["usr/sbin", "/sbin"],
];

/** Why bwrap cannot run this spec as it asks (undefined: it can). */
export function bwrapRefusal(spec: SandboxSpec, ownImage: string): string | undefined {
  if (spec.image !== ownImage) return `it names its own image (${spec.image}), which only a container engine can run`;
  if (spec.runtime !== "runc") return `it asks for the OCI runtime ${spec.runtime}, which only a container engine can run`;
  if (spec.network === "full") return "it has full network access (network = true), which bwrap can only give as the host's own network";
  return undefined;
}

/** The tmpfs options cratebox's specs use: "rw,nosuid,nodev,size=N,mode=M" -> size in bytes (bwrap's unit) and mode. */
function tmpfsParts(options: string): { size: string | undefined; mode: string | undefined } {
  const get = (k: string) => new RegExp(`(?:^|,)${k}=([^,]+)`).exec(options)?.[1];
  const size = get("size");
  const m = size === undefined ? undefined : /^(\d+)([kmg]?)$/i.exec(size);
  const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m?.[2] ?? "").toLowerCase() as "" | "k" | "m" | "g"];
  return { size: m ? String(Number(m[1]) * unit) : undefined, mode: get("mode") };
}

/**
 * Every namespace unshared (a user namespace whose program cannot make another), no capability
 * inside, and the sandbox dies with bwrap: what every sandbox is, and what the backend's probe
 * (runtime/sandbox/backend.ts) checks that this host can make.
 */
export const BWRAP_ISOLATION: readonly string[] = ["--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL", "--die-with-parent"];

/** The bwrap arguments for `spec`, ending with `--` and the command (the relay first, when the spec has one). */
export function toBwrapArgs(spec: SandboxSpec): string[] {
  const [uid, gid] = spec.user.split(":");
  const args = [
    ...BWRAP_ISOLATION,
    "--new-session",
    "--uid",
    uid ?? "65534",
    "--gid",
    gid ?? uid ?? "65534",
    "--hostname",
    "cratebox",
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--dir",
    "/etc",
  ];
  for (const [target, link] of ROOT_LINKS) args.push("--symlink", target, link);
  // Parents before what is mounted below them (a tmpfs mask over target/, then the binary and
  // the OUT_DIR inside it): by path, shortest first; at one path, a tmpfs before a bind.
  const ops: { target: string; order: number; args: string[] }[] = [
    ...spec.tmpfs.map((t) => {
      const { size, mode } = tmpfsParts(t.options);
      return {
        target: t.target,
        order: 0,
        args: [...(mode ? ["--perms", mode.padStart(4, "0")] : []), ...(size ? ["--size", size] : []), "--tmpfs", t.target],
      };
    }),
    ...spec.mounts.map((m) => ({ target: m.target, order: 1, args: [m.readOnly ? "--ro-bind" : "--bind", m.source, m.target] })),
  ];
  ops.sort((a, b) => depth(a.target) - depth(b.target) || (isWithin(b.target, a.target) && a.target !== b.target ? -1 : 0) || a.order - b.order);
  for (const op of ops) args.push(...op.args);
  args.push("--chdir", spec.workdir, "--remount-ro", "/", "--", ...(spec.relay ?? []), ...spec.cmd);
  return args;
}

function depth(p: string): number {
  return p.split("/").filter(Boolean).length;
}
