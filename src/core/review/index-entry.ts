/**
 * The registry index, as cargo reads it (https://doc.rust-lang.org/cargo/reference/registry-index.html):
 * one file per package name at a path made of its first letters, one JSON line per published
 * version with its checksum (`cksum`), dependencies, `links` and, since 2025, its publication
 * time (`pubtime`); `config.json` at the root names where `.crate` files are downloaded (`dl`).
 * Pure: the runtime reads the files (a local registry, a sparse-index mirror, HTTP).
 */
import { toIndexDeps, type ManifestDep } from "./manifest.ts";

export interface IndexRecord {
  version: string;
  /** 64 lowercase hex digits, or null when the line has no valid one. */
  checksum: string | null;
  /** As written (RFC 3339), or null. */
  pubtime: string | null;
  links: string | null;
  deps: ManifestDep[];
}

/** "serde" -> "se/rd/serde", "cc" -> "2/cc", "syn" -> "3/s/syn" (names lowercased). */
export function indexPath(name: string): string {
  const n = name.toLowerCase();
  if (n.length <= 2) return `${n.length}/${n}`;
  if (n.length === 3) return `3/${n[0]}/${n}`;
  return `${n.slice(0, 2)}/${n.slice(2, 4)}/${n}`;
}

/** Every version of an index file; lines that are not JSON objects with a name and version are skipped. */
export function parseIndexFile(text: string, name: string): IndexRecord[] {
  const out: IndexRecord[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim().startsWith("{")) continue;
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (typeof raw.vers !== "string" || typeof raw.name !== "string" || raw.name.toLowerCase() !== name.toLowerCase()) continue;
    const cksum = typeof raw.cksum === "string" ? raw.cksum.toLowerCase() : "";
    out.push({
      version: raw.vers,
      checksum: /^[0-9a-f]{64}$/.test(cksum) ? cksum : null,
      pubtime: typeof raw.pubtime === "string" ? raw.pubtime : null,
      links: typeof raw.links === "string" ? raw.links : null,
      deps: toIndexDeps(raw.deps),
    });
  }
  return out;
}

/**
 * The download URL of a `.crate` from config.json's `dl`: its markers replaced, or
 * `/{crate}/{version}/download` appended when it has none (cargo's rule).
 */
export function toDownloadUrl(dl: string, name: string, version: string, checksum: string | null): string {
  const prefix = indexPath(name).split("/").slice(0, -1).join("/");
  const markers: Record<string, string> = {
    "{crate}": name,
    "{version}": version,
    "{prefix}": prefixOf(name),
    "{lowerprefix}": prefix,
    "{sha256-checksum}": checksum ?? "",
  };
  if (!Object.keys(markers).some((m) => dl.includes(m))) return `${dl.replace(/\/+$/, "")}/${name}/${version}/download`;
  return dl.replace(/\{(crate|version|prefix|lowerprefix|sha256-checksum)\}/g, (m) => encodeURIComponent(markers[m]!).replaceAll("%2F", "/"));
}

/** `{prefix}` keeps the name's case. */
function prefixOf(name: string): string {
  if (name.length <= 2) return String(name.length);
  if (name.length === 3) return `3/${name[0]}`;
  return `${name.slice(0, 2)}/${name.slice(2, 4)}`;
}
