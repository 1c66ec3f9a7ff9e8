/**
 * A step's life above the sandbox seam, against the in-memory runtime: facts -> plan -> run ->
 * outcome, with the limits, the directive firewall, the egress proxy and removal.
 */
import { describe, expect, it } from "vitest";
import { CrateboxError } from "../../src/core/errors.ts";
import type { GrantPathFacts } from "../../src/core/grant-decision.ts";
import type { HostFacts, StepRequest } from "../../src/core/sandbox-spec.ts";
import { type StepOutcome, toShimExit } from "../../src/core/step-outcome.ts";
import type { ProxyPlan, StepFacts } from "../../src/core/step-plan.ts";
import { type StepProxy, StepRunner } from "../../src/runtime/step-runner.ts";
import { grantContext } from "../helpers/grants.ts";
import { type Behaviour, MemoryRuntime } from "../helpers/memory-runtime.ts";

const target = "/work/app/target";
const program = `${target}/debug/build/foo-aaaaaaaaaaaaaaaa/build_script_build-aaaaaaaaaaaaaaaa.cratebox-real`;
const outDir = `${target}/debug/build/foo-bbbbbbbbbbbbbbbb/out`;
const known = new Set([program, outDir, "/reg/foo-1.0.0", "/usr", "/work/app", "/sysroot"]);
const realpath = (p: string) => (known.has(p) ? p : undefined);

const host: HostFacts = {
  image: "cratebox/sandbox:test",
  uid: 1000,
  gid: 1000,
  sysroot: "/sysroot",
  home: "/home/u",
  buildRoots: [target],
  systemPaths: ["/usr"],
  realpath,
  isFile: () => false,
};
const grantPaths: GrantPathFacts = { workspaceRoot: "/work/app", home: "/home/u", buildRoots: [target], realpath };

function request(phase: StepRequest["phase"] = "build-script"): StepRequest {
  return {
    phase,
    program,
    args: [],
    cwd: "/reg/foo-1.0.0",
    env: { CARGO_PKG_NAME: "foo", CARGO_PKG_VERSION: "1.0.0", CARGO_MANIFEST_DIR: "/reg/foo-1.0.0", OUT_DIR: outDir, SECRET_TOKEN: "x" },
  };
}

interface Setup {
  behave?: (b: Behaviour) => Behaviour;
  profile?: string;
  overrides?: { timeoutMs?: number };
}

function setup(s: Setup = {}) {
  const runtime = new MemoryRuntime(() => s.behave?.({}) ?? {});
  const proxies: { plan: ProxyPlan; closed: boolean }[] = [];
  const logged: string[] = [];
  const ended: StepOutcome[] = [];
  const facts: StepFacts = {
    crate: { name: "foo", version: "1.0.0", source: "registry" },
    host,
    grantPaths,
    relay: { node: "/n", script: "/r.js" },
    egressSocket: "/tmp/x/e.sock",
    traceDir: undefined,
  };
  const steps = new StepRunner({
    runtime,
    settings: { identity: { runId: "run-1", owner: "h:1:1" }, grants: grantContext(s.profile, { overrides: s.overrides ?? {} }) },
    gatherFacts: async () => facts,
    startProxy: async (plan): Promise<StepProxy> => {
      const p = { plan, closed: false };
      proxies.push(p);
      return {
        events: [],
        omitted: 0,
        close: async () => {
          p.closed = true;
        },
      };
    },
    exists: () => false,
    log: (l) => logged.push(l),
    onStepEnd: (o) => ended.push(o),
  });
  const out = { stdout: "", stderr: "" };
  const io = { stdout: (c: Buffer) => (out.stdout += c), stderr: (c: Buffer) => (out.stderr += c) };
  return { runtime, steps, proxies, logged, ended, out, io };
}

describe("StepRunner", () => {
  it("runs a build script in a labelled sandbox, relays its output, keeps the outcome and removes the sandbox", async () => {
    const t = setup({ behave: () => ({ stdout: ["cargo:rustc-cfg=has_foo\n"], stderr: ["note\n"] }) });
    const o = await t.steps.run(request(), t.io, Date.now());
    expect(o).toMatchObject({
      ok: true,
      cause: "exit",
      exitCode: 0,
      crate: "foo",
      version: "1.0.0",
      program: "build_script_build",
      containerId: "mem-1",
    });
    expect(t.out).toEqual({ stdout: "cargo:rustc-cfg=has_foo\n", stderr: "note\n" });
    const spec = t.runtime.created[0]!.spec;
    expect(spec.labels).toMatchObject({ "cratebox.run": "run-1", "cratebox.owner": "h:1:1", "cratebox.crate": "foo", "cratebox.phase": "build-script" });
    expect(spec.network).toBe("none");
    expect(spec.env.SECRET_TOKEN).toBeUndefined();
    expect(o.withheldEnv).toContain("SECRET_TOKEN");
    expect(t.steps.outcomes).toEqual([o]);
    expect(t.ended).toEqual([o]);
    await t.steps.close();
    expect(t.runtime.removed).toEqual(["mem-1"]);
    expect(toShimExit(o)).toEqual({ code: 0, stderr: "" });
  });

  it("a failing program fails the step with its own exit code", async () => {
    const t = setup({ behave: () => ({ exitCode: 3 }) });
    const o = await t.steps.run(request(), t.io);
    expect(o).toMatchObject({ ok: false, cause: "exit", exitCode: 3 });
    expect(toShimExit(o)).toEqual({ code: 3, stderr: "" });
  });

  it("names the memory limit and the process limit when the backend saw them hit", async () => {
    const oom = await setup({ behave: () => ({ exitCode: 137, oomKilled: true }) }).steps.run(request(), setup().io);
    expect(oom).toMatchObject({ cause: "memory", signal: 9 });
    expect(toShimExit(oom)).toEqual({ code: 137, signal: "SIGKILL", stderr: "" });
    const pids = await setup({ behave: () => ({ exitCode: 1, pidsLimitHit: true }) }).steps.run(request(), setup().io);
    expect(pids.cause).toBe("pids");
  });

  it("kills a step at its time limit (from cratebox.toml or the command line)", async () => {
    const t = setup({ behave: () => ({ hang: true }), overrides: { timeoutMs: 30 } });
    const o = await t.steps.run(request(), t.io);
    expect(o).toMatchObject({ cause: "timeout", ok: false, signal: 9 });
    expect(o.limits.timeoutMs).toBe(30);
    expect(t.runtime.killed).toEqual(["mem-1"]);
  });

  it("stops a step whose shim went away, and refuses new steps once interrupted", async () => {
    const t = setup({ behave: () => ({ hang: true }) });
    const gone = new AbortController();
    const running = t.steps.run(request(), t.io, Date.now(), gone.signal);
    await new Promise((r) => setTimeout(r, 10));
    gone.abort();
    expect((await running).cause).toBe("interrupted");
    t.steps.interrupt();
    await expect(t.steps.run(request(), t.io)).rejects.toMatchObject({ code: "INTERRUPTED" });
  });

  it("keeps a dangerous directive from cargo and fails the step, naming it and the grant", async () => {
    const t = setup({ behave: () => ({ stdout: ["cargo:rustc-cfg=ok\n", "cargo:rustc-link-arg=-B/tmp/planted\n"] }) });
    const o = await t.steps.run(request(), t.io);
    expect(t.out.stdout).toBe("cargo:rustc-cfg=ok\n");
    expect(o).toMatchObject({ ok: false, cause: "directive" });
    expect(o.blockedDirectives[0]!.directive).toBe("rustc-link-arg=-B/tmp/planted");
    const exit = toShimExit(o);
    expect(exit.code).toBe(101);
    expect(exit.stderr).toContain("cratebox: blocked `rustc-link-arg=-B/tmp/planted`");
  });

  it("lets a granted directive through", async () => {
    const t = setup({
      behave: () => ({ stdout: ["cargo:rustc-link-arg=-B/tmp/planted\n"] }),
      profile: 'version = 1\n[build.foo]\ndirectives = ["rustc-link-arg=-B/tmp/planted"]\n',
    });
    const o = await t.steps.run(request(), t.io);
    expect(o.ok).toBe(true);
    expect(t.out.stdout).toBe("cargo:rustc-link-arg=-B/tmp/planted\n");
  });

  it("starts an egress proxy for a host list, passes the relay to the sandbox, and closes it after the step", async () => {
    const t = setup({ behave: () => ({ exitCode: 1 }), profile: 'version = 1\n[build.foo]\nnetwork = ["static.example.org:443"]\n' });
    await t.steps.run(request(), t.io);
    expect(t.proxies).toHaveLength(1);
    expect(t.proxies[0]!.plan).toMatchObject({ hosts: ["static.example.org:443"], table: "[build.foo]", who: "foo's build script", socket: "/tmp/x/e.sock" });
    expect(t.proxies[0]!.closed).toBe(true);
    const spec = t.runtime.created[0]!.spec;
    expect(spec.network).toBe("proxy");
    expect(spec.relay?.[0]).toBe("/.cratebox/node");
  });

  it("closes the proxy also when the sandbox could not be created, and says why", async () => {
    const t = setup({
      behave: () => ({ createError: new CrateboxError("IMAGE_MISSING", "no such image") }),
      profile: 'version = 1\n[build.foo]\nnetwork = ["static.example.org:443"]\n',
    });
    await expect(t.steps.run(request(), t.io)).rejects.toMatchObject({ code: "IMAGE_MISSING" });
    expect(t.proxies[0]!.closed).toBe(true);
    expect(t.steps.outcomes).toEqual([]);
  });

  it("runs no proxy for a step without network grants", async () => {
    const t = setup();
    await t.steps.run(request(), t.io);
    expect(t.proxies).toEqual([]);
  });

  it("refuses a request the sandbox will not run, without creating anything", async () => {
    const t = setup();
    const bad = { ...request(), program: "/usr/bin/true" };
    await expect(t.steps.run(bad, t.io)).rejects.toMatchObject({ code: "SPEC_REFUSED" });
    expect(t.runtime.created).toEqual([]);
  });

  it("on close, removes whatever of its run the runtime still lists", async () => {
    const t = setup({ behave: () => ({ hang: true }) });
    const running = t.steps.run(request(), t.io);
    await new Promise((r) => setTimeout(r, 10));
    await t.steps.close();
    expect((await running).cause).toBe("interrupted");
    expect(t.runtime.removed).toContain("mem-1");
    expect(await t.runtime.list("cratebox.run", "run-1")).toEqual([]);
  });
});
