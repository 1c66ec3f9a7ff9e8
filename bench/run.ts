/**
 * cratebox's benchmark: `npm run bench` (scripts/bench sets up first, then runs this file).
 *   node bench/run.ts [--pairs N] [--backends bwrap,docker] [--only start,noop,clean] [--keep]
 *
 * Plain cargo and cratebox on the same work in the same minutes, in the throwaway environment the
 * tests use (fake HOME and CARGO_HOME, the real toolchain). Every figure is a pair, plain and
 * cratebox one right after the other with the order rotating from pair to pair; the figure of
 * each pair (a ratio or a difference) is taken first, and the median of those is quoted with its
 * min–max (bench/stats.ts). Nothing here fails on a slow figure: a bound that is missed prints
 * MISS. Measured:
 *   - start: from spawning `cratebox cargo build` to cratebox spawning cargo (a stand-in cargo
 *     notes the time and execs the real one), against spawning that stand-in directly;
 *   - no-op: the same build again, on the bench workspace (without a cratebox.toml, with one, and
 *     with one and the shipped no-network policy) and on examples/demo;
 *   - clean: a fresh target directory, on each backend, with every build script and every rustc
 *     and rustdoc call sandboxed; from --report, each step's overhead (its wall time minus the
 *     sandboxed program's own run time) by kind of step, and cratebox's peak RSS.
 * Everything goes to .bench/results.json as well.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { execa } from "execa";
import { CRATEBOX, cratebox, makeFakeHome, plainCargo, type RunResult, testEnv } from "../test/helpers/run.ts";
import { makeRegistry, makeWorkspace, ROOT, tempDir } from "../test/helpers/workspace.ts";
import { formatSpread, median, pairwise, rotation, type Spread, spread, verdict } from "./stats.ts";

/** Direct dependencies; with their own dependencies they bring 30+ build scripts and ~50 packages. */
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

/**
 * A cratebox.toml as a project that uses cratebox has one: the bench workspace's -sys crates
 * granted what their build scripts read. Written for the no-op "with cratebox.toml" only (plain
 * cargo never reads it), then removed.
 */
const PROFILE = `version = 1

[build.openssl-sys]
version = "0.9"
use = ["openssl"]

[build.libz-sys]
version = "1"
use = ["pkg-config", "sys-conventions"]

[build.libsqlite3-sys]
version = "0.25"
use = ["pkg-config", "sys-conventions"]

[build.zstd-sys]
version = "2"
use = ["pkg-config", "sys-conventions"]
`;

/** The bounds of issues 12 and 13; a miss is printed, never an error. */
const BOUNDS = {
  startMs: 150,
  noopExtraS: 0.15,
  /** Clean build on the backend a Linux workstation gets (bwrap); the Docker figure is reported only. */
  cleanRatio: 1.1,
  buildScriptOverheadMs: 80,
};

/** runsc: the engine with every step under gVisor (`[defaults] runtime = "runsc"`); opt-in, it is slow. */
const BACKENDS = ["bwrap", "docker", "runsc"] as const;
type Backend = (typeof BACKENDS)[number];
type Tool = "plain" | Backend;
const PARTS = ["start", "noop", "clean"] as const;

const { values: opts } = parseArgs({
  options: {
    pairs: { type: "string", default: "5" },
    backends: { type: "string", default: "bwrap,docker" },
    only: { type: "string", default: PARTS.join(",") },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (opts.help) {
  process.stdout.write(
    [
      "usage: node bench/run.ts [--pairs N] [--backends bwrap,docker,runsc] [--only start,noop,clean] [--keep]",
      "  --pairs N      plain/cratebox pairs of each measurement (default 5)",
      "  --backends     which sandbox backends the clean builds use (default bwrap,docker; runsc: the engine under gVisor; one that does not work here is reported as such)",
      "  --only         which measurements (default all three)",
      "  --keep         keep the temporary workspaces and target directories",
      "",
    ].join("\n"),
  );
  process.exit(0);
}
const pairs = Number(opts.pairs);
if (!Number.isInteger(pairs) || pairs < 1) throw new Error(`--pairs wants a positive integer, got ${opts.pairs}`);
const wanted = (list: string, allowed: readonly string[], what: string) => {
  const items = list.split(",").filter(Boolean);
  for (const i of items) if (!allowed.includes(i)) throw new Error(`--${what}: unknown ${JSON.stringify(i)} (one of ${allowed.join(", ")})`);
  return items;
};
const backendsAsked = wanted(opts.backends, BACKENDS, "backends") as Backend[];
const parts = new Set(wanted(opts.only, PARTS, "only"));

const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const seconds = (ms: number) => ms / 1000;
const fmtS = (s: number) => `${s.toFixed(2)} s`;
const fmtMs = (ms: number) => `${Math.round(ms)} ms`;
const fmtRatio = (r: number) => `${r.toFixed(2)}x`;
const fmtPlusS = (s: number) => `${s >= 0 ? "+" : ""}${s.toFixed(2)} s`;
const fmtPlusMs = (ms: number) => `${ms >= 0 ? "+" : ""}${Math.round(ms)} ms`;
const LONG_MS = 1_800_000;

/**
 * `cratebox build` on a backend; runsc is the engine with a `[defaults] runtime = "runsc"`
 * cratebox.toml in the workspace for that build only (plain cargo never reads it).
 */
async function boxedBuild(tool: Backend, ws: string, target: string, env: Record<string, string>, extra: string[] = []): Promise<RunResult> {
  if (tool !== "runsc") return cratebox(["build", "--target-dir", target], ws, env, ["--backend", tool, ...extra], LONG_MS);
  const toml = path.join(ws, "cratebox.toml");
  writeFileSync(toml, 'version = 1\n[defaults]\nruntime = "runsc"\n');
  try {
    return await cratebox(["build", "--target-dir", target], ws, env, ["--backend", "docker", ...extra], LONG_MS);
  } finally {
    rmSync(toml, { force: true });
  }
}

function mustSucceed(what: string, res: RunResult): void {
  if (res.code !== 0) throw new Error(`${what} failed with exit code ${res.code}:\n${res.output.slice(-4000)}`);
}

/** Wall time of a command, in milliseconds. */
async function timed(run: () => Promise<RunResult>, what: string): Promise<number> {
  const t = performance.now();
  const res = await run();
  const ms = performance.now() - t;
  mustSucceed(what, res);
  return ms;
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
    bwrap: ask("bwrap", ["--version"]),
  };
}

// ---- start ---------------------------------------------------------------------------------------

/**
 * A stand-in for cargo that writes the time it was started (ns since the epoch) to $BENCH_STAMP,
 * except for `cargo metadata` (cratebox asks that before the build), then execs the real cargo.
 */
function writeStampCargo(dir: string): string {
  const file = path.join(dir, "stamp-cargo");
  writeFileSync(file, '#!/bin/sh\ncase "$1" in metadata) ;; *) date +%s%N > "$BENCH_STAMP" ;; esac\nexec cargo "$@"\n');
  chmodSync(file, 0o755);
  return file;
}

const nowEpochMs = () => performance.timeOrigin + performance.now();

/** Milliseconds from spawning `file args` to the stand-in cargo's stamp. */
async function msToStamp(file: string, args: string[], cwd: string, env: Record<string, string>, stamp: string): Promise<number> {
  rmSync(stamp, { force: true });
  const t0 = nowEpochMs();
  const res = await execa(file, args, { cwd, env: { ...env, BENCH_STAMP: stamp }, extendEnv: false, reject: false, all: true, stdin: "ignore" });
  if (res.exitCode !== 0) throw new Error(`${file} ${args.join(" ")} failed:\n${res.all}`);
  return Number(readFileSync(stamp, "utf8").trim()) / 1e6 - t0;
}

interface StartPair {
  plainMs: number;
  crateboxMs: number;
  nodeMs: number;
  versionMs: number;
}

async function measureStart(ws: string, targets: { plain: string; cratebox: string }, env: Record<string, string>, scratch: string): Promise<StartPair[]> {
  const stampCargo = writeStampCargo(scratch);
  const stamp = path.join(scratch, "stamp");
  const out: StartPair[] = [];
  const node = process.execPath;
  for (let i = 0; i < pairs; i++) {
    const m: Partial<StartPair> = {};
    const jobs: Record<keyof StartPair, () => Promise<number>> = {
      plainMs: () => msToStamp(stampCargo, ["build", "--target-dir", targets.plain], ws, env, stamp),
      crateboxMs: () => msToStamp(CRATEBOX, ["cargo", "build", "--target-dir", targets.cratebox], ws, { ...env, CARGO: stampCargo }, stamp),
      nodeMs: () => timed(() => execa(node, ["-e", "0"], { reject: false, stdin: "ignore" }).then(asRunResult), "node -e 0"),
      versionMs: () =>
        timed(() => execa(CRATEBOX, ["--version"], { env, extendEnv: false, reject: false, stdin: "ignore" }).then(asRunResult), "cratebox --version"),
    };
    for (const key of rotation(Object.keys(jobs) as (keyof StartPair)[], i)) m[key] = await jobs[key]();
    out.push(m as StartPair);
    say(
      `start ${i + 1}/${pairs}: cratebox to cargo's spawn ${fmtMs(m.crateboxMs!)} (stand-in alone ${fmtMs(m.plainMs!)}), --version ${fmtMs(m.versionMs!)}, node -e 0 ${fmtMs(m.nodeMs!)}`,
    );
  }
  return out;
}

function asRunResult(res: { exitCode?: number | undefined; stdout?: unknown; stderr?: unknown }): RunResult {
  const text = (x: unknown) => (typeof x === "string" ? x : "");
  return { code: res.exitCode ?? -1, stdout: text(res.stdout), stderr: text(res.stderr), output: text(res.stdout) + text(res.stderr) };
}

// ---- no-op -------------------------------------------------------------------------------------

interface TimedPair {
  plainMs: number;
  crateboxMs: number;
}

const NOOP_LABELS = {
  bench: "bench workspace",
  demo: "examples/demo",
  profile: "bench workspace with cratebox.toml",
  policy: "bench workspace with cratebox.toml and a policy",
} as const;
const POLICY = path.join(ROOT, "profiles/policies/no-network.js");

/** Runs `measure` with PROFILE as the workspace's cratebox.toml. */
async function withProfile<T>(ws: string, measure: () => Promise<T>): Promise<T> {
  const file = path.join(ws, "cratebox.toml");
  writeFileSync(file, PROFILE);
  try {
    return await measure();
  } finally {
    rmSync(file, { force: true });
  }
}

/**
 * No-op rebuilds of `ws`, each tool in its own target directory (built once, untimed: with
 * cratebox.toml, that build also fills the caches of the crate graph and the profiles; with a
 * policy, of its decisions).
 */
async function measureNoop(
  label: string,
  ws: string,
  env: Record<string, string>,
  scratch: string,
  { crateboxArgs = [], targetsOf = label }: { crateboxArgs?: string[]; targetsOf?: string } = {},
): Promise<TimedPair[]> {
  const targets = { plain: path.join(scratch, `noop-${targetsOf}-plain`), cratebox: path.join(scratch, `noop-${targetsOf}-cratebox`) };
  const build = {
    plain: () => plainCargo(["build", "--target-dir", targets.plain], ws, env, LONG_MS),
    cratebox: () => cratebox(["build", "--target-dir", targets.cratebox], ws, env, crateboxArgs, LONG_MS),
  };
  mustSucceed(`${label}: plain build`, await build.plain());
  mustSucceed(`${label}: cratebox build`, await build.cratebox());
  const out: TimedPair[] = [];
  for (let i = 0; i < pairs; i++) {
    const m: Partial<TimedPair> = {};
    for (const tool of rotation(["plain", "cratebox"] as const, i)) m[`${tool}Ms`] = await timed(build[tool], `${label}: ${tool} no-op`);
    out.push(m as TimedPair);
    say(`no-op ${label} ${i + 1}/${pairs}: plain ${fmtMs(m.plainMs!)}, cratebox ${fmtMs(m.crateboxMs!)}`);
  }
  return out;
}

// ---- clean -------------------------------------------------------------------------------------

interface ReportStep {
  phase: string;
  crate: string;
  ok: boolean;
  durationMs: number;
  runMs: number | null;
  overheadMs: number | null;
}
interface Report {
  peakRssBytes: number;
  cpuMs: number;
  backend: string | null;
  steps: ReportStep[];
}

interface CleanRound {
  plainMs: number;
  boxed: Partial<Record<Backend, { ms: number; report: Report }>>;
}

async function measureClean(ws: string, env: Record<string, string>, scratch: string, backends: Backend[]): Promise<CleanRound[]> {
  const out: CleanRound[] = [];
  for (let i = 0; i < pairs; i++) {
    const round: CleanRound = { plainMs: 0, boxed: {} };
    for (const tool of rotation<Tool>(["plain", ...backends], i)) {
      const target = path.join(scratch, `clean-${tool}-${i}`);
      if (tool === "plain") {
        round.plainMs = await timed(() => plainCargo(["build", "--target-dir", target], ws, env, LONG_MS), "plain clean build");
      } else {
        const reportFile = path.join(scratch, `clean-${tool}-${i}.json`);
        const ms = await timed(() => boxedBuild(tool, ws, target, env, ["--report", reportFile]), `cratebox clean build (${tool})`);
        const report = JSON.parse(readFileSync(reportFile, "utf8")) as Report;
        const failed = report.steps.filter((s) => !s.ok).map((s) => `${s.phase} ${s.crate}`);
        if (failed.length > 0) throw new Error(`sandboxed steps failed on ${tool}: ${failed.join(", ")}`);
        if (report.steps.some((s) => s.phase === "build" || s.phase === "rustc") && report.backend !== (tool === "runsc" ? "docker" : tool)) {
          throw new Error(`asked for --backend ${tool}, the report says ${report.backend}`);
        }
        round.boxed[tool] = { ms, report };
      }
      if (!opts.keep) rmSync(target, { recursive: true, force: true });
    }
    out.push(round);
    say(
      `clean ${i + 1}/${pairs}: plain ${fmtS(seconds(round.plainMs))}` +
        backends.map((b) => `, ${b} ${fmtS(seconds(round.boxed[b]!.ms))} (${round.boxed[b]!.report.steps.length} steps)`).join(""),
    );
  }
  return out;
}

/** Per kind of step (build script, rustc, rustdoc, ...): how many per build, and the overhead each. */
function stepOverheads(rounds: CleanRound[], backend: Backend): { phase: string; perBuild: number; overhead: Spread }[] {
  const steps = rounds.flatMap((r) => r.boxed[backend]?.report.steps ?? []);
  const phases = [...new Set(steps.map((s) => s.phase))];
  return phases.map((phase) => {
    const of = steps.filter((s) => s.phase === phase);
    return { phase, perBuild: of.length / rounds.length, overhead: spread(of.map((s) => s.overheadMs ?? s.durationMs)) };
  });
}

// ---- main --------------------------------------------------------------------------------------

/** Tries a small cratebox build on each backend: the image is built, caches warm, and a backend that does not work here is left out with its reason. */
async function usableBackends(registry: string, env: Record<string, string>, scratch: string): Promise<{ usable: Backend[]; unusable: string[] }> {
  const tiny = makeWorkspace({ name: "warmup", registry, files: { "build.rs": 'fn main() { println!("cargo:rerun-if-changed=build.rs"); }\n' } });
  const usable: Backend[] = [];
  const unusable: string[] = [];
  for (const b of backendsAsked) {
    const res = await boxedBuild(b, tiny, path.join(scratch, `warmup-${b}`), env);
    if (res.code === 0) usable.push(b);
    else unusable.push(`${b}: ${res.output.trim().split("\n").slice(-3).join(" / ")}`);
  }
  return { usable, unusable };
}

function demoWorkspace(scratch: string): string {
  const dir = path.join(scratch, "examples");
  cpSync(path.join(ROOT, "examples"), dir, { recursive: true });
  return path.join(dir, "demo");
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
    mustSucceed("cargo generate-lockfile", await plainCargo(["generate-lockfile", "--offline"], ws, env));
    const packages = warmSources(ws, env);
    const { usable, unusable } = await usableBackends(registry.dir, env, scratch);
    for (const u of unusable) say(`backend left out: ${u}`);
    const versions = toolVersions(env);
    say(
      `bench workspace: ${DEPENDENCIES.length} direct dependencies, ${packages} packages; ${pairs} pairs; ${cpus().length} CPUs; load ${loadavg()[0]!.toFixed(2)}`,
    );

    const noop = parts.has("noop")
      ? {
          bench: await measureNoop("bench", ws, env, scratch),
          demo: await measureNoop("demo", demoWorkspace(scratch), env, scratch),
          ...(await withProfile(ws, async () => ({
            profile: await measureNoop("profile", ws, env, scratch),
            // The same build with the shipped no-network policy too (in the same target
            // directories: its untimed first run is a no-op that fills the policies' cache).
            policy: await measureNoop("policy", ws, env, scratch, { crateboxArgs: ["--policy", POLICY], targetsOf: "profile" }),
          }))),
        }
      : undefined;
    // The start is measured on the bench workspace's no-op (each tool in its own target
    // directory: a wrapper of cratebox's makes plain cargo rebuild, and the other way round).
    let start: StartPair[] | undefined;
    if (parts.has("start")) {
      const targets = { plain: path.join(scratch, "noop-bench-plain"), cratebox: path.join(scratch, "noop-bench-cratebox") };
      if (!noop) {
        mustSucceed("plain build (for the start)", await plainCargo(["build", "--target-dir", targets.plain], ws, env, LONG_MS));
        mustSucceed("cratebox build (for the start)", await cratebox(["build", "--target-dir", targets.cratebox], ws, env, [], LONG_MS));
      }
      start = await measureStart(ws, targets, env, scratch);
    }
    const clean = parts.has("clean") ? await measureClean(ws, env, scratch, usable) : undefined;

    const rows: string[][] = [];
    const row = (what: string, plain: string, boxed: string, perPair: string, bound: string, mark: string) =>
      rows.push([what, plain, boxed, perPair, bound, mark]);
    const startExtra = start ? pairwise(start, (p) => p.crateboxMs - p.plainMs) : undefined;
    if (start && startExtra) {
      row(
        "start: `cratebox cargo build` to cargo's spawn",
        fmtMs(median(start.map((p) => p.plainMs))),
        fmtMs(median(start.map((p) => p.crateboxMs))),
        formatSpread(startExtra, fmtPlusMs),
        `<= +${BOUNDS.startMs} ms`,
        verdict(startExtra.median, BOUNDS.startMs),
      );
      row(
        "  for scale: `cratebox --version`, `node -e 0`",
        fmtMs(median(start.map((p) => p.nodeMs))),
        fmtMs(median(start.map((p) => p.versionMs))),
        formatSpread(
          pairwise(start, (p) => p.versionMs - p.nodeMs),
          fmtPlusMs,
        ),
        "",
        "",
      );
    }
    const noopFigures: Record<string, { extraS: Spread; ratio: Spread }> = {};
    for (const [label, ps] of Object.entries(noop ?? {})) {
      const extraS = pairwise(ps, (p) => seconds(p.crateboxMs - p.plainMs));
      const ratio = pairwise(ps, (p) => p.crateboxMs / p.plainMs);
      noopFigures[label] = { extraS, ratio };
      row(
        `no-op rebuild, ${NOOP_LABELS[label as keyof typeof NOOP_LABELS]}`,
        fmtS(seconds(median(ps.map((p) => p.plainMs)))),
        fmtS(seconds(median(ps.map((p) => p.crateboxMs)))),
        `${formatSpread(extraS, fmtPlusS)}; ${formatSpread(ratio, fmtRatio)}`,
        `<= +${BOUNDS.noopExtraS} s`,
        verdict(extraS.median, BOUNDS.noopExtraS),
      );
    }
    const cleanFigures: Record<string, unknown> = {};
    const stepLines: string[] = [];
    for (const b of clean ? usable : []) {
      const rounds = clean!;
      const ratio = pairwise(rounds, (r) => r.boxed[b]!.ms / r.plainMs);
      const steps = median(rounds.map((r) => r.boxed[b]!.report.steps.length));
      const amortised = pairwise(rounds, (r) => (r.boxed[b]!.ms - r.plainMs) / r.boxed[b]!.report.steps.length);
      const rss = spread(rounds.map((r) => r.boxed[b]!.report.peakRssBytes / 2 ** 20));
      const cpu = spread(rounds.map((r) => r.boxed[b]!.report.cpuMs / 1000));
      const bounded = b === "bwrap";
      row(
        `clean build, ${b} (${steps} sandboxed steps)`,
        fmtS(seconds(median(rounds.map((r) => r.plainMs)))),
        fmtS(seconds(median(rounds.map((r) => r.boxed[b]!.ms)))),
        formatSpread(ratio, fmtRatio),
        bounded ? `<= ${BOUNDS.cleanRatio}x` : "(reported)",
        bounded ? verdict(ratio.median, BOUNDS.cleanRatio) : "",
      );
      const perKind = stepOverheads(rounds, b);
      for (const k of perKind) {
        const bound = k.phase === "build" ? `  bound <= ${BOUNDS.buildScriptOverheadMs} ms ${verdict(k.overhead.median, BOUNDS.buildScriptOverheadMs)}` : "";
        stepLines.push(`  ${b}, ${k.phase} steps (${k.perBuild} per build): overhead per step ${formatSpread(k.overhead, fmtMs)}${bound}`);
      }
      stepLines.push(`  ${b}, all steps: the clean build's extra time spread over its steps ${formatSpread(amortised, fmtMs)} each`);
      stepLines.push(`  ${b}: peak RSS of cratebox's own process ${formatSpread(rss, (x) => `${Math.round(x)} MiB`)}`);
      stepLines.push(`  ${b}: CPU time of cratebox's own process ${formatSpread(cpu, fmtS)} (the build's other processes not counted)`);
      cleanFigures[b] = { ratio, steps, amortisedMsPerStep: amortised, peakRssMiB: rss, ownCpuS: cpu, perKind };
    }

    const header = ["", "plain", "cratebox", "per pair: median [min–max]", "bound", ""];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const fmtRow = (r: string[]) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd();
    const out = [
      "",
      `cratebox benchmark, ${new Date().toISOString().slice(0, 10)}: ${cpus().length} CPUs, ${pairs} pairs each; bench workspace ${packages} packages`,
      fmtRow(header),
      ...rows.map(fmtRow),
      ...(stepLines.length ? ["", "per sandboxed step (overhead: the step's wall time minus the program's own run time, from --report):", ...stepLines] : []),
      ...unusable.map((u) => `backend not measured: ${u}`),
      "",
    ];
    process.stdout.write(out.join("\n"));

    const file = path.join(ROOT, ".bench/results.json");
    mkdirSync(path.dirname(file), { recursive: true });
    const results = {
      version: 2,
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "unknown", loadAtEnd: loadavg()[0], ...versions },
      workspace: { directDependencies: DEPENDENCIES, packages },
      pairs,
      bounds: BOUNDS,
      start: start && { extraMs: startExtra, pairs: start },
      noop: noop && Object.fromEntries(Object.entries(noop).map(([k, ps]) => [k, { ...noopFigures[k], pairs: ps }])),
      clean: clean && {
        figures: cleanFigures,
        rounds: clean.map((r) => ({
          plainMs: r.plainMs,
          boxed: Object.fromEntries(
            Object.entries(r.boxed).map(([b, x]) => [
              b,
              {
                ms: x.ms,
                peakRssBytes: x.report.peakRssBytes,
                cpuMs: x.report.cpuMs,
                steps: x.report.steps.map(({ phase, crate, durationMs, runMs, overheadMs }) => ({ phase, crate, durationMs, runMs, overheadMs })),
              },
            ]),
          ),
        })),
      },
      backendsNotMeasured: unusable,
    };
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    say(`results written to ${path.relative(process.cwd(), file) || file}`);
  } finally {
    cleanup();
  }
}

await main();
