/**
 * An effective grant as flat data: what a step got beyond the default and where each item came
 * from. Used by the run report and `cratebox profiles explain`. Pure.
 */
import { formatLimit, LIMIT_FIELDS, LIMIT_TABLE } from "./limits.ts";
import { type ItemOf, LIST_CAPABILITY_KEYS, listRow } from "./profile/capabilities.ts";
import { describeOrigin, type EffectiveGrant, type Sourced } from "./profile/resolve.ts";

interface GrantItem {
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
  for (const key of LIST_CAPABILITY_KEYS) {
    const row = listRow(key);
    for (const item of g[key] as Sourced<ItemOf<typeof key>>[]) items.push({ key, value: row.text(item.value), from: describeOrigin(item.origin) });
  }
  if (g.hosts.length > 0) for (const h of g.hosts) items.push({ key: "network", value: h.value, from: describeOrigin(h.origin) });
  else items.push({ key: "network", value: String(g.network.value), from: describeOrigin(g.network.origin) });
  if (g.cargo.value) items.push({ key: "cargo", value: "true", from: describeOrigin(g.cargo.origin) });
  for (const field of LIMIT_FIELDS) {
    items.push({ key: LIMIT_TABLE[field].key, value: formatLimit(field, g.limits[field]), from: describeOrigin(g.limitOrigins[field]) });
  }
  if (g.image) items.push({ key: "image", value: g.image.value, from: describeOrigin(g.image.origin) });
  items.push({ key: "runtime", value: g.runtime.value, from: describeOrigin(g.runtime.origin) });
  const table = g.entry ? `[${g.entry.table}] (${g.entry.file}${g.entry.line === undefined ? "" : `:${g.entry.line}`})` : null;
  return { table, items };
}
