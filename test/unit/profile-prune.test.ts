/** unmatchedReason: which cratebox.toml tables `profiles prune` removes, and the reason it prints. */
import { describe, expect, it } from "vitest";
import type { GraphCrate } from "../../src/core/crate-graph.ts";
import { unmatchedReason } from "../../src/core/profile/prune.ts";

const crate = (name: string, o: Partial<GraphCrate> = {}): GraphCrate => ({
  id: `${name} 1.0.0`,
  name,
  version: "1.0.0",
  source: "registry",
  manifestDir: `/reg/${name}`,
  hasBuildScript: false,
  isProcMacro: false,
  features: [],
  isWorkspaceMember: false,
  dependents: [],
  requests: undefined,
  ...o,
});
const graph = [
  crate("cc"),
  crate("libz-sys", { hasBuildScript: true }),
  crate("app", { source: "path", isWorkspaceMember: true }),
  crate("my-derive", { isProcMacro: true }),
];
const registry = { source: "registry" as const };

describe("unmatchedReason", () => {
  it("keeps a table that selects a crate of the graph", () => {
    expect(unmatchedReason("build", "libz-sys", registry, graph)).toBeUndefined();
    expect(unmatchedReason("test", "app", { source: "path" }, graph)).toBeUndefined();
    expect(unmatchedReason("build", "my-derive", { ...registry, "proc-macro": { reviewed: true } as never }, graph)).toBeUndefined();
  });

  it("keeps a [rustc.*] table for any crate: every crate is compiled", () => {
    expect(unmatchedReason("rustc", "cc", registry, graph)).toBeUndefined();
  });

  it("names why a table selects nothing", () => {
    expect(unmatchedReason("build", "left-pad", registry, graph)).toBe("no crate named left-pad in the build graph");
    expect(unmatchedReason("build", "cc", registry, graph)).toBe("cc has no build script");
    expect(unmatchedReason("test", "cc", registry, graph)).toMatch(/^cc is not a workspace member/);
    expect(unmatchedReason("test", "app", registry, graph)).toBe("the build graph's app is a path crate, the table selects registry crates");
  });
});
