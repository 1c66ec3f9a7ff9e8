/**
 * The single values a grant is made of: environment patterns, host paths, `host:port` entries,
 * checksums, image references, crate names. Each `parse*` returns the normalised value or a
 * message with what would have been accepted; none throws. Pure (POSIX path rules only).
 *
 * These are the pure halves of the rules. What needs the host (real paths after symlinks, the
 * user's home, the real target directory) is checked again by the runtime.
 */
import { looksNumeric, parseIp } from "../egress.ts";
import path from "node:path";

export type ValueResult<T> = { ok: true; value: T } | { ok: false; message: string; accepted: string };

const ok = <T>(value: T): ValueResult<T> => ({ ok: true, value });
const bad = (message: string, accepted: string): ValueResult<never> => ({ ok: false, message, accepted });

// ---- crate names ------------------------------------------------------------------------------

const CRATE_NAME_ACCEPTED = 'a package name as cargo spells it, such as "openssl-sys" or "my_app"';

/** Cargo's package-name alphabet: letters, digits, `-` and `_`, not starting with a digit or `-`. */
export function parseCrateName(raw: string): ValueResult<string> {
  return /^[\p{ID_Start}_][\p{ID_Continue}-]*$/u.test(raw) ? ok(raw) : bad(`${JSON.stringify(raw)} is not a crate name`, CRATE_NAME_ACCEPTED);
}

// ---- environment patterns ---------------------------------------------------------------------

export const ENV_ACCEPTED = 'a variable name ("OPENSSL_DIR"), a prefix pattern ("OPENSSL_*"), a suffix pattern ("*_STATIC") or both ("*_OPENSSL_*")';

/** A granted environment pattern: `*` stands for any run of characters, at either end only. */
export interface EnvPattern {
  text: string;
  kind: "name" | "prefix" | "suffix" | "infix";
  /** The literal part (the text without its stars). */
  literal: string;
}

/**
 * Variables the sandbox sets itself or resets on purpose (sandbox-env.ts): a grant cannot pass
 * the host's value in, because that value names host places the sandbox does not have or leads
 * back to cratebox (RUSTC_WRAPPER), or would change which code the dynamic linker loads.
 */
const SANDBOX_OWNED = new Set([
  "HOME",
  "PATH",
  "TMPDIR",
  "LD_PRELOAD",
  "LD_LIBRARY_PATH",
  "LD_AUDIT",
  "RUSTC_WRAPPER",
  "RUSTC_WORKSPACE_WRAPPER",
  "CARGO_MAKEFLAGS",
  "CARGO_HOME",
  "RUSTUP_HOME",
]);

/**
 * Well-known credential variables. A pattern (not an exact name) that would also pass one of
 * these is refused: `CARGO_*` or `*_TOKEN` look harmless in review and hand over a registry
 * token. Naming such a variable exactly is still possible, and then it is plainly visible.
 */
export const CREDENTIAL_CANARIES = [
  "CARGO_REGISTRY_TOKEN",
  "CARGO_REGISTRIES_CRATES_IO_TOKEN",
  "GITHUB_TOKEN",
  "GH_TOKEN",
  "GITLAB_TOKEN",
  "CI_JOB_TOKEN",
  "NPM_TOKEN",
  "NODE_AUTH_TOKEN",
  "ACTIONS_RUNTIME_TOKEN",
  "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "GOOGLE_APPLICATION_CREDENTIALS",
  "AZURE_CLIENT_SECRET",
  "VAULT_TOKEN",
  "SSH_AUTH_SOCK",
  "DOCKER_AUTH_CONFIG",
  "TWINE_PASSWORD",
] as const;

export function parseEnvPattern(raw: string): ValueResult<EnvPattern> {
  const lead = raw.startsWith("*");
  const trail = raw.length > 1 && raw.endsWith("*");
  const literal = raw.slice(lead ? 1 : 0, trail ? -1 : undefined);
  if (literal.includes("*")) {
    return bad(`${JSON.stringify(raw)}: "*" may only stand at the start or the end`, ENV_ACCEPTED);
  }
  if (!/^[A-Za-z0-9_-]+$/.test(literal) || !/[A-Za-z0-9]/.test(literal)) {
    return /^\*+$/.test(raw)
      ? bad(`${JSON.stringify(raw)} would pass the whole host environment, secrets included`, ENV_ACCEPTED)
      : bad(`${JSON.stringify(raw)} is not a variable name or pattern`, ENV_ACCEPTED);
  }
  const kind = lead && trail ? "infix" : lead ? "suffix" : trail ? "prefix" : "name";
  const pattern: EnvPattern = { text: raw, kind, literal };
  if ((kind === "name" || kind === "prefix") && literal.startsWith("CRATEBOX_")) {
    return bad(`${JSON.stringify(raw)}: cratebox's own variables never cross into a sandbox`, ENV_ACCEPTED);
  }
  if (kind === "name" && SANDBOX_OWNED.has(raw)) {
    return bad(`${raw} is set by the sandbox itself and cannot be passed from the host`, ENV_ACCEPTED);
  }
  if (kind !== "name") {
    const secret = CREDENTIAL_CANARIES.find((n) => matchesEnvPattern(pattern, n));
    if (secret) return bad(`${JSON.stringify(raw)} would also pass ${secret}, a credential; name the variables you need`, ENV_ACCEPTED);
    const owned = [...SANDBOX_OWNED].find((n) => matchesEnvPattern(pattern, n));
    if (owned) return bad(`${JSON.stringify(raw)} would also pass ${owned}, which the sandbox sets itself; name the variables you need`, ENV_ACCEPTED);
  }
  return ok(pattern);
}

/** Does the host variable `name` fall under the granted pattern? Case-sensitive, as on Linux. */
export function matchesEnvPattern(pattern: EnvPattern, name: string): boolean {
  switch (pattern.kind) {
    case "name":
      return name === pattern.literal;
    case "prefix":
      return name.startsWith(pattern.literal);
    case "suffix":
      return name.endsWith(pattern.literal);
    case "infix":
      return name.includes(pattern.literal);
  }
}

// ---- host paths -------------------------------------------------------------------------------

export const PATH_ACCEPTED = 'a path relative to the workspace root that stays inside it ("vendor/sdk"), or an absolute path ("/opt/sdk")';

/**
 * Host places never granted, whatever the grant says: kernel interfaces and runtime sockets
 * (the Docker socket is root on the host). The runtime checks real paths against them again.
 */
const NEVER_MOUNTED = ["/proc", "/sys", "/dev", "/run", "/var/run", "/boot"];
/** Mounted read-only for every step already; writable would let a step change the host's tools. */
const NEVER_WRITABLE = ["/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/var/lib", "/root"];
/**
 * Inside the workspace, places a writable grant would turn into code that runs on the host
 * later: git hooks and config, and cargo's target directory (it holds the build-script shims,
 * which cargo executes on the host). The runtime checks the real target directory as well.
 */
const NEVER_WRITABLE_RELATIVE = [".git", "target", ".cargo", "Cargo.toml", "Cargo.lock", "cratebox.toml"];

export type PathAccess = "read" | "write";

/** A normalised grant path: relative ones stay relative (to the workspace root), without `./` or a trailing `/`. */
export function parseHostPath(raw: string, access: PathAccess): ValueResult<string> {
  const show = JSON.stringify(raw);
  if (raw.trim() === "") return bad("an empty path", PATH_ACCEPTED);
  if (raw.includes("\0")) return bad(`${show} contains a NUL character`, PATH_ACCEPTED);
  if (raw.startsWith("~")) return bad(`${show}: "~" is not expanded; write the absolute path`, PATH_ACCEPTED);
  if (raw.startsWith("$")) return bad(`${show}: variables are not expanded; write the path itself`, PATH_ACCEPTED);
  const norm = path.posix.normalize(raw).replace(/(.)\/+$/, "$1");
  if (path.posix.isAbsolute(norm)) {
    if (norm === "/") return bad(`${show} would expose the whole host filesystem`, PATH_ACCEPTED);
    const never = NEVER_MOUNTED.find((p) => within(norm, p));
    if (never) return bad(`${show} is inside ${never}, which is never mounted into a sandbox`, PATH_ACCEPTED);
    if (access === "write") {
      const sys = NEVER_WRITABLE.find((p) => within(norm, p) || within(p, norm));
      if (sys) return bad(`${show} would make ${sys} writable; a build step may not change the host's system directories`, PATH_ACCEPTED);
    }
    return ok(norm);
  }
  if (norm === ".." || norm.startsWith("../")) {
    return bad(`${show} leaves the workspace root; write an absolute path if you mean a place outside it`, PATH_ACCEPTED);
  }
  if (access === "write") {
    if (norm === ".") return bad(`${show} would make the whole workspace writable (git hooks, Cargo.toml, target/)`, PATH_ACCEPTED);
    const hot = NEVER_WRITABLE_RELATIVE.find((p) => within(norm, p));
    if (hot) return bad(`${show} would let a build step write ${hot}, which leads to code running on the host`, PATH_ACCEPTED);
  }
  return ok(norm);
}

function within(p: string, dir: string): boolean {
  return p === dir || p.startsWith(`${dir}/`);
}

// ---- network ----------------------------------------------------------------------------------

export const HOST_PORT_ACCEPTED = '"host:port" such as "static.example.org:443", "*.internal:8443", "10.0.0.7:80" or "[::1]:8080"';

/** `host:port` with a DNS name (optionally `*.` for any subdomain), an IPv4 or a bracketed IPv6 address. */
export function parseHostPort(raw: string): ValueResult<string> {
  const show = JSON.stringify(raw);
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:\s]+):(\d{1,5})$/.exec(raw);
  if (!m) return bad(`${show} is not "host:port"`, HOST_PORT_ACCEPTED);
  const host = m[1]!.toLowerCase();
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return bad(`${show}: port ${m[2]} is out of range (1-65535)`, HOST_PORT_ACCEPTED);
  const isV6 = host.startsWith("[");
  const isV4 = /^\d+(\.\d+){3}$/.test(host);
  if (isV4 && !host.split(".").every((o) => Number(o) <= 255 && String(Number(o)) === o)) {
    return bad(`${show}: ${host} is not an IPv4 address`, HOST_PORT_ACCEPTED);
  }
  if (!isV6 && !isV4 && (!isHostName(host) || looksNumeric(host))) {
    return bad(`${show}: ${m[1]} is not a host name (nor an address in dotted decimal)`, HOST_PORT_ACCEPTED);
  }
  if (isV6 && parseIp(host.slice(1, -1)) === undefined) return bad(`${show}: ${m[1]} is not an IPv6 address`, HOST_PORT_ACCEPTED);
  return ok(`${host}:${port}`);
}

function isHostName(host: string): boolean {
  const labels = host.split(".");
  if (host.length > 253 || labels.length < 1) return false;
  const label = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
  return labels.every((l, i) => (i === 0 && l === "*" && labels.length > 1) || label.test(l));
}

export const FETCH_URL_ACCEPTED = 'an absolute http:// or https:// URL without credentials or fragment, such as "https://static.example.org/schema-1.4.tar.gz"';

/** A fetch grant's URL, normalised as the WHATWG URL parser writes it (what the proxy compares). */
export function parseFetchUrl(raw: string): ValueResult<string> {
  const show = JSON.stringify(raw);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return bad(`${show} is not a URL`, FETCH_URL_ACCEPTED);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return bad(`${show}: only http and https URLs can be fetched`, FETCH_URL_ACCEPTED);
  if (u.username || u.password) return bad(`${show}: a URL with credentials would put them in cratebox.toml`, FETCH_URL_ACCEPTED);
  if (u.hash) return bad(`${show}: a fragment (#...) is never sent to the server`, FETCH_URL_ACCEPTED);
  return ok(u.href);
}

export const SHA256_ACCEPTED = '64 hex digits, the SHA-256 of the file (`sha256sum FILE`), optionally after "sha256:"';

/** A file's SHA-256, normalised to lowercase hex. */
export function parseSha256(raw: string): ValueResult<string> {
  const m = /^(?:sha256:)?([0-9a-fA-F]{64})$/.exec(raw.trim());
  return m ? ok(m[1]!.toLowerCase()) : bad(`${JSON.stringify(raw)} is not a SHA-256 (64 hex digits)`, SHA256_ACCEPTED);
}

// ---- checksums --------------------------------------------------------------------------------

export const CHECKSUM_ACCEPTED = 'the package\'s checksum from Cargo.lock: "sha256:" and 64 hex digits (the bare 64 digits are accepted too)';

/** Normalises to `sha256:<lowercase hex>`; Cargo.lock writes the bare hex. */
export function parseChecksum(raw: string): ValueResult<string> {
  const m = /^(?:sha256:)?([0-9a-fA-F]{64})$/.exec(raw.trim());
  return m ? ok(`sha256:${m[1]!.toLowerCase()}`) : bad(`${JSON.stringify(raw)} is not a sha256 checksum`, CHECKSUM_ACCEPTED);
}

// ---- images -----------------------------------------------------------------------------------

export const IMAGE_ACCEPTED = 'an image reference such as "debian:bookworm", "registry.example.org/team/sandbox:1" or one pinned "@sha256:<64 hex>"';

/** Docker's reference grammar: [domain[:port]/]path[:tag][@algo:hex]. */
const IMAGE_REF = new RegExp(
  "^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\\d+)?)/)?" +
    "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*" +
    "(?::[\\w][\\w.-]{0,127})?(?:@[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,})?$",
);

export function parseImageRef(raw: string): ValueResult<string> {
  return raw.length <= 255 && IMAGE_REF.test(raw) ? ok(raw) : bad(`${JSON.stringify(raw)} is not an image reference`, IMAGE_ACCEPTED);
}
