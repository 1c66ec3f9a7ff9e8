/**
 * Cargo.lock text -> its packages, each with its resolved dependencies. Pure.
 *
 * Lockfile formats 1 to 4 (https://doc.rust-lang.org/cargo/reference/resolver.html#lockfile):
 * `[[package]]` tables with name, version, source, checksum and `dependencies` entries written
 * as "name", "name version" or "name version (source)", whichever is unambiguous. Format 1 kept
 * checksums in `[metadata]` as `"checksum name version (source)" = "<hex>"`.
 *
 * A checksum is real only as 64 hex digits: a directory source may write a placeholder (Debian's
 * crate packages write "Could not get crate checksum"), which is kept apart and pins nothing.
 */
import { parse } from "smol-toml";
import { reviewError } from "./errors.ts";
import { locateKeys, lineOf } from "../profile/toml-lines.ts";
import type { CrateSource } from "../profile/schema.ts";

export interface LockPackage {
  name: string;
  version: string;
  /** Cargo.lock's source string (`registry+https://...`, `git+https://...#<commit>`); null: a path package. */
  source: string | null;
  /** The real checksum, 64 lowercase hex digits; null when Cargo.lock has none or a placeholder. */
  checksum: string | null;
  /** What Cargo.lock wrote instead of a checksum ("Could not get crate checksum"), if anything. */
  checksumPlaceholder: string | null;
  /** Keys (`packageKey`) of the packages it depends on. */
  dependencies: string[];
  /** 1-based line of its `[[package]]` header in the lockfile. */
  line: number | undefined;
}

export interface Lockfile {
  packages: LockPackage[];
  byKey: ReadonlyMap<string, LockPackage>;
}

export const EMPTY_LOCKFILE: Lockfile = { packages: [], byKey: new Map() };

/** `name version source`: one package of a lockfile (a name and version may come from two sources). */
export function packageKey(p: Pick<LockPackage, "name" | "version" | "source">): string {
  return `${p.name} ${p.version} ${p.source ?? "path"}`;
}

export function sourceKindOf(source: string | null): CrateSource {
  if (source === null || source.startsWith("path+")) return "path";
  return source.startsWith("git+") ? "git" : "registry";
}

/**
 * What identifies where a package comes from, whatever revision: a registry's URL, or a git
 * repository's URL without the query (branch, tag, rev) and the commit. Two packages with the
 * same identity and another revision are an update, not a change of source.
 */
export function sourceIdentity(source: string | null): string {
  if (source === null) return "path";
  if (source.startsWith("git+")) return source.replace(/[?#].*$/, "");
  // crates.io under both protocols: Cargo.lock writes the git URL even when cargo reads the sparse index.
  if (source === "sparse+https://index.crates.io/") return CRATES_IO;
  return source;
}

export const CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index";

interface RawLockPackage {
  name?: unknown;
  version?: unknown;
  source?: unknown;
  checksum?: unknown;
  dependencies?: unknown;
}

const REAL_CHECKSUM = /^[0-9a-f]{64}$/;

export function parseLockfile(text: string, file: string): Lockfile {
  let raw: { package?: unknown; metadata?: unknown };
  try {
    raw = parse(text) as typeof raw;
  } catch (err) {
    throw reviewError(
      "REVIEW_LOCKFILE",
      `${file} is not a valid lockfile: ${(err as Error).message.split("\n")[0]}`,
      "regenerate it with `cargo generate-lockfile`, or check the git ref",
    );
  }
  const list = Array.isArray(raw.package) ? (raw.package as RawLockPackage[]) : [];
  const metadata = typeof raw.metadata === "object" && raw.metadata !== null ? (raw.metadata as Record<string, unknown>) : {};
  const lines = locateKeys(text);
  const bad = (i: number, what: string) => reviewError("REVIEW_LOCKFILE", `${file}: package ${i + 1} ${what}`, "regenerate it with `cargo generate-lockfile`");

  const partial = list.map((p, i) => {
    if (typeof p.name !== "string" || typeof p.version !== "string") throw bad(i, "has no name or version");
    if (p.source !== undefined && typeof p.source !== "string") throw bad(i, "has a source that is not text");
    const source = typeof p.source === "string" ? p.source : null;
    const written = typeof p.checksum === "string" ? p.checksum : metadata[`checksum ${p.name} ${p.version} (${source ?? ""})`];
    const checksum = typeof written === "string" ? written.trim().toLowerCase() : null;
    const deps = Array.isArray(p.dependencies) ? p.dependencies : [];
    if (!deps.every((d) => typeof d === "string")) throw bad(i, "has a dependency that is not text");
    return {
      name: p.name,
      version: p.version,
      source,
      checksum: checksum !== null && REAL_CHECKSUM.test(checksum) ? checksum : null,
      checksumPlaceholder: checksum !== null && !REAL_CHECKSUM.test(checksum) ? String(written) : null,
      rawDependencies: deps as string[],
      line: lineOf(lines, ["package", i]),
    };
  });

  const byName = new Map<string, typeof partial>();
  for (const p of partial) byName.set(p.name, [...(byName.get(p.name) ?? []), p]);
  const packages = partial.map(
    ({ rawDependencies, ...p }, i): LockPackage => ({
      ...p,
      dependencies: rawDependencies.map((d) => {
        const target = resolveDependency(d, byName);
        if (!target) throw bad(i, `(${p.name} ${p.version}) depends on "${d}", which the lockfile does not resolve`);
        return packageKey(target);
      }),
    }),
  );
  const byKey = new Map(packages.map((p) => [packageKey(p), p]));
  if (byKey.size !== packages.length) throw reviewError("REVIEW_LOCKFILE", `${file} lists a package twice`, "regenerate it with `cargo generate-lockfile`");
  return { packages, byKey };
}

/** "name", "name version" or "name version (source)" -> the one package it means. */
function resolveDependency<P extends Pick<LockPackage, "name" | "version" | "source">>(entry: string, byName: Map<string, P[]>): P | undefined {
  const m = /^(\S+)(?: (\S+))?(?: \((.+)\))?$/.exec(entry.trim());
  if (!m) return undefined;
  const [, name, version, source] = m;
  const candidates = (byName.get(name!) ?? []).filter((p) => (version === undefined || p.version === version) && (source === undefined || p.source === source));
  return candidates.length === 1 ? candidates[0] : undefined;
}
