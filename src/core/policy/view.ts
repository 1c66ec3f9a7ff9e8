/**
 * What a policy is shown of a resolved grant: plain JSON data, no origins, no class instances.
 * Pure. The origins stay with cratebox (`profiles explain`); a policy judges values only.
 */
import type { ParsedProfile } from "../profile/parse.ts";
import type { EffectiveGrant } from "../profile/resolve.ts";
import { selectEntry } from "../profile/select.ts";
import type { GrantView } from "./schema.ts";

/**
 * `parsed` is the cratebox.toml the grant was resolved from: the selected table's pins are
 * read from it (the effective grant keeps where the table is, not what it pins).
 */
export function toGrantView(grant: EffectiveGrant, parsed: ParsedProfile): GrantView {
  const selection = grant.entry === undefined ? undefined : selectEntry(parsed, grant.crate, grant.phase);
  const data = selection?.kind === "selected" ? selection.data : undefined;
  return {
    table: grant.entry?.table ?? null,
    reviewed: grant.reviewed ?? null,
    pinned: { version: data?.version ?? null, checksum: data?.checksum ?? null },
    profiles: grant.profiles.map((p) => p.value),
    env: grant.env.map((e) => e.value.text),
    read: grant.read.map((r) => r.value),
    write: grant.write.map((w) => w.value),
    network: grant.network.value,
    hosts: grant.hosts.map((h) => h.value),
    fetch: grant.fetch.map((f) => ({ ...f.value })),
    limits: { ...grant.limits, cpus: grant.limits.cpus ?? null },
    image: grant.image?.value ?? null,
    runtime: grant.runtime.value,
  };
}
