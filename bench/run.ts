/**
 * cratebox's benchmark: `node bench/run.ts [--runs N] [--keep]` (scripts/bench sets up first).
 *
 * One real workspace over Debian's crate sources (/usr/share/cargo/registry) with a few dozen
 * build scripts: rustc-version probes, code generators, C through the cc crate, pkg-config probes
 * of system libraries and bindgen. Built with plain cargo and with cratebox in the same run, in
 * the same throwaway environment the tests use (fake HOME and CARGO_HOME, the real toolchain):
 *   - clean build (fresh target dir) and no-op rebuild (same command again), N times each,
 *     the order of plain and cratebox alternating from one run to the next;
 *   - from cratebox's --report: per build script, the client's wall time minus the container's
 *     own run time (`overheadMs`).
 * Prints the medians next to the targets (PASS/MISS, never a failure exit) and writes everything
 * to .bench/results.json.
 */
import { execFileSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { cratebox, makeFakeHome, plainCargo, testEnv, type RunResult } from "../test/helpers/run.ts";
import { makeRegistry, makeWorkspace, ROOT, tempDir } from "../test/helpers/workspace.ts";

/** Direct dependencies; with their own dependencies they bring 30+ build scripts. */
const DEPENDENCIES = [
  'serde = { version = "1", features = ["derive"] }',
  'serde_json = "1"',
  'proc-macro2 = "1"',
  'syn = "1"',
  'libc = "0.2"',
  'typenum = "1"',
  'generic-array = "0.14"',
  'anyhow = "1"',
  'thiserror = "1"',
  'memchr = "2"',
  'crc32fast = "1"',
  'num-traits = "0.2"',
  'httparse = "1"',
  'log = "0.4"',
  'unicase = "2"',
  'crossbeam-utils = "0.8"',
  'rayon = "1"',
  'libz-sys = "1"',
  'openssl-sys = "0.9"',
  'libsqlite3-sys = "0.25"',
  'zstd-sys = "2"',
  'bzip2-sys = "0.1"',
  'lzma-sys = "0.1"',
];

const TARGETS = { cleanRatio: 1.25, noopExtraS: 0.5, overheadMs: 250 };

type Tool = "plain" | "cratebox";

interface Step {
  crate: string;
  ok: boolean;
  durationMs: number;
  runMs: number | null;
  overheadMs: number | null;
}

interface Sample {
  run: number;
  tool: Tool;
  order: number;
  cleanS: number;
  noopS: number;
  /** CPU seconds of the clean build: this process's children (cargo or cratebox and below), and
   * the whole machine minus those (the engine's daemons for cratebox, and anything else running). */
  cleanCpuS: number;
  cleanOtherCpuS: number;
  loadAtStart: number;
  /** cratebox only: the clean build's report steps, and how many steps the no-op ran. */
  steps?: Step[];
  noopSteps?: number | undefined;
  /** Build-script run directories the clean build left (those with an `output` file). */
  runDirs: number;
}

const { values: opts } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (opts.help) {
  process.stdout.write(
    "usage: node bench/run.ts [--runs N] [--keep]\n  --runs N  clean + no-op builds per tool (default 3)\n  --keep    keep the temporary workspace and target dirs\n",
  );
  process.exit(0);
}
const runs = Number(opts.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs wants a positive integer, got ${opts.runs}`);

const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const verdict = (ok: boolean) => (ok ? "PASS" : "MISS");

function mustSucceed(what: string, res: RunResult): void {
  if (res.code !== 0) throw new Error(`${what} failed with exit code ${res.code}:\n${res.output.slice(-4000)}`);
}

const CLK_TCK = 100;

/** CPU seconds of this process's waited-for children and their descendants (Linux). */
function childrenCpuS(): number {
  const fields = readFileSync("/proc/self/stat", "utf8")
    .replace(/^.*\) /s, "")
    .split(" ");
  // After "pid (comm) ": state is field 3, so cutime (16) and cstime (17) are at 13 and 14.
  return (Number(fields[13]) + Number(fields[14])) / CLK_TCK;
}

/** Busy CPU seconds of the whole machine since boot (Linux). */
function machineBusyS(): number {
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) / CLK_TCK;
}

function countRunDirs(target: string): number {
  const build = path.join(target, "debug/build");
  return readdirSync(build).filter((d) => {
    try {
      return statSync(path.join(build, d, "output")).isFile();
    } catch {
      return false;
    }
  }).length;
}

/** Reads every source file of the workspace's packages once, so no tool pays for a cold cache. */
function warmSources(ws: string, env: Record<string, string>): number {
  const meta = JSON.parse(
    execFileSync("cargo", ["metadata", "--format-version", "1", "--offline"], { cwd: ws, env, encoding: "utf8", maxBuffer: 64 << 20 }),
  ) as { packages: { manifest_path: string }[] };
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) readFileSync(p);
    }
  };
  for (const pkg of meta.packages) walk(path.dirname(pkg.manifest_path));
  return meta.packages.length;
}

function toolVersions(env: Record<string, string>): Record<string, string> {
  const ask = (file: string, args: string[]) => {
    try {
      return execFileSync(file, args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
      return "unknown";
    }
  };
  return {
    node: process.version,
    cargo: ask("cargo", ["--version"]),
    rustc: ask("rustc", ["--version"]),
    docker: ask("docker", ["version", "--format", "{{.Server.Version}}"]),
  };
}

async function main(): Promise<void> {
  const registry = makeRegistry();
  const fake = makeFakeHome();
  const env = testEnv(fake);
  const ws = makeWorkspace({ name: "bench-app", registry: registry.dir, dependencies: DEPENDENCIES });
  const scratch = tempDir("cratebox-bench-");
  const cleanup = () => {
    if (opts.keep) return say(`kept: workspace ${ws}, targets ${scratch}, registry ${registry.dir}, home ${fake.home}`);
    for (const d of [scratch, ws, registry.dir, fake.home]) rmSync(d, { recursive: true, force: true });
  };

  try {
    // Untimed preparation: the lock file (so no build resolves), warm source files, and one tiny
    // cratebox build so the sandbox image exists and the engine has started a container before.
    mustSucceed("cargo generate-lockfile", await plainCargo(["generate-lockfile", "--offline"], ws, env));
    const packages = warmSources(ws, env);
    const tiny = makeWorkspace({
      name: "warmup",
      registry: registry.dir,
      files: { "build.rs": 'fn main() { println!("cargo:rerun-if-changed=build.rs"); }\n' },
    });
    mustSucceed("warm-up cratebox build", await cratebox(["build", "--target-dir", path.join(scratch, "warmup")], tiny, env));
    rmSync(tiny, { recursive: true, force: true });
    const versions = toolVersions(env);
    say(`workspace: ${DEPENDENCIES.length} direct dependencies, ${packages} packages; ${runs} run(s); ${cpus().length} CPUs; load ${loadavg()[0]!.toFixed(2)}`);

    const samples: Sample[] = [];
    for (let run = 0; run < runs; run++) {
      const order: Tool[] = run % 2 === 0 ? ["plain", "cratebox"] : ["cratebox", "plain"];
      for (const [i, tool] of order.entries()) {
        const target = path.join(scratch, `${tool}-${run}`);
        const report = path.join(scratch, `${tool}-${run}.json`);
        const build = () =>
          tool === "plain"
            ? plainCargo(["build", "--target-dir", target], ws, env)
            : cratebox(["build", "--target-dir", target], ws, env, ["--report", report]);
        const loadAtStart = loadavg()[0]!;
        const [cpu0, busy0] = [childrenCpuS(), machineBusyS()];
        let t = performance.now();
        const clean = await build();
        const cleanS = (performance.now() - t) / 1000;
        const cleanCpuS = childrenCpuS() - cpu0;
        const cleanOtherCpuS = Math.max(0, machineBusyS() - busy0 - cleanCpuS);
        mustSucceed(`${tool} clean build`, clean);
        const steps = tool === "cratebox" ? (JSON.parse(readFileSync(report, "utf8")) as { steps: Step[] }).steps : undefined;
        t = performance.now();
        const noop = await build();
        const noopS = (performance.now() - t) / 1000;
        mustSucceed(`${tool} no-op build`, noop);
        const noopSteps = tool === "cratebox" ? (JSON.parse(readFileSync(report, "utf8")) as { steps: Step[] }).steps.length : undefined;
        const sample: Sample = {
          run,
          tool,
          order: i,
          cleanS,
          noopS,
          cleanCpuS,
          cleanOtherCpuS,
          loadAtStart,
          runDirs: countRunDirs(target),
          ...(steps ? { steps, noopSteps } : {}),
        };
        samples.push(sample);
        say(
          `run ${run + 1}/${runs} ${tool.padEnd(8)} clean ${cleanS.toFixed(2)} s (CPU ${cleanCpuS.toFixed(1)} s own, ${cleanOtherCpuS.toFixed(1)} s rest of the machine), ` +
            `no-op ${noopS.toFixed(3)} s${steps ? `, ${steps.length} build scripts sandboxed` : ""}${noopSteps ? `, NOTE: the no-op rebuild ran ${noopSteps}` : ""}`,
        );
        if (!opts.keep) rmSync(target, { recursive: true, force: true });
      }
    }

    const of = (tool: Tool) => samples.filter((s) => s.tool === tool);
    const cleanPlain = median(of("plain").map((s) => s.cleanS));
    const cleanBoxed = median(of("cratebox").map((s) => s.cleanS));
    const noopPlain = median(of("plain").map((s) => s.noopS));
    const noopBoxed = median(of("cratebox").map((s) => s.noopS));
    const steps = of("cratebox").flatMap((s) => s.steps ?? []);
    // A step without the engine's timestamps has no overheadMs: its whole wall time counts.
    const untimed = steps.filter((s) => s.overheadMs === null).length;
    const overheads = steps.map((s) => s.overheadMs ?? s.durationMs);
    const overhead = median(overheads);
    const buildScripts = median(of("cratebox").map((s) => s.steps?.length ?? 0));
    const runDirs = median(of("cratebox").map((s) => s.runDirs));
    const failed = steps.filter((s) => !s.ok).map((s) => s.crate);
    if (failed.length > 0) throw new Error(`sandboxed build scripts failed: ${failed.join(", ")}`);

    const cpuPlain = median(of("plain").map((s) => s.cleanCpuS));
    const cpuBoxed = median(of("cratebox").map((s) => s.cleanCpuS));
    const otherPlain = median(of("plain").map((s) => s.cleanOtherCpuS));
    const otherBoxed = median(of("cratebox").map((s) => s.cleanOtherCpuS));
    const ratio = cleanBoxed / cleanPlain;
    const noopExtra = noopBoxed - noopPlain;
    const pass = { clean: ratio <= TARGETS.cleanRatio, noop: noopExtra <= TARGETS.noopExtraS, overhead: overhead <= TARGETS.overheadMs };
    const out = [
      "",
      `cratebox benchmark: ${buildScripts} build scripts (${runDirs} build-script run dirs), ${packages} packages, ${runs} run(s) per tool, ${cpus().length} CPUs`,
      `  clean build    plain ${cleanPlain.toFixed(2)} s   cratebox ${cleanBoxed.toFixed(2)} s   ratio ${ratio.toFixed(2)}x        target <= ${TARGETS.cleanRatio}x    ${verdict(pass.clean)}`,
      `  no-op rebuild  plain ${noopPlain.toFixed(2)} s   cratebox ${noopBoxed.toFixed(2)} s   difference ${noopExtra >= 0 ? "+" : ""}${noopExtra.toFixed(2)} s  target <= +${TARGETS.noopExtraS} s   ${verdict(pass.noop)}`,
      `  overhead per build script (median of ${overheads.length}): ${Math.round(overhead)} ms   target <= ${TARGETS.overheadMs} ms   ${verdict(pass.overhead)}`,
      `    client wall time median ${Math.round(median(steps.map((s) => s.durationMs)))} ms, container run time median ${Math.round(median(steps.flatMap((s) => (s.runMs === null ? [] : [s.runMs]))))} ms` +
        (untimed ? `; ${untimed} step(s) without engine run time, counted as all overhead` : ""),
      `  clean-build CPU  plain ${cpuPlain.toFixed(1)} s own + ${otherPlain.toFixed(1)} s rest of the machine   cratebox ${cpuBoxed.toFixed(1)} s own + ${otherBoxed.toFixed(1)} s rest of the machine (engine daemons, other processes)`,
      `  (medians over ${runs} run(s); order alternates plain/cratebox per run; times include process start-up of cargo or cratebox)`,
      ...(otherPlain > 0.1 * cpuPlain
        ? [`  NOTE: other processes used ${otherPlain.toFixed(1)} CPU s during plain clean builds: the machine was not idle, the figures are noisy`]
        : []),
      "",
    ];
    process.stdout.write(out.join("\n"));

    const results = {
      version: 1,
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "unknown", ...versions },
      workspace: { directDependencies: DEPENDENCIES, packages, buildScripts, buildScriptRunDirs: runDirs },
      runs,
      targets: TARGETS,
      clean: {
        plainS: round(cleanPlain),
        crateboxS: round(cleanBoxed),
        ratio: round(ratio),
        pass: pass.clean,
        cpuS: {
          plainOwn: round(cpuPlain, 2),
          plainRestOfMachine: round(otherPlain, 2),
          crateboxOwn: round(cpuBoxed, 2),
          crateboxRestOfMachine: round(otherBoxed, 2),
        },
      },
      noop: { plainS: round(noopPlain), crateboxS: round(noopBoxed), differenceS: round(noopExtra), pass: pass.noop },
      overheadPerBuildScript: {
        medianMs: overhead,
        pass: pass.overhead,
        steps: overheads.length,
        stepsWithoutRunMs: untimed,
        medianDurationMs: median(steps.map((s) => s.durationMs)),
        medianRunMs: median(steps.flatMap((s) => (s.runMs === null ? [] : [s.runMs]))),
      },
      samples: samples.map((s) => ({
        run: s.run,
        tool: s.tool,
        order: s.order,
        cleanS: round(s.cleanS),
        noopS: round(s.noopS),
        cleanCpuS: round(s.cleanCpuS, 2),
        cleanOtherCpuS: round(s.cleanOtherCpuS, 2),
        loadAtStart: s.loadAtStart,
        runDirs: s.runDirs,
        ...(s.steps
          ? { noopSteps: s.noopSteps, steps: s.steps.map(({ crate, durationMs, runMs, overheadMs }) => ({ crate, durationMs, runMs, overheadMs })) }
          : {}),
      })),
    };
    const file = path.join(ROOT, ".bench/results.json");
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    say(`results written to ${path.relative(process.cwd(), file) || file}`);
  } finally {
    cleanup();
  }
}

await main();
