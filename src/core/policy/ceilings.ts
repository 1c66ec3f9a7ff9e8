/**
 * When a granted value stays under a policy's ceiling. Pure.
 *
 * Env: a granted pattern survives a ceiling when every variable name it would pass is also
 * passed by one of the ceiling's patterns. With `*` only at the ends, that is decidable from the
 * literal parts: a ceiling `OPENSSL_*` keeps `OPENSSL_DIR` and `OPENSSL_LIB_*` but not `*_DIR`;
 * `*SSL*` keeps anything whose literal contains `SSL`; `*` alone keeps everything.
 *
 * Paths: a granted path survives when it is a ceiling path or lies below one, on path-segment
 * boundaries after POSIX normalisation (`/opt/vendor` keeps `/opt/vendor/sdk`, not
 * `/opt/vendor-sdk`). Relative paths (from the workspace root) are compared with relative
 * ceilings only, absolute with absolute: the policy does not know the workspace's location. The
 * comparison is lexical; the runtime resolves real paths afterwards and refuses a relative
 * grant that leaves the workspace through a symbolic link.
 */
import path from "node:path";
import { isWithin } from "../paths.ts";

type Kind = "any" | "name" | "prefix" | "suffix" | "infix";

function toPattern(text: string): { kind: Kind; literal: string } {
  if (/^\*+$/.test(text)) return { kind: "any", literal: "" };
  const lead = text.startsWith("*");
  const trail = text.endsWith("*");
  const literal = text.slice(lead ? 1 : 0, trail ? -1 : undefined);
  return { kind: lead && trail ? "infix" : lead ? "suffix" : trail ? "prefix" : "name", literal };
}

/** Does every name `granted` passes also pass `ceiling`? */
export function envPatternCovers(ceiling: string, granted: string): boolean {
  const c = toPattern(ceiling);
  const g = toPattern(granted);
  if (c.kind === "any") return true;
  if (g.kind === "any") return false;
  switch (c.kind) {
    case "name":
      return g.kind === "name" && g.literal === c.literal;
    case "prefix":
      return (g.kind === "name" || g.kind === "prefix") && g.literal.startsWith(c.literal);
    case "suffix":
      return (g.kind === "name" || g.kind === "suffix") && g.literal.endsWith(c.literal);
    // Every name g passes contains g's literal, hence c's.
    case "infix":
      return g.literal.includes(c.literal);
  }
}

function normalise(p: string): string {
  return path.posix.normalize(p).replace(/(.)\/+$/, "$1");
}

/** Is the granted path the ceiling path or below it? */
export function pathCovers(ceiling: string, granted: string): boolean {
  const c = normalise(ceiling);
  const g = normalise(granted);
  const abs = path.posix.isAbsolute(c);
  if (abs !== path.posix.isAbsolute(g)) return false;
  if (abs) return isWithin(g, c);
  return c === "." || g === c || g.startsWith(`${c}/`);
}

/**
 * `version = "=1.2.3"`: a requirement that one version only satisfies. Anything looser
 * ("1.2.3" is `^1.2.3`) lets new code in without a review, so it is not a pin.
 */
export function isExactVersionPin(requirement: string | null): boolean {
  return requirement !== null && /^=\s*\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(requirement.trim());
}

/**
 * Does a hosts ceiling keep a listed host? Both are "host:port". The ceiling's host may be `*`
 * (any), `*.domain` (any name below domain; it keeps "*.sub.domain" too) or exact; its port `*`
 * (any) or exact. A literal address is kept only by `*` or by the same address.
 */
export function hostCovers(ceiling: string, granted: string): boolean {
  const split = (t: string) => {
    const i = t.lastIndexOf(":");
    return { host: t.slice(0, i).toLowerCase(), port: t.slice(i + 1) };
  };
  const c = split(ceiling);
  const g = split(granted);
  if (c.port !== "*" && c.port !== g.port) return false;
  if (c.host === "*") return true;
  if (c.host.startsWith("*.")) return g.host.endsWith(c.host.slice(1)) && !/^[\d.]+$|^\[/.test(g.host);
  return c.host === g.host;
}
