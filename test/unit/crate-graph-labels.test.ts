/** The crate graph from cargo's metadata, the labels of every sandbox, doctor's probe sandboxes. Pure. */
import { describe, expect, it } from "vitest";
import { lockKey, type RawMetadata, toCrateGraph } from "../../src/core/crate-graph.ts";
import { toLabels } from "../../src/core/labels.ts";
import { toProbeSpec } from "../../src/core/probe-spec.ts";

describe("toCrateGraph", () => {
  const meta: RawMetadata = {
    workspace_root: "/w",
    workspace_members: ["app 0.1.0 (path+file:///w)"],
    packages: [
      {
        id: "app 0.1.0 (path+file:///w)",
        name: "app",
        version: "0.1.0",
        source: null,
        manifest_path: "/w/Cargo.toml",
        targets: [{ kind: ["bin"] }],
        metadata: null,
      },
      {
        id: "sys 1.0.0 (registry+x)",
        name: "sys",
        version: "1.0.0",
        source: "registry+https://github.com/rust-lang/crates.io-index",
        manifest_path: "/reg/sys-1.0.0/Cargo.toml",
        targets: [{ kind: ["lib"] }, { kind: ["custom-build"] }],
        metadata: { cratebox: { env: ["X"] } },
      },
      {
        id: "der 1.0.0 (git+x)",
        name: "der",
        version: "1.0.0",
        source: "git+https://x#abc",
        manifest_path: "/g/der/Cargo.toml",
        targets: [{ kind: ["proc-macro"] }],
        metadata: null,
      },
    ],
    resolve: {
      nodes: [
        { id: "app 0.1.0 (path+file:///w)", deps: [{ pkg: "sys 1.0.0 (registry+x)" }, { pkg: "der 1.0.0 (git+x)" }], features: [] },
        { id: "sys 1.0.0 (registry+x)", deps: [], features: ["std", "default"] },
      ],
    },
  };
  it("keeps cargo's identity, the lock's checksum, the targets and who depends on whom", () => {
    const checksums = new Map([[lockKey("sys", "1.0.0", "registry+https://github.com/rust-lang/crates.io-index"), "e".repeat(64)]]);
    const g = toCrateGraph(meta, checksums, (p) => (p === "/reg/sys-1.0.0" ? "/real/sys" : p));
    const [app, sys, der] = g.crates;
    expect(app).toMatchObject({ source: "path", isWorkspaceMember: true, hasBuildScript: false });
    expect(sys).toMatchObject({
      source: "registry",
      checksum: "e".repeat(64),
      hasBuildScript: true,
      features: ["default", "std"],
      dependents: ["app"],
      manifestDir: "/real/sys",
      requests: { env: ["X"] },
    });
    expect(der).toMatchObject({ source: "git", isProcMacro: true });
    expect(der!.checksum).toBeUndefined();
    expect(g.byDir.get("/real/sys")?.name).toBe("sys");
  });
});

describe("toLabels", () => {
  it("labels a step and a probe with the run and its owner, so the sweep can find them", () => {
    const run = { runId: "r", owner: "h:1:2" };
    expect(toLabels(run, { crate: "foo", version: "1.0.0", phase: "test" })).toEqual({
      "cratebox.run": "r",
      "cratebox.owner": "h:1:2",
      "cratebox.crate": "foo",
      "cratebox.version": "1.0.0",
      "cratebox.phase": "test",
    });
    expect(toLabels(run, { probe: "pids" })).toEqual({ "cratebox.run": "r", "cratebox.owner": "h:1:2", "cratebox.phase": "doctor", "cratebox.probe": "pids" });
  });
});

describe("toProbeSpec", () => {
  it("is a labelled deny-by-default sandbox with the probe's limit", () => {
    const s = toProbeSpec({ image: "img", uid: 1, gid: 2, systemPaths: ["/usr"] }, { runId: "doctor-1", owner: "h:1:2" }, "pids", "echo hi", { pids: 16 });
    expect(s).toMatchObject({ image: "img", cmd: ["/bin/sh", "-c", "echo hi"], user: "1:2", network: "none", runtime: "runc" });
    expect(s.limits.pids).toBe(16);
    expect(s.mounts).toEqual([{ source: "/usr", target: "/usr", readOnly: true }]);
    expect(s.labels["cratebox.owner"]).toBe("h:1:2");
  });
});
