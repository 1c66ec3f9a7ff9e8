/**
 * What a sandboxed step tried beyond its view, read from `strace -f` output (learn mode). Pure:
 * the runtime supplies which host paths exist.
 *
 * Denials that count: an absolute path the step failed to open or stat with ENOENT although it
 * exists on the host (outside its view), a write refused with EROFS or EACCES, a TCP or UDP
 * connect (there is no network), a Unix socket connect. Everything inside the sandbox's own
 * places (/proc, /sys, /dev, its home, the toolchain) is noise by construction.
 */
import { posix } from "node:path";
import { isWithin } from "./paths.ts";

export interface TraceDenials {
  /** Host paths it tried to read that exist outside its view. */
  reads: string[];
  /** Paths it tried to write that are read-only or absent in the sandbox. */
  writes: string[];
  /** `address:port` it tried to connect to. */
  connects: string[];
  /** Unix sockets it tried to reach. */
  sockets: string[];
  /** Every denial in the order it happened: the last one is the likeliest cause of a failure. */
  sequence: { kind: "read" | "write" | "connect" | "socket"; value: string }[];
}

// /tmp is not noise: the sandbox's private /tmp hides the host's, and a host path there that
// exists is something the step could not see.
const NOISE_PREFIXES = ["/proc", "/sys", "/dev", "/home/cratebox", "/etc/ld.so", "/cratebox-trace"];

const OPEN_RE = /\b(openat|open|stat|lstat|newfstatat|statx|access|faccessat2?|readlink|execve)\((?:AT_FDCWD, )?"([^"]+)"([^)]*)\)\s+=\s+-1\s+(E[A-Z]+)/;
const CONNECT_INET_RE =
  /\bconnect\(\d+, \{sa_family=AF_INET6?, sin6?_port=htons\((\d+)\), (?:sin6_flowinfo=[^,]+, )?(?:inet_pton\(AF_INET6?, "([^"]+)"|sin_addr=inet_addr\("([^"]+)"\))/;
const CONNECT_UNIX_RE = /\bconnect\(\d+, \{sa_family=AF_UNIX, sun_path="([^"]+)"/;

export function parseTrace(text: string, existsOnHost: (p: string) => boolean, ownPlaces: readonly string[]): TraceDenials {
  const reads = new Set<string>();
  const writes = new Set<string>();
  const connects = new Set<string>();
  const sockets = new Set<string>();
  const sequence: TraceDenials["sequence"] = [];
  const note = (kind: TraceDenials["sequence"][number]["kind"], set: Set<string>, value: string) => {
    if (!set.has(value)) sequence.push({ kind, value });
    set.add(value);
  };
  for (const line of text.split("\n")) {
    const inet = CONNECT_INET_RE.exec(line);
    if (inet) {
      const addr = inet[2] ?? inet[3];
      if (addr && !addr.startsWith("127.") && addr !== "::1") note("connect", connects, `${addr.includes(":") ? `[${addr}]` : addr}:${inet[1]}`);
      continue;
    }
    const unix = CONNECT_UNIX_RE.exec(line);
    if (unix) {
      note("socket", sockets, unix[1]!);
      continue;
    }
    const m = OPEN_RE.exec(line);
    if (!m) continue;
    const [, call, raw, rest, errno] = m;
    // `<package>/../fixture.txt` is outside the package, though it starts with the package's
    // path: compare the normalised path.
    const path = raw!.startsWith("/") ? posix.normalize(raw!).replace(/(.)\/+$/, "$1") : raw;
    if (!path!.startsWith("/") || NOISE_PREFIXES.some((n) => isWithin(path!, n)) || ownPlaces.some((o) => isWithin(path!, o))) continue;
    const wantsWrite = /O_WRONLY|O_RDWR|O_CREAT/.test(rest ?? "");
    if (wantsWrite && (errno === "EROFS" || errno === "EACCES")) note("write", writes, path!);
    else if (wantsWrite && errno === "ENOENT" && existsOnHost(parentOf(path!))) note("write", writes, path!);
    else if (!wantsWrite && errno === "ENOENT" && call !== "execve" && existsOnHost(path!)) note("read", reads, path!);
  }
  return { reads: [...reads].sort(), writes: [...writes].sort(), connects: [...connects].sort(), sockets: [...sockets].sort(), sequence };
}

function parentOf(p: string): string {
  return p.slice(0, Math.max(1, p.lastIndexOf("/")));
}

/**
 * The narrowest grant paths for denied paths: a file that exists is granted itself (a read of
 * /etc/gitconfig grants that file, not /etc); a write needs the directory it creates files in
 * unless the path is a directory already. Paths below another granted directory are dropped.
 */
export function toGrantPaths(paths: readonly string[], kind: "read" | "write", isDir: (p: string) => boolean): string[] {
  const wanted = [...new Set(paths.map((p) => (kind === "write" && !isDir(p) ? parentOf(p) : p)))].sort();
  return wanted.filter((d) => !wanted.some((o) => o !== d && isDir(o) && d.startsWith(`${o}/`)));
}

/**
 * Files programs look for and do without (git's system config, terminfo, the time zone, the
 * user database): a denial of one is proposed only when a failed step tried nothing else.
 */
const USUALLY_OPTIONAL = [
  "/etc/gitconfig",
  "/etc/terminfo",
  "/etc/localtime",
  "/etc/nsswitch.conf",
  "/etc/passwd",
  "/etc/group",
  "/etc/inputrc",
  "/etc/mime.types",
];

/**
 * Which denials of a failed step explain its failure: those inside the workspace (fixtures a
 * test reads through `..`), else the last one that is not a usual optional probe, else the last.
 */
export function toLikelyCauses(sequence: TraceDenials["sequence"], workspaceRoot: string): TraceDenials["sequence"] {
  const files = sequence.filter((d) => d.kind === "read" || d.kind === "write");
  const inWorkspace = files.filter((d) => isWithin(d.value, workspaceRoot));
  if (inWorkspace.length > 0) return inWorkspace;
  const real = sequence.filter((d) => !USUALLY_OPTIONAL.some((o) => isWithin(d.value, o)));
  const last = real.at(-1) ?? sequence.at(-1);
  return last ? [last] : [];
}
