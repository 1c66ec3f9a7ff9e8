/**
 * What makes a test binary slower inside cratebox's container than on the host (issue 17,
 * item 3): `node bench/realworld/spawn.ts [--runs N] [--workloads spawn|none]
 * [--binary PATH --cwd DIR ["--args=..."]] [--variants a,b,...]` (after `source scripts/lib.sh`;
 * for --binary, a program's own build, e.g. from `scripts/realworld --keep`).
 *
 * The container is made exactly as cratebox makes one for a test binary: the request as cargo's
 * runner hands it over goes through core/sandbox-spec.ts toSandboxSpec and
 * core/container-options.ts toCreateOptions, and runs through runtime/containers.ts runContainer
 * (attach, output relay, pids polling). Each variant then changes one thing of the create
 * options (seccomp, init, the timeout wrapper, pids/memory limits, mounts, log driver, tmpfs),
 * so that each factor is measured alone, against the host running the same workload.
 *
 * Workloads: `spawn` (a shell loop spawning /bin/true 500 times; `--workloads none` leaves it
 * out) and, with --binary, a real test binary (e.g. ripgrep's integration tests, which spawn
 * `rg` hundreds of times) run in its package directory.
 * Reported: per variant and workload, medians over N runs of the workload's own wall and CPU
 * time (user+sys, from /usr/bin/time around it, inside the container as on the host: CPU time
 * stays comparable on a machine that others load), the time inside the container (engine's
 * StartedAt..FinishedAt) and the client's whole create..removed time. The host runs are
 * interleaved with the variants, run by run. SPAWN_SHOW=1 shows what the workload printed.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { realpathSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import type { ContainerCreateOptions } from "dockerode";
import { toCreateOptions } from "../../src/core/container-options.ts";
import { DEFAULT_LIMITS } from "../../src/core/limits.ts";
import { toSandboxSpec, type StepRequest } from "../../src/core/sandbox-spec.ts";
import { removeContainer, runContainer } from "../../src/runtime/containers.ts";
import { connectEngine } from "../../src/runtime/engine.ts";
import { readRunHostFacts, SysrootCache, toHostFacts } from "../../src/runtime/host-facts.ts";
import { ensureImage } from "../../src/runtime/image.ts";

const { values: opts } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    binary: { type: "string" },
    cwd: { type: "string" },
    args: { type: "string", default: "" },
    variants: { type: "string" },
    workloads: { type: "string", default: "spawn" },
  },
});
const runs = Number(opts.runs);

type Variant = { name: string; what: string; change: (o: ContainerCreateOptions) => void };

const hc = (o: ContainerCreateOptions) => o.HostConfig!;
/** Drops `/usr/bin/timeout --kill-after=5 N` from the front of the command. */
const unwrapTimeout = (o: ContainerCreateOptions) => {
  const cmd = o.Cmd as string[];
  if (cmd[0] === "/usr/bin/timeout") o.Cmd = cmd.slice(3);
};

const VARIANTS: Variant[] = [
  { name: "cratebox", what: "cratebox's exact create options", change: () => {} },
  { name: "seccomp-off", what: "SecurityOpt seccomp=unconfined", change: (o) => void (hc(o).SecurityOpt = ["no-new-privileges", "seccomp=unconfined"]) },
  { name: "no-init", what: "Init: false", change: (o) => void (hc(o).Init = false) },
  { name: "no-timeout", what: "no /usr/bin/timeout wrapper", change: unwrapTimeout },
  { name: "no-pids", what: "no PidsLimit", change: (o) => void delete hc(o).PidsLimit },
  { name: "no-memory", what: "no Memory/MemorySwap limit", change: (o) => { delete hc(o).Memory; delete hc(o).MemorySwap; } },
  { name: "caps-default", what: "default capabilities, no no-new-privileges", change: (o) => { delete hc(o).CapDrop; hc(o).SecurityOpt = []; } },
  { name: "log-json", what: "default json-file log driver", change: (o) => void delete hc(o).LogConfig },
  { name: "rw-rootfs", what: "ReadonlyRootfs false", change: (o) => void (hc(o).ReadonlyRootfs = false) },
  { name: "no-tmpfs", what: "no tmpfs (/tmp, HOME, target mask)", change: (o) => void (hc(o).Tmpfs = {}) },
  {
    name: "all-off",
    what: "seccomp off, no init, no timeout, no pids/memory limits, default caps, json log",
    change: (o) => {
      hc(o).SecurityOpt = ["seccomp=unconfined"];
      hc(o).Init = false;
      unwrapTimeout(o);
      delete hc(o).PidsLimit;
      delete hc(o).Memory;
      delete hc(o).MemorySwap;
      delete hc(o).CapDrop;
      delete hc(o).LogConfig;
    },
  },
];

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** GNU time from the host's /usr (mounted in every container): the workload's own wall and CPU. */
const TIME = ["/usr/bin/time", "-f", "TIMED %U %S %e"];

const LOOP = "i=0; while [ $i -lt 500 ]; do /bin/true; i=$((i+1)); done";

async function main(): Promise<void> {
  const docker = await connectEngine();
  const image = await ensureImage(docker);
  const rustc = execFileSync("rustup", ["which", "rustc"], { encoding: "utf8" }).trim();
  const sysroot = new SysrootCache().resolve(rustc, process.env);

  // A request as cargo's runner hands one over: the binary, its package dir as cwd, cargo's vars.
  const workloads: { name: string; program: string; args: string[]; cwd: string; buildRoot: string }[] = [];
  const names = opts.workloads.split(",");
  const scratch = realpathSync(process.env.TMPDIR ?? "/tmp");
  if (names.includes("spawn")) workloads.push({ name: "spawn", program: "/bin/sh", args: ["-c", LOOP], cwd: scratch, buildRoot: scratch });
  if (opts.binary) {
    const program = realpathSync(opts.binary);
    const cwd = realpathSync(opts.cwd ?? process.cwd());
    // <target>/debug/deps/<bin>: the build root is <target>.
    const buildRoot = path.dirname(path.dirname(path.dirname(program)));
    workloads.push({ name: path.basename(program).replace(/-[0-9a-f]{16}$/, ""), program, args: opts.args.split(" ").filter(Boolean), cwd, buildRoot });
  }
  const chosen = opts.variants ? VARIANTS.filter((v) => opts.variants!.split(",").includes(v.name)) : VARIANTS;

  for (const w of workloads) {
    const run = readRunHostFacts(image, [w.buildRoot]);
    const req: StepRequest = {
      phase: "test",
      program: w.program,
      args: w.args,
      cwd: w.cwd,
      env: { CARGO_MANIFEST_DIR: w.cwd, CARGO_PKG_NAME: "bench", CARGO_PKG_VERSION: "0.0.0", RUST_TEST_THREADS: "2" },
    };
    const facts = toHostFacts(run, sysroot, "test", w.program);
    const spec = toSandboxSpec(req, facts, DEFAULT_LIMITS, { "cratebox.bench": "spawn" });
    const base = toCreateOptions(spec);
    process.stdout.write(`\n## ${w.name}: ${[w.program, ...w.args].join(" ").slice(0, 100)}\n`);
    process.stdout.write(`mounts: ${spec.mounts.length} binds, ${spec.tmpfs.length} tmpfs\n\n`);
    process.stdout.write("| variant | what | wall | CPU (user+sys) | CPU vs host | inside container | client create..removed |\n| --- | --- | --- | --- | --- | --- | --- |\n");

    // Interleave the host and the variants run by run, so that machine noise spreads over all.
    type Sample = { wall: number[]; cpu: number[]; inside: number[]; client: number[] };
    const samples = new Map<string, Sample>([["host", { wall: [], cpu: [], inside: [], client: [] }], ...chosen.map((v) => [v.name, { wall: [], cpu: [], inside: [], client: [] }] as [string, Sample])]);
    const record = (name: string, timeLine: string, inside: number, client: number) => {
      const m = /TIMED (\S+) (\S+) (\S+)/.exec(timeLine);
      const s = samples.get(name)!;
      s.cpu.push(m ? (Number(m[1]) + Number(m[2])) * 1000 : NaN);
      s.wall.push(m ? Number(m[3]) * 1000 : NaN);
      s.inside.push(inside);
      s.client.push(client);
    };
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const host = spawnSync(TIME[0]!, [...TIME.slice(1), w.program, ...w.args], { cwd: w.cwd, encoding: "utf8", env: { ...req.env, PATH: "/usr/bin:/bin" } });
      const hostMs = performance.now() - t0;
      record("host", host.stderr, hostMs, hostMs);
      for (const v of chosen) {
        const o = structuredClone(base);
        v.change(o);
        // /usr/bin/time right around the program, after the timeout wrapper when there is one.
        const cmd = o.Cmd as string[];
        const at = cmd[0] === "/usr/bin/timeout" ? 3 : 0;
        o.Cmd = [...cmd.slice(0, at), ...TIME, ...cmd.slice(at)];
        let err = "";
        const t = performance.now();
        const r = await runContainer(docker, o, { stdout: (c) => { if (process.env.SPAWN_SHOW) process.stderr.write(c); }, stderr: (c) => void (err += c.toString()) }, new AbortController().signal);
        if (process.env.SPAWN_SHOW) process.stderr.write(err);
        await removeContainer(docker, r.id);
        const client = performance.now() - t;
        if (r.exit.exitCode !== 0) process.stderr.write(`${v.name}: exit ${r.exit.exitCode}\n`);
        record(v.name, err, r.runMs ?? NaN, client);
      }
    }
    const host = samples.get("host")!;
    for (const [name, s] of samples) {
      const what = name === "host" ? "no container" : chosen.find((v) => v.name === name)!.what;
      process.stdout.write(
        `| ${name} | ${what} | ${median(s.wall).toFixed(0)} ms | ${median(s.cpu).toFixed(0)} ms | ${(median(s.cpu) / median(host.cpu)).toFixed(2)}x | ${median(s.inside).toFixed(0)} ms | ${median(s.client).toFixed(0)} ms |\n`,
      );
    }
  }
}

await main();
