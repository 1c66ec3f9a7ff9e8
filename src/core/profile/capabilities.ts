/**
 * The one table of capabilities a cratebox.toml table can grant. Pure.
 *
 * A grant takes several shapes on its way from cratebox.toml to a sandbox: the validated table
 * (GrantEntry, schema.ts), the resolved grant with an origin per item (EffectiveGrant,
 * resolve.ts), what a policy sees (GrantView, policy/view.ts), the flat list of explain and the
 * report (GrantSummary, grant-summary.ts), and the grant in host terms (SandboxGrant,
 * core/grant-decision.ts). The converters between them walk this table instead of naming each
 * capability, so that a new key in the schema's capability keys is a type error here until it
 * has its row, and then every shape carries it.
 *
 * Lists (env, read, write, directives, fetch, use) add up across layers without repeats; the
 * single values (network, the limits, image, runtime) come from the highest layer. `network` is
 * the one single value with a shape of its own (true, false or a host list), handled by
 * resolve.ts and the policy view explicitly.
 */
import type { GrantView } from "../policy/schema.ts";
import type { Capabilities, DefaultsTable } from "./schema.ts";

/** The capabilities that are lists: every key of a crate table but network and the sandbox keys. */
export type ListCapability = Exclude<keyof Capabilities, "network" | keyof DefaultsTable>;

/** One item of a list capability, as validated (an env pattern, a path, a fetch grant, ...). */
export type ItemOf<K extends ListCapability> = NonNullable<Capabilities[K]>[number];

/** The list fields of the policy view, and what one item there looks like. */
type ViewList = { [F in keyof GrantView]: GrantView[F] extends readonly unknown[] ? F : never }[keyof GrantView];

interface ListRow<T> {
  /** Two items with the same identity are the same grant (a layer repeating it adds nothing). */
  identity: (item: T) => string;
  /** The item in explain, the report and messages. */
  text: (item: T) => string;
  /** The field of the policy view that shows it (null: policies do not see it), and the item there. */
  policy: { field: ViewList; view: (item: T) => GrantView[ViewList][number] } | null;
}

const plain = { identity: (s: string) => s, text: (s: string) => s };

const LIST_CAPABILITIES: { readonly [K in ListCapability]-?: ListRow<ItemOf<K>> } = {
  use: { ...plain, policy: { field: "profiles", view: (p) => p } },
  env: { identity: (p) => p.text, text: (p) => p.text, policy: { field: "env", view: (p) => p.text } },
  read: { ...plain, policy: { field: "read", view: (p) => p } },
  write: { ...plain, policy: { field: "write", view: (p) => p } },
  // Policies cannot see or cap directives yet (README, "Not covered").
  directives: { ...plain, policy: null },
  fetch: { identity: (f) => f.url, text: (f) => `${f.url} sha256:${f.sha256}`, policy: { field: "fetch", view: (f) => ({ url: f.url, sha256: f.sha256 }) } },
};

export const LIST_CAPABILITY_KEYS = Object.keys(LIST_CAPABILITIES) as ListCapability[];

/** The row of a list capability, typed for its items. */
export function listRow<K extends ListCapability>(key: K): ListRow<ItemOf<K>> {
  return LIST_CAPABILITIES[key] as ListRow<ItemOf<K>>;
}
