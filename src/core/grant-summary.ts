/**
 * An effective grant as flat data: what a step got beyond the default and where each item came
 * from. Used by the run report and `cratebox profiles explain`. Pure.
 */
import { formatLimit, LIMIT_FIELDS, LIMIT_TABLE } from "./limits.ts";
import { describeOrigin, type EffectiveGrant } from "./profile/resolve.ts";

export interface GrantItem {
  key: string;
  value: string;
  from: string;
}

export interface GrantSummary {
  /** The table that selected the crate, e.g. `[build.openssl-sys] (cratebox.toml:12)`; null: none (default deny). */
  table: string | null;
  items: GrantItem[];
}

export function toGrantSummary(g: EffectiveGrant): GrantSummary {
  const items: GrantItem[] = [];
  for (const p of g.profiles) items.push({ key: "use", value: p.value, from: describeOrigin(p.origin) });
  for (const e of g.env) items.push({ key: "env", value: e.value.text, from: describeOrigin(e.origin) });
  for (const r of g.read) items.push({ key: "read", value: r.value, from: describeOrigin(r.origin) });
  for (const w of g.write) items.push({ key: "write", value: w.value, from: describeOrigin(w.origin) });
  for (const d of g.directives) items.push({ key: "directives", value: d.value, from: describeOrigin(d.origin) });
  if (g.hosts.length > 0) for (const h of g.hosts) items.push({ key: "network", value: h.value, from: describeOrigin(h.origin) });
  else items.push({ key: "network", value: String(g.network.value), from: describeOrigin(g.network.origin) });
  for (const f of g.fetch) items.push({ key: "fetch", value: `${f.value.url} sha256:${f.value.sha256}`, from: describeOrigin(f.origin) });
  for (const field of LIMIT_FIELDS) {
    items.push({ key: LIMIT_TABLE[field].key, value: formatLimit(field, g.limits[field]), from: describeOrigin(g.limitOrigins[field]) });
  }
  if (g.image) items.push({ key: "image", value: g.image.value, from: describeOrigin(g.image.origin) });
  items.push({ key: "runtime", value: g.runtime.value, from: describeOrigin(g.runtime.origin) });
  const table = g.entry ? `[${g.entry.table}] (${g.entry.file}${g.entry.line === undefined ? "" : `:${g.entry.line}`})` : null;
  return { table, items };
}
