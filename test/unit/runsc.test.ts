/** gVisor's registration, which steps it can run, and the pids room it gets. */
import { describe, expect, it } from "vitest";
import { enginePidsLimit, RUNSC_PIDS, toCreateOptions } from "../../src/core/container-options.ts";
import { RUNSC_ARGS, runscCheck, runscDaemonJson, runscRefusal } from "../../src/core/runsc.ts";
import { toProbeSpec } from "../../src/core/probe-spec.ts";

const asSetUp = { path: "/usr/bin/runsc", runtimeArgs: [...RUNSC_ARGS] };

describe("runsc's registration", () => {
  it("as scripts/setup writes it runs steps without network and with a host list, and refuses network = true", () => {
    expect(runscRefusal("none", asSetUp)).toBeUndefined();
    expect(runscRefusal("proxy", asSetUp)).toBeUndefined();
    const full = runscRefusal("full", asSetUp);
    expect(full?.reason).toMatch(/network = true.*--network=none/);
    expect(full?.hint).toMatch(/network = \["host:port"\].*runtime = "runc"/);
  });

  it("without --host-uds=open refuses a proxied step, naming the flag and the daemon.json entry", () => {
    const r = runscRefusal("proxy", { path: "/usr/bin/runsc", runtimeArgs: ["--network=none"] });
    expect(r?.reason).toMatch(/--host-uds=open/);
    expect(r?.hint).toContain('"runtimeArgs":["--network=none","--host-uds=open"]');
    expect(runscRefusal("proxy", { runtimeArgs: ["--network", "none", "--host-uds", "all"] })).toBeUndefined();
    expect(runscRefusal("proxy", { runtimeArgs: ["--fsgofer-host-uds"] })).toBeUndefined();
    expect(runscRefusal("none", { runtimeArgs: null })).toBeUndefined();
  });

  it("with the engine's own network leaves network = true to it", () => {
    expect(runscRefusal("full", { runtimeArgs: ["--host-uds=open"] })).toBeUndefined();
  });

  it("doctor: registered as needed, missing flags, or not at all, each with the daemon.json entry", () => {
    expect(runscCheck({ runc: {}, runsc: asSetUp })).toMatchObject({ ok: true, detail: expect.stringContaining("--network=none --host-uds=open") });
    const bare = runscCheck({ runsc: { path: "runsc" } });
    expect(bare.ok).toBe(false);
    expect(bare.detail).toMatch(/without --network=none --host-uds=open/);
    expect(bare.fix).toContain(runscDaemonJson("runsc"));
    const none = runscCheck({ runc: {} });
    expect(none.ok).toBe(false);
    expect(none.fix).toContain(runscDaemonJson());
    expect(JSON.parse(runscDaemonJson())).toEqual({ runtimes: { runsc: { path: "/usr/bin/runsc", runtimeArgs: ["--network=none", "--host-uds=open"] } } });
  });
});

describe("the pids limit under runsc", () => {
  it("gives gVisor's own host threads room on top of the step's processes; runc gets the limit as it is", () => {
    expect(enginePidsLimit(64, "runc")).toBe(64);
    expect(enginePidsLimit(64, "runsc")).toBe(RUNSC_PIDS.base + 64 * RUNSC_PIDS.perProcess);
    const spec = toProbeSpec({ image: "i", uid: 1, gid: 1, systemPaths: [] }, { runId: "r", owner: "o" }, "p", "true", { pids: 8 });
    expect(toCreateOptions(spec).HostConfig?.PidsLimit).toBe(8);
    expect(toCreateOptions({ ...spec, runtime: "runsc" }).HostConfig).toMatchObject({
      Runtime: "runsc",
      PidsLimit: RUNSC_PIDS.base + 8 * RUNSC_PIDS.perProcess,
    });
  });
});
