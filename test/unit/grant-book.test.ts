/**
 * GrantBook.crateAt without cratebox.toml: a workspace member's step is answered from the
 * members `cargo metadata --no-deps` listed, without reading the whole crate graph; any other
 * crate reads it (once).
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { type CrateGraph, type RawMetadata, toCrateGraph } from "../../src/core/crate-graph.ts";
import { GrantBook } from "../../src/runtime/grants.ts";
import { loadBuiltins, loadProfile } from "../../src/runtime/profile-files.ts";
import { tempDir } from "../helpers/workspace.ts";

function metadata(root: string, withDependency: boolean): RawMetadata {
  const pkg = (name: string, dir: string, source: string | null) => ({
    id: `${name} 1.0.0`,
    name,
    version: "1.0.0",
    source,
    manifest_path: path.join(dir, "Cargo.toml"),
    targets: [{ kind: ["lib"], name }],
    metadata: null,
  });
  const app = pkg("app", root, null);
  const dep = pkg("dep", path.join(root, "registry/dep"), "registry+https://github.com/rust-lang/crates.io-index");
  return {
    workspace_root: root,
    workspace_members: [app.id],
    packages: withDependency ? [app, dep] : [app],
    resolve: withDependency ? { nodes: [{ id: app.id, deps: [{ pkg: dep.id }], features: ["default"] }] } : null,
  };
}

function book(): { grants: GrantBook; loads: () => number; root: string } {
  const root = tempDir("cratebox-book-");
  mkdirSync(path.join(root, "registry/dep"), { recursive: true });
  const identity = (p: string) => p;
  let loads = 0;
  const full: CrateGraph = toCrateGraph(metadata(root, true), new Map(), identity);
  const grants = new GrantBook(loadProfile(root), loadBuiltins(), undefined, {});
  grants.loadGraphLazily(
    async () => {
      loads++;
      return full;
    },
    toCrateGraph(metadata(root, false), new Map(), identity),
  );
  return { grants, loads: () => loads, root };
}

describe("GrantBook.crateAt, no cratebox.toml", () => {
  it("finds a workspace member among the members, without reading the crate graph", async () => {
    const { grants, loads, root } = book();
    const app = await grants.crateAt(root);
    expect(app).toMatchObject({ name: "app", source: "path", isWorkspaceMember: true });
    expect(grants.workspaceRoot).toBe(root);
    expect(loads()).toBe(0);
  });

  it("reads the crate graph once for a crate that is not a member, then answers from it", async () => {
    const { grants, loads, root } = book();
    const [dep, again] = await Promise.all([grants.crateAt(path.join(root, "registry/dep")), grants.crateAt(path.join(root, "registry/dep"))]);
    expect(dep).toMatchObject({ name: "dep", source: "registry", isWorkspaceMember: false });
    expect(again).toBe(dep);
    // the member now comes from the whole graph (its features resolved)
    expect(await grants.crateAt(root)).toMatchObject({ name: "app", features: ["default"] });
    expect(loads()).toBe(1);
  });
});
