/**
 * Real programs' own test suites under plain cargo and under cratebox (issue 17):
 * `node bench/realworld.ts [program...] [--runs N] [--ci] [--reuse] [--keep]` (scripts/realworld
 * sets up first).
 *
 * For each program (bench/realworld/programs.ts): its Debian source package (`apt-get source`,
 * adding a deb-src entry when missing), its build and dev-dependencies from Debian
 * (`librust-*-dev`, C libraries), then two fresh copies, one per tool, each with a throwaway
 * HOME and CARGO_HOME whose config.toml points crates-io at /usr/share/cargo/registry, offline,
 * as Debian's own builds do (dh-cargo drops Cargo.lock and writes that config into its
 * CARGO_HOME; so does this). Each copy is built with `cargo test --no-run` (niced, untimed for
 * the ratio), then `cargo test --no-fail-fast` runs N times per tool, the order of the two
 * alternating from one run to the next. Every run's output is read per test (libtest.ts) and
 * kept in .realworld/logs/.
 *
 * Prints one row per program: tests, passed/failed/ignored under each tool (a test counts as
 * passed only if it passed in every run), the tests whose outcome differs, and the median wall
 * time of `cargo test` per tool with their ratio. Then every test that failed under both tools,
 * with its cause, and every test that differs. Results: .realworld/results.json (the latest
 * result of each program; `--from-logs` renders them all) and .realworld/results.md.
 * Exit 1 when a test passed under plain cargo and failed under cratebox
 * in some run, or when a build succeeded under one tool only.
 */
import { execa } from "execa";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { CRATEBOX, testEnv } from "../test/helpers/run.ts";
import { DEBIAN_REGISTRY, ROOT } from "../test/helpers/workspace.ts";
import { fetchSource, installDependencies } from "./realworld/debian.ts";
import { binarySeconds, checkCounts, parseCargoTest, type Outcome, type SuiteRun } from "./realworld/libtest.ts";
import { CI_PROGRAM, findProgram, PROGRAMS, type Program } from "./realworld/programs.ts";

type Tool = "plain" | "cratebox";
const TOOLS: Tool[] = ["plain", "cratebox"];

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: "string" },
    ci: { type: "boolean", default: false },
    reuse: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    "no-install": { type: "boolean", default: false },
    "from-logs": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

const USAGE = `usage: scripts/realworld [program...] [--runs N] [--ci] [--reuse] [--keep] [--no-install] [--from-logs]
  program       any of ${PROGRAMS.map((p) => p.name).join(", ")} (default: all)
  --runs N      test runs per tool, alternating which goes first (default 3; --ci: 1)
  --ci          one small program (${CI_PROGRAM}) end to end, one run
  --reuse       keep the copies and builds of an earlier run (not fresh: for iterating only)
  --keep        keep the copies and target dirs afterwards (.realworld/work)
  --no-install  do not run apt-get (sources and dependencies already there)
  --from-logs   build nothing, run nothing: the table again from .realworld/logs and results.json
`;
if (opts.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const runs = Number(opts.runs ?? (opts.ci ? "1" : "3"));
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs wants a positive integer, got ${opts.runs}`);
const programs = opts.ci ? [findProgram(CI_PROGRAM)] : positionals.length ? positionals.map(findProgram) : PROGRAMS;

const OUT = path.join(ROOT, ".realworld");
const say = (line: string) => process.stderr.write(`[realworld] ${line}\n`);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const secs = (x: number) => (Number.isNaN(x) ? "-" : `${x.toFixed(2)} s`);
const ratio = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}x` : "-");

interface Copy {
  tool: Tool;
  dir: string;
  env: Record<string, string>;
}

interface ToolResult {
  buildS?: number;
  buildOk: boolean;
  buildError?: string;
  /** Wall time of each `cargo test` run, in run order. */
  wallS: number[];
  /** Each run's output, read per test. */
  runs: SuiteRun[];
  exitCodes: number[];
  countProblems: string[];
}

interface ProgramResult {
  program: Program;
  version: string;
  missingDevDependencies: string[];
  tools: Record<Tool, ToolResult>;
}

/** A fresh copy of the source with its own HOME and CARGO_HOME, as Debian's build sets them up. */
function makeCopy(program: Program, source: string, tool: Tool): Copy {
  const base = path.join(OUT, "work", program.name, tool);
  const dir = path.join(base, "src");
  const home = path.join(base, "home");
  const cargoHome = path.join(home, ".cargo");
  if (!(opts.reuse && existsSync(dir))) {
    rmSync(base, { recursive: true, force: true });
    cpSync(source, dir, { recursive: true });
    // Debian's dh-cargo builds without the upstream lock file: its versions are crates.io's.
    rmSync(path.join(dir, "Cargo.lock"), { force: true });
    program.prepare?.(dir);
    mkdirSync(cargoHome, { recursive: true });
    writeFileSync(
      path.join(cargoHome, "config.toml"),
      `[source.crates-io]\nreplace-with = "debian"\n\n[source.debian]\ndirectory = "${DEBIAN_REGISTRY}"\n\n[net]\noffline = true\n`,
    );
  }
  return { tool, dir, env: testEnv({ home, cargoHome }) };
}

async function cargo(copy: Copy, args: string[], niced: boolean): Promise<{ code: number; output: string; wallS: number }> {
  const command = copy.tool === "plain" ? ["cargo", ...args] : [CRATEBOX, "cargo", ...args];
  const [file, argv] = niced ? ["nice", ["-n", "10", ...command]] : [command[0]!, command.slice(1)];
  const t = performance.now();
  const res = await execa(file, argv, { cwd: copy.dir, env: copy.env, extendEnv: false, reject: false, all: true, stdin: "ignore", timeout: 3_600_000 });
  return { code: res.exitCode ?? -1, output: res.all ?? "", wallS: (performance.now() - t) / 1000 };
}

async function runProgram(program: Program): Promise<ProgramResult> {
  const sourceDir = fetchSource(program.source, path.join(OUT, "sources"), say);
  const version = path.basename(sourceDir).slice(program.source.length + 1);
  const missing = opts["no-install"] ? [] : installDependencies(program.source, sourceDir, say).missing;
  for (const a of program.adjustments) say(`${program.name}: adjustment: ${a}`);
  const copies = TOOLS.map((tool) => makeCopy(program, sourceDir, tool));
  const tools = Object.fromEntries(TOOLS.map((t) => [t, { buildOk: false, wallS: [], runs: [], exitCodes: [], countProblems: [] }])) as unknown as Record<
    Tool,
    ToolResult
  >;
  const logs = path.join(OUT, "logs", program.name);
  mkdirSync(logs, { recursive: true });

  for (const copy of copies) {
    say(`${program.name} ${version}: building the tests with ${copy.tool}`);
    const b = await cargo(copy, ["test", "--no-run", ...(program.cargoArgs ?? [])], true);
    writeFileSync(path.join(logs, `build-${copy.tool}.log`), b.output);
    const r = tools[copy.tool];
    r.buildS = b.wallS;
    r.buildOk = b.code === 0;
    if (!r.buildOk) {
      r.buildError =
        b.output
          .split("\n")
          .filter((l) => /^error/.test(l))
          .slice(0, 3)
          .join(" | ") || `exit ${b.code}`;
      say(`${program.name}: build with ${copy.tool} failed (${r.buildError}); log: ${path.join(logs, `build-${copy.tool}.log`)}`);
    } else say(`${program.name}: built with ${copy.tool} in ${secs(b.wallS)}`);
  }

  const args = ["test", "--no-fail-fast", ...(program.cargoArgs ?? []), ...(program.testArgs?.length ? ["--", ...program.testArgs] : [])];
  for (let run = 0; run < runs; run++) {
    const order = run % 2 === 0 ? copies : [...copies].reverse();
    for (const copy of order) {
      const r = tools[copy.tool];
      if (!r.buildOk) continue;
      const res = await cargo(copy, args, false);
      writeFileSync(path.join(logs, `test-${copy.tool}-${run + 1}.log`), res.output);
      const parsed = parseCargoTest(res.output);
      r.runs.push(parsed);
      r.wallS.push(res.wallS);
      r.exitCodes.push(res.code);
      for (const p of checkCounts(parsed)) r.countProblems.push(`run ${run + 1}: ${p}`);
      say(`${program.name} run ${run + 1}/${runs} ${copy.tool}: ${secs(res.wallS)}, exit ${res.code}, ${count(parsed.tests)}`);
    }
  }
  return { program, version, missingDevDependencies: missing, tools };
}

function count(tests: Map<string, Outcome>): string {
  const c = { passed: 0, failed: 0, ignored: 0 };
  for (const o of tests.values()) c[o]++;
  return `${c.passed} passed, ${c.failed} failed, ${c.ignored} ignored`;
}

/** One outcome per test over all runs of a tool: failed if it failed (or vanished) in any run. */
function settle(r: ToolResult): Map<string, { outcome: Outcome | "missing"; flaky: boolean }> {
  const names = new Set(r.runs.flatMap((s) => [...s.tests.keys()]));
  const out = new Map<string, { outcome: Outcome | "missing"; flaky: boolean }>();
  for (const name of names) {
    const seen = r.runs.map((s) => s.tests.get(name));
    const distinct = new Set(seen);
    const outcome = seen.includes("failed") ? "failed" : seen.includes(undefined) ? "missing" : seen[0]!;
    out.set(name, { outcome, flaky: distinct.size > 1 });
  }
  return out;
}

function causeOf(r: ToolResult, test: string): string {
  for (const s of r.runs) {
    const c = s.causes.get(test);
    if (c) return c;
  }
  return "(no captured output)";
}

interface Row {
  name: string;
  tests: number;
  counts: Record<Tool, string>;
  differ: string[];
  bothFail: { test: string; cause: string }[];
  /** Tests failing under both tools, but not in the same way. */
  causeDiffers: number;
  died: string[];
  medians: Record<Tool, number>;
  ratio: number;
  /** Median of libtest's own `finished in` times summed over a run's binaries: time inside them. */
  inside: Record<Tool, number>;
  regressions: number;
  buildNote?: string;
}

function toRow(p: ProgramResult): Row {
  const settled = { plain: settle(p.tools.plain), cratebox: settle(p.tools.cratebox) };
  const names = new Set([...settled.plain.keys(), ...settled.cratebox.keys()]);
  const counts = {} as Record<Tool, string>;
  for (const t of TOOLS) {
    if (!p.tools[t].buildOk) {
      counts[t] = "build failed";
      continue;
    }
    const c = { passed: 0, failed: 0, ignored: 0, missing: 0 };
    for (const v of settled[t].values()) c[v.outcome]++;
    counts[t] = `${c.passed}/${c.failed}/${c.ignored}${c.missing ? ` (+${c.missing} missing)` : ""}`;
  }
  const differ: string[] = [];
  const bothFail: { test: string; cause: string }[] = [];
  let causeDiffers = 0;
  let regressions = 0;
  for (const name of [...names].sort()) {
    const a = settled.plain.get(name);
    const b = settled.cratebox.get(name);
    if (a?.outcome === "failed" && b?.outcome === "failed") {
      const plainCause = causeOf(p.tools.plain, name);
      const crateboxCause = causeOf(p.tools.cratebox, name);
      const known = Object.entries(p.program.knownFailures ?? {}).find(([test]) => name.endsWith(` :: ${test}`))?.[1];
      // Thread ids differ from run to run; anything else that differs means another failure.
      const same = plainCause.replace(/\(\d+\)/g, "") === crateboxCause.replace(/\(\d+\)/g, "");
      if (!same) causeDiffers++;
      const seen = same ? plainCause : `plain: ${plainCause} — cratebox (differs): ${crateboxCause}`;
      bothFail.push({ test: name, cause: known ? `${known} [seen: ${seen}]` : seen });
    }
    if (a?.outcome !== b?.outcome || a?.flaky || b?.flaky) {
      const describe = (t: Tool, v?: { outcome: string; flaky: boolean }) => `${t} ${v ? v.outcome : "absent"}${v?.flaky ? " (flaky)" : ""}`;
      let line = `${name}: ${describe("plain", a)}, ${describe("cratebox", b)}`;
      if (b?.outcome === "failed") line += ` — cratebox: ${causeOf(p.tools.cratebox, name)}`;
      if (a?.outcome === "failed") line += ` — plain: ${causeOf(p.tools.plain, name)}`;
      differ.push(line);
      if (a?.outcome === "passed" && b?.outcome !== "passed" && b?.outcome !== "ignored") regressions++;
    }
  }
  const died = TOOLS.flatMap((t) =>
    p.tools[t].runs.flatMap((s, i) =>
      s.binaries.filter((b) => !b.summary).map((b) => `${t} run ${i + 1}: ${b.label} ended without a result (${b.died ?? "?"})`),
    ),
  );
  const medians = { plain: median(p.tools.plain.wallS), cratebox: median(p.tools.cratebox.wallS) };
  const inside = { plain: median(p.tools.plain.runs.map(binarySeconds)), cratebox: median(p.tools.cratebox.runs.map(binarySeconds)) };
  const buildOk = TOOLS.map((t) => p.tools[t].buildOk);
  return {
    name: `${p.program.name} ${p.version}`,
    tests: names.size,
    counts,
    differ,
    bothFail,
    causeDiffers,
    died,
    medians,
    ratio: medians.cratebox / medians.plain,
    inside,
    regressions: regressions + (buildOk[0] !== buildOk[1] ? 1 : 0),
    ...(buildOk[0] !== buildOk[1]
      ? {
          buildNote: TOOLS.filter((t) => !p.tools[t].buildOk)
            .map((t) => `${t}: ${p.tools[t].buildError}`)
            .join("; "),
        }
      : {}),
  };
}

function toMarkdown(rows: Row[], results: ProgramResult[]): string {
  const done = Math.max(0, ...results.flatMap((r) => TOOLS.map((t) => r.tools[t].wallS.length)));
  const lines = [
    `Runs per tool: ${done} (alternating order); ${cpus().length} CPUs; ${new Date().toISOString().slice(0, 10)}.`,
    "Counts are passed/failed/ignored; a test counts as passed only if it passed in every run.",
    "",
    "Times are medians: `cargo test` wall time, and (in binaries) the sum of libtest's own `finished in` over the run's test binaries.",
    "",
    "| program | tests | plain p/f/i | cratebox p/f/i | differ | plain | cratebox | ratio | in binaries: plain | cratebox | ratio |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.tests} | ${r.counts.plain} | ${r.counts.cratebox} | ${r.differ.length}${r.causeDiffers ? ` (+${r.causeDiffers} failing otherwise)` : ""} | ${secs(r.medians.plain)} | ${secs(r.medians.cratebox)} | ${ratio(r.ratio)} | ${secs(r.inside.plain)} | ${secs(r.inside.cratebox)} | ${ratio(r.inside.cratebox / r.inside.plain)} |`,
    ),
    "",
  ];
  for (const [i, r] of rows.entries()) {
    const p = results[i]!;
    const notes = [
      ...p.program.adjustments.map((a) => `adjusted: ${a}`),
      ...(p.missingDevDependencies.length ? [`dev-dependencies Debian lacks: ${p.missingDevDependencies.join(", ")}`] : []),
      ...(r.buildNote ? [`build: ${r.buildNote}`] : []),
      ...r.bothFail.map((f) => `fails under both: \`${f.test}\`: ${f.cause}`),
      ...r.differ.map((d) => `differs: ${d}`),
      ...r.died,
      ...TOOLS.flatMap((t) => p.tools[t].countProblems.map((c) => `${t}: ${c}`)),
    ];
    if (notes.length) lines.push(`**${r.name}**`, ...notes.map((n) => `- ${n}`), "");
  }
  return lines.join("\n");
}

/** The results of an earlier run, its logs read again (wall and build times from results.json). */
function fromLogs(): ProgramResult[] {
  const saved = JSON.parse(readFileSync(path.join(OUT, "results.json"), "utf8")) as {
    program: string;
    source: string;
    missingDevDependencies?: string[];
    tools: Record<Tool, { buildS?: number; buildOk: boolean; buildError?: string; wallS: number[]; exitCodes: number[] }>;
  }[];
  return saved
    .filter((r) => programs.some((p) => p.name === r.program))
    .map((r) => {
      const program = findProgram(r.program);
      const tools = {} as Record<Tool, ToolResult>;
      for (const t of TOOLS) {
        const s = r.tools[t];
        const parsed = s.wallS.map((_, i) => parseCargoTest(readFileSync(path.join(OUT, "logs", program.name, `test-${t}-${i + 1}.log`), "utf8")));
        tools[t] = { ...s, runs: parsed, countProblems: parsed.flatMap((p, i) => checkCounts(p).map((c) => `run ${i + 1}: ${c}`)) };
      }
      return { program, version: r.source.split(" ")[1] ?? "?", missingDevDependencies: r.missingDevDependencies ?? [], tools };
    });
}

async function main(): Promise<void> {
  say(`${programs.map((p) => p.name).join(", ")}; ${runs} run(s) per tool; ${cpus().length} CPUs; load ${loadavg()[0]!.toFixed(2)}`);
  const results: ProgramResult[] = [];
  if (opts["from-logs"]) results.push(...fromLogs());
  else for (const program of programs) results.push(await runProgram(program));
  const rows = results.map(toRow);
  const md = toMarkdown(rows, results);
  process.stdout.write(`${md}\n`);
  writeFileSync(path.join(OUT, "results.md"), `${md}\n`);
  // results.json keeps the latest result of every program: a run of one program replaces its own.
  const file = path.join(OUT, "results.json");
  const earlier = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { program: string }[]) : [];
  writeFileSync(
    file,
    `${JSON.stringify(
      [
        ...earlier.filter((e) => !results.some((r) => r.program.name === e.program)),
        ...results.map((p, i) => ({
          program: p.program.name,
          source: `${p.program.source} ${p.version}`,
          adjustments: p.program.adjustments,
          missingDevDependencies: p.missingDevDependencies,
          row: rows[i],
          tools: Object.fromEntries(
            TOOLS.map((t) => [
              t,
              {
                buildS: p.tools[t].buildS,
                buildOk: p.tools[t].buildOk,
                ...(p.tools[t].buildError ? { buildError: p.tools[t].buildError } : {}),
                wallS: p.tools[t].wallS,
                binaryS: p.tools[t].runs.map(binarySeconds),
                exitCodes: p.tools[t].exitCodes,
                countProblems: p.tools[t].countProblems,
                tests: p.tools[t].runs.map((s) => Object.fromEntries(s.tests)),
              },
            ]),
          ),
        })),
      ],
      null,
      2,
    )}\n`,
  );
  if (!opts.keep && !opts.reuse && !opts["from-logs"]) for (const p of programs) rmSync(path.join(OUT, "work", p.name), { recursive: true, force: true });
  const regressions = rows.reduce((n, r) => n + r.regressions, 0);
  say(
    regressions ? `${regressions} difference(s) where plain cargo passed and cratebox did not` : "no test passed under plain cargo and failed under cratebox",
  );
  process.exitCode = regressions ? 1 : 0;
}

await main();
