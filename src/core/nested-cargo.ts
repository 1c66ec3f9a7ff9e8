/**
 * A nested cargo inside a test's sandbox (`[test.<package>] cargo = true`): trybuild's UI tests
 * run `cargo metadata` and `cargo build` from inside the test binary. Pure: the runtime reads
 * cargo's configuration files and hands their text in (runtime/nested-cargo.ts).
 *
 * What such a step gets, and nothing more:
 * - a private CARGO_HOME (a tmpfs at NESTED_CARGO_HOME, so cargo can write its locks) holding
 *   a cleaned copy of the effective cargo configuration as `config.toml`: only where packages
 *   come from and how cargo reaches them (CLEAN_KEYS). Tokens, credential providers, URLs with
 *   a user or password in them, `[http]`
 *   (proxies with passwords), `[build]` (a rustc wrapper leads back to cratebox), `[env]`,
 *   `[target]` and aliases are left out; credentials.toml is never read;
 * - the directories that configuration points to (directory sources, local registries,
 *   `file://` indexes) and the host CARGO_HOME's download caches (`registry/`, `git/`),
 *   read-only;
 * - the workspace root, read-only, when the package is a workspace member (its `target/`
 *   stays the private tmpfs every test gets).
 */
import path from "node:path";
import { parse, stringify } from "smol-toml";
import { OutputWatch } from "./output-watch.ts";
import { SANDBOX_HOME } from "./sandbox-env.ts";

/** The private CARGO_HOME inside the sandbox. */
export const NESTED_CARGO_HOME = `${SANDBOX_HOME}/.cargo`;

/** The caches of the host's CARGO_HOME a nested cargo may read (never its config or credentials). */
export const CARGO_HOME_CACHES = ["registry", "git"] as const;

/** Per table, the keys that are copied; anything else (token, credential-provider, ...) is dropped. */
const CLEAN_KEYS = {
  /** `[source.<name>]`: source replacement (vendoring, mirrors, Debian's directory source). */
  source: ["replace-with", "directory", "local-registry", "registry", "git", "branch", "tag", "rev"],
  /** `[registries.<name>]`: alternative registries, by index only. */
  registries: ["index", "protocol"],
} as const;
/** Single tables copied key by key. */
const CLEAN_SINGLE = {
  registry: ["default"],
  net: ["offline", "retry", "git-fetch-with-cli"],
} as const;

/** One configuration file as cargo would read it. */
export interface ConfigFile {
  /** Its host path (relative paths in it are from the directory that holds its `.cargo/`, or CARGO_HOME's parent). */
  file: string;
  text: string;
}

export interface CleanConfig {
  /** The cleaned config.toml for the private CARGO_HOME. */
  toml: string;
  /** Host directories it names (directory sources, local registries, file:// indexes), absolute. */
  paths: string[];
  /** What was left out, as `file: key` (shown in learn and debugging, never values). */
  dropped: string[];
}

type Table = Record<string, unknown>;

const isTable = (v: unknown): v is Table => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);

/**
 * The effective configuration of `files` (closest first, as cargo lists them: the working
 * directory's `.cargo/config.toml` up to `/`, then CARGO_HOME's), cleaned. A closer file wins a
 * key, as in cargo. `env` adds cargo's own variables for what is kept (`CARGO_NET_OFFLINE`, ...),
 * which win over files, as in cargo. A file that does not parse is skipped (cargo will say why).
 */
export function cleanCargoConfig(files: readonly ConfigFile[], env: Readonly<Record<string, string | undefined>> = {}): CleanConfig {
  const out: { source: Record<string, Table>; registries: Record<string, Table>; registry: Table; net: Table } = {
    source: {},
    registries: {},
    registry: {},
    net: {},
  };
  const dropped: string[] = [];
  // Farthest first, so that a closer file overwrites.
  for (const { file, text } of [...files].reverse()) {
    let doc: Table;
    try {
      doc = parse(text) as Table;
    } catch {
      continue;
    }
    const base = path.dirname(path.dirname(file));
    for (const [top, value] of Object.entries(doc)) {
      if (top in CLEAN_KEYS && isTable(value)) {
        const keep = CLEAN_KEYS[top as keyof typeof CLEAN_KEYS] as readonly string[];
        for (const [name, entry] of Object.entries(value)) {
          if (!isTable(entry)) continue;
          const tables = out[top as keyof typeof CLEAN_KEYS];
          tables[name] ??= {};
          const target = tables[name];
          for (const [key, v] of Object.entries(entry)) {
            if (!keep.includes(key) || (typeof v !== "string" && typeof v !== "boolean" && typeof v !== "number") || carriesCredentials(v)) {
              dropped.push(`${file}: ${top}.${name}.${key}`);
              continue;
            }
            target[key] = (key === "directory" || key === "local-registry") && typeof v === "string" ? path.resolve(base, v) : v;
          }
        }
      } else if (top in CLEAN_SINGLE && isTable(value)) {
        const keep = CLEAN_SINGLE[top as keyof typeof CLEAN_SINGLE] as readonly string[];
        for (const [key, v] of Object.entries(value)) {
          if (keep.includes(key)) out[top as keyof typeof CLEAN_SINGLE][key] = v;
          else dropped.push(`${file}: ${top}.${key}`);
        }
      } else {
        dropped.push(`${file}: ${top}`);
      }
    }
  }
  // cargo refuses a source without a location (but crates-io, which it knows), and a registry
  // without an index is of no use: an entry emptied above goes as a whole.
  for (const [name, entry] of Object.entries(out.source)) {
    if (name !== "crates-io" && !["directory", "local-registry", "registry", "git"].some((k) => k in entry)) {
      delete out.source[name];
      dropped.push(`source.${name} (no location left)`);
    }
  }
  for (const [name, entry] of Object.entries(out.registries)) {
    if (!("index" in entry)) {
      delete out.registries[name];
      dropped.push(`registries.${name} (no index left)`);
    }
  }
  const bool = (v: string | undefined) => (v === undefined ? undefined : v === "true" || v === "1");
  const offline = bool(env.CARGO_NET_OFFLINE);
  if (offline !== undefined) out.net.offline = offline;
  const fetchWithCli = bool(env.CARGO_NET_GIT_FETCH_WITH_CLI);
  if (fetchWithCli !== undefined) out.net["git-fetch-with-cli"] = fetchWithCli;

  const doc: Table = {};
  for (const key of ["source", "registries", "registry", "net"] as const) if (Object.keys(out[key]).length > 0) doc[key] = out[key];
  const paths = new Set<string>();
  for (const entry of Object.values(out.source)) {
    for (const key of ["directory", "local-registry"]) if (typeof entry[key] === "string") paths.add(entry[key]);
    const local = fileUrlPath(entry.registry);
    if (local) paths.add(local);
  }
  for (const entry of Object.values(out.registries)) {
    const local = fileUrlPath(entry.index);
    if (local) paths.add(local);
  }
  const header = "# A cleaned copy of your cargo configuration for a nested cargo in cratebox's sandbox: sources, registries (no tokens), net.\n";
  return { toml: header + stringify(doc), paths: [...paths], dropped };
}

/**
 * An http(s) URL with a user part (`https://user:pass@host`, `https://TOKEN@github.com/...`):
 * a credential in a source or index URL, never copied. `ssh://git@host` names a user, no secret.
 */
function carriesCredentials(v: unknown): boolean {
  return typeof v === "string" && /^(?:[a-z]+\+)?https?:\/\/[^/?#]*@/i.test(v);
}

/** `file:///srv/index`, `sparse+file:///srv/index` -> `/srv/index`; anything else undefined. */
function fileUrlPath(url: unknown): string | undefined {
  if (typeof url !== "string") return undefined;
  const m = /^(?:sparse\+|registry\+)?file:\/\/(\/[^?#]*)/.exec(url);
  return m ? decodeURIComponent(m[1]!).replace(/\/+$/, "") || "/" : undefined;
}

/**
 * What a nested cargo prints when it misses what the sandbox withholds: the configuration
 * (a replaced source, `[registries]`), the registries, or the workspace (trybuild's `cargo
 * metadata` from a member's directory). trybuild's own panics name its source file.
 */
const NESTED_CARGO_FAILURE =
  /no matching package named|failed to get `[^`]+` as a dependency|could not find `Cargo\.toml`|failed to load source for dependency|no index found for registry|registry index was not found|trybuild[-/:]/;

/** Watches a step's output for a nested cargo failing. */
export class NestedCargoWatch extends OutputWatch {
  constructor() {
    super(NESTED_CARGO_FAILURE, 60);
  }
}
