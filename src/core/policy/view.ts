/**
 * What a policy is shown of a resolved grant: plain JSON data, no origins, no class instances.
 * Pure. The origins stay with cratebox (`profiles explain`); a policy judges values only.
 */
import type { ParsedProfile } from "../profile/parse.ts";
import { type ItemOf, LIST_CAPABILITY_KEYS, listRow } from "../profile/capabilities.ts";
import type { EffectiveGrant, Sourced } from "../profile/resolve.ts";
import { selectEntry } from "../profile/select.ts";
import type { GrantView } from "./schema.ts";

/**
 * `parsed` is the cratebox.toml the grant was resolved from: the selected table's pins are
 * read from it (the effective grant keeps where the table is, not what it pins).
 */
export function toGrantView(grant: EffectiveGrant, parsed: ParsedProfile): GrantView {
  const selection = grant.entry === undefined ? undefined : selectEntry(parsed, grant.crate, grant.phase);
  const data = selection?.kind === "selected" ? selection.data : undefined;
  const view: GrantView = {
    table: grant.entry?.table ?? null,
    reviewed: grant.reviewed ?? null,
    pinned: {
      version: data?.version ?? null,
      checksum: data?.checksum ?? null,
      buildScript: data?.["build-script"] ?? null,
      procMacro: data?.["proc-macro"] ?? null,
    },
    profiles: [],
    env: [],
    read: [],
    write: [],
    network: grant.network.value,
    hosts: grant.hosts.map((h) => h.value),
    fetch: [],
    cargo: grant.cargo.value,
    limits: { ...grant.limits, cpus: grant.limits.cpus ?? null },
    image: grant.image?.value ?? null,
    runtime: grant.runtime.value,
  };
  for (const key of LIST_CAPABILITY_KEYS) {
    const policy = listRow(key).policy;
    if (!policy) continue;
    (view[policy.field] as unknown[]) = (grant[key] as Sourced<ItemOf<typeof key>>[]).map((i) => policy.view(i.value));
  }
  return view;
}
