/**
 * A sandboxed step's outcome as data, the same shape whether it passed or failed, and the one
 * line that explains a failure. Pure.
 */
import { OutputWatch } from "./output-watch.ts";
import type { EgressEvent } from "./egress.ts";
import { EXIT } from "./errors.ts";
import type { GrantSummary } from "./grant-summary.ts";
import { COMMAND_LINE_ORIGIN } from "./profile/resolve.ts";
import { defaultSourceOf } from "./profile/select.ts";
import type { TraceDenials } from "./trace.ts";
import { DEFAULT_LIMITS, formatDuration, formatSize, LIMIT_TABLE, type Limits } from "./limits.ts";
import { isCompilerPhase, phaseText, toGrantPhase, type Phase } from "./phase.ts";

/** What the engine and the orchestrator observed when the container ended. */
export interface ContainerExit {
  exitCode: number;
  oomKilled: boolean;
  /** The pids cgroup refused at least one fork (undefined: could not be read). */
  pidsLimitHit: boolean | undefined;
  /** Set when the orchestrator ended the container itself. */
  stoppedBy?: "timeout" | "interrupt" | "client-gone";
}

export type Cause = "exit" | "signal" | "memory" | "pids" | "timeout" | "interrupted" | "fallback-timeout" | "directive";

export interface StepOutcome {
  phase: Phase;
  crate: string;
  version: string;
  /** File name of the program that ran (a test binary's name tells which test target). */
  program: string;
  /** The crate's source directory (CARGO_MANIFEST_DIR). */
  manifestDir: string;
  image: string;
  containerId: string;
  /** The backend that ran it (docker, bwrap). */
  backend: string;
  ok: boolean;
  cause: Cause;
  exitCode: number;
  /** Signal number when the process died of one (exit code 128+n from the container's init). */
  signal: number | undefined;
  durationMs: number;
  /** Time inside the container process, as the engine measured it. */
  runMs: number | undefined;
  limits: Limits;
  /** The grant applied and where each part came from. */
  grant: GrantSummary;
  /** What the step asked for or was handed that the sandbox withheld (names only, never values). */
  withheldEnv: string[];
  withheldPaths: { path: string; reason: string }[];
  /** Directives the firewall kept from cargo (build scripts only). */
  blockedDirectives: { directive: string; reason: string }[];
  /** Host variables the script declared it reads (rerun-if-env-changed) that were withheld. */
  askedWithheld: string[];
  /** Where cargo resolved the crate from (grant snippets must say so unless "registry"). */
  source: "registry" | "path" | "git";
  /** Learn mode: what it tried beyond its view (from the trace). */
  denials?: TraceDenials;
  /**
   * Its output reported a missing, read-only or forbidden file (`No such file or directory`,
   * `os error 30`, ...): the likeliest sign of a path the sandbox hides (runner phases).
   */
  fileErrorSeen?: boolean;
  /** Its output showed a nested cargo (trybuild) failing: `no matching package named`, a missing `Cargo.toml`, ... (runner phases). */
  nestedCargoSeen?: boolean;
  /** Compiler phases: variables `env!` asked for and files `include_str!` could not read (from its diagnostics). */
  compileMissing?: { envMissing: string[]; unreadable: string[] };
  /** none; full (`network = true`); proxy (a host list or fetch grants, through the egress proxy). */
  network: "none" | "full" | "proxy";
  /** What the egress proxy allowed and refused (proxied steps only), the first 500. */
  egress: EgressEvent[];
  /** Events beyond those kept. */
  egressOmitted?: number;
}

/** The head of a pinned grant for this step's crate, as cratebox.toml wants it. */
function tableHead(o: StepOutcome): string {
  const scope = toGrantPhase(o.phase);
  return `[${scope}.${o.crate}] version = "=${o.version}"${o.source === defaultSourceOf(scope) ? "" : ` source = "${o.source}"`}`;
}

const SIGNAL_NAMES: Record<number, string> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  4: "SIGILL",
  5: "SIGTRAP",
  6: "SIGABRT",
  7: "SIGBUS",
  8: "SIGFPE",
  9: "SIGKILL",
  11: "SIGSEGV",
  13: "SIGPIPE",
  14: "SIGALRM",
  15: "SIGTERM",
};

function signalName(n: number): string {
  return SIGNAL_NAMES[n] ?? `signal ${n}`;
}

/**
 * Signals a program raises on itself (abort(), a failed C assertion, a double panic, std's
 * IO-safety check, a crash): they end it the same way outside the sandbox. The sandbox's own are
 * SIGKILL (a limit, a stop) and SIGSYS (seccomp); SIGBUS can also mean a full tmpfs.
 */
const SELF_INFLICTED = new Set([4, 5, 6, 8, 11]);

/**
 * cargo's name for a binary it runs, without the hash of its file name:
 * `target/debug/deps/integration-0123456789abcdef` -> `integration` (`--test integration`).
 */
export function toTargetName(program: string): string {
  return program
    .replace(/^.*\//, "")
    .replace(/\.cratebox-real$/, "")
    .replace(/-[0-9a-f]{16}$/, "");
}

/** Error texts of a file the sandbox hides, keeps read-only or small (Rust's io::Error, C's strerror). */
const FILE_ERROR =
  /No such file or directory|os error 2\b|kind: NotFound|Read-only file system|os error 30\b|Permission denied|os error 13\b|No space left on device|os error 28\b|no matching package named .* found/;

/** Watches a step's output for FILE_ERROR. */
export class FileErrorWatch extends OutputWatch {
  constructor() {
    super(FILE_ERROR, 40);
  }
}

/** GNU timeout's status when the backstop fired (124, or 137 after --kill-after). */
const FALLBACK_TIMEOUT_CODE = 124;

/**
 * `backstop`: the spec's backstop and how long the program ran; a 124 is the backstop's only when
 * the program ran that long (else it is the program's own exit code).
 */
export function toCause(exit: ContainerExit, backstop?: { seconds: number | undefined; runMs: number | undefined }): Cause {
  if (exit.stoppedBy === "timeout") return "timeout";
  if (exit.stoppedBy === "interrupt" || exit.stoppedBy === "client-gone") return "interrupted";
  if (exit.oomKilled) return "memory";
  if (exit.exitCode === 0) return "exit";
  if (exit.pidsLimitHit) return "pids";
  const fired = backstop?.seconds !== undefined && backstop.runMs !== undefined && backstop.runMs >= backstop.seconds * 1000;
  if (exit.exitCode === FALLBACK_TIMEOUT_CODE && fired) return "fallback-timeout";
  if (exit.exitCode > 128 && exit.exitCode < 160) return "signal";
  return "exit";
}

export function toSignal(exit: ContainerExit, cause: Cause): number | undefined {
  if (cause === "memory" || cause === "timeout" || cause === "interrupted") return 9;
  if (exit.exitCode > 128 && exit.exitCode < 160) return exit.exitCode - 128;
  return undefined;
}

/**
 * How to raise a limit the step hit. The value offered is cratebox's default where the limit was
 * below it (twice a tiny limit helps nobody), else twice the limit. A limit from the command line
 * is raised there, since it wins over cratebox.toml; else the grant for this crate, or the flag
 * for one run.
 */
function raiseHint(o: StepOutcome, field: "memoryBytes" | "timeoutMs" | "pids"): string {
  const { key, flag, format } = LIMIT_TABLE[field];
  const current = o.limits[field];
  const value = format(current < DEFAULT_LIMITS[field] ? DEFAULT_LIMITS[field] : current * 2).replace(" ", "");
  const onCommandLine = o.grant.items.some((i) => i.key === key && i.from === COMMAND_LINE_ORIGIN);
  if (onCommandLine) return `set with --${flag} on the command line, which wins over cratebox.toml: \`cratebox --${flag} ${value} cargo ...\``;
  const toml = /^\d+$/.test(value) ? value : JSON.stringify(value);
  return `raise it in cratebox.toml: ${tableHead(o)} ${key} = ${toml}, or for one run: \`cratebox --${flag} ${value} cargo ...\``;
}

function networkText(o: StepOutcome): string {
  return o.network === "none" ? "no network" : o.network === "proxy" ? "network only through the egress proxy" : "full network";
}

/** "; the egress proxy refused: a:443 (not listed), ...; to allow them: [build.x] network = [...]" */
function refusedEgress(o: StepOutcome): string | undefined {
  const refused = o.egress.filter((e) => e.decision === "refused");
  if (refused.length === 0) return undefined;
  const seen = [...new Map(refused.map((e) => [`${e.method} ${e.url ?? e.target}`, e])).values()];
  const list = seen.map((e) => `${e.method} ${e.url ?? e.target} (${e.reason})`).join("; ");
  const listed = o.grant.items.filter((i) => i.key === "network" && i.value !== "true" && i.value !== "false").map((i) => i.value);
  const targets = [...new Set([...listed, ...seen.filter((e) => e.grant).map((e) => e.target)])];
  const grant =
    targets.length > 0
      ? `; if it needs ${targets.length === 1 ? "it" : "them"}, grant in cratebox.toml: ${tableHead(o)} network = [${targets.map((t) => JSON.stringify(t)).join(", ")}]`
      : "";
  return `; the egress proxy refused: ${list}${grant}`;
}

/**
 * The one cratebox line for a failed step: what happened, to which crate, and which limit or
 * capability was involved. Undefined for a success.
 */
export function describeFailure(o: StepOutcome): string | undefined {
  if (o.ok) return undefined;
  // A test that fails is cargo's and the harness's to report; cratebox speaks up only when the
  // sandbox had a hand in it (a limit, a signal).
  const refused = refusedEgress(o);
  const compiler = isCompilerPhase(o.phase);
  const withheld = compiler ? compileWithheld(o) : undefined;
  if (o.phase !== "build-script" && o.cause === "exit" && !refused && !withheld) {
    // A failed test usually failed on its own; one whose output names a file error may have
    // reached for a path the sandbox hides (a fixture elsewhere in the workspace, /etc, home).
    if (compiler) return undefined;
    // A nested cargo (trybuild's UI tests) that failed without the grant that gives it cargo's configuration.
    if (o.nestedCargoSeen && !o.grant.items.some((i) => i.key === "cargo" && i.value === "true")) {
      const capped = o.grant.items.find((i) => i.key === "policy:cargo");
      if (capped)
        return `${phaseText(o.phase)} ${o.program} of ${o.crate} ${o.version} failed in the sandbox after a nested cargo (trybuild) in it failed: cratebox.toml grants it cargo = true, but ${capped.from} took that away`;
      return `${phaseText(o.phase)} ${o.program} of ${o.crate} ${o.version} failed in the sandbox after a nested cargo (trybuild) in it failed: without a grant it sees none of your cargo configuration (source replacement, registries), registry caches or workspace root; if it runs cargo, grant in cratebox.toml: ${tableHead(o)} cargo = true (a cleaned copy of the configuration, no credentials)`;
    }
    if (!o.fileErrorSeen) return undefined;
    return `${phaseText(o.phase)} ${o.program} of ${o.crate} ${o.version} failed after a file error in its output (missing, read-only or full); in the sandbox it sees only its package (${o.manifestDir}), target/tmp, /tmp (${formatSize(o.limits.tmpBytes)}) and /usr, not the rest of the workspace, /etc or your home: \`cratebox learn cargo ${o.phase === "run" ? "run" : o.phase} ...\` names the paths it tried, \`cratebox approve ${o.crate} --test --read PATH\` grants one`;
  }
  const who =
    o.phase === "build-script"
      ? `build script of ${o.crate} ${o.version}`
      : compiler
        ? `${o.phase === "rustc" ? "compilation" : "rustdoc"} of ${o.crate} ${o.version}`
        : `${phaseText(o.phase)} ${o.program} of ${o.crate} ${o.version}`;
  const l = o.limits;
  switch (o.cause) {
    case "memory":
      return `${who} was killed: memory limit of ${formatSize(l.memoryBytes)} reached (${raiseHint(o, "memoryBytes")})`;
    case "timeout":
      return `${who} was killed: time limit of ${formatDuration(l.timeoutMs)} reached (${raiseHint(o, "timeoutMs")})`;
    case "fallback-timeout":
      return `${who} was ended by the sandbox's backstop timer after ${formatDuration(l.timeoutMs)}`;
    case "pids":
      return `${who} failed with exit code ${o.exitCode} after hitting the process limit of ${l.pids} (${raiseHint(o, "pids")})`;
    case "interrupted":
      return `${who} was stopped: the run was interrupted`;
    case "directive": {
      const list = o.blockedDirectives.map((b) => `\`${b.directive}\` (${b.reason})`).join("; ");
      const grant = `${tableHead(o)} directives = [${o.blockedDirectives.map((b) => JSON.stringify(b.directive)).join(", ")}]`;
      return `${who} was stopped: it printed directives the host would act on, kept from cargo: ${list}; if they are meant, grant them in cratebox.toml: ${grant}`;
    }
    case "signal":
      // A test binary or program that aborts by itself: cargo reports the signal, and the same
      // happens without cratebox; blaming the sandbox would send the user the wrong way.
      if (o.phase !== "build-script" && SELF_INFLICTED.has(o.signal ?? 0) && !refused) return undefined;
      if (o.signal === 7) {
        return `${who} was killed by SIGBUS (exit code ${o.exitCode}) in the sandbox: a full tmpfs (its /tmp of ${formatSize(l.tmpBytes)}, or the 1 MiB placeholder hiding target/) ends a program writing through mmap this way${refused ?? ""}`;
      }
      return `${who} was killed by ${signalName(o.signal ?? 0)} (exit code ${o.exitCode}) in the sandbox (${networkText(o)}, no home, read-only sources)${refused ?? ""}`;
    case "exit":
      if (refused) return `${who} failed with exit code ${o.exitCode} in the sandbox${refused}`;
      if (withheld) return `${who} failed in the sandbox; ${withheld}`;
      if (o.phase === "build-script" && o.askedWithheld.length > 0) {
        const names = o.askedWithheld.map((n) => JSON.stringify(n)).join(", ");
        return `${who} failed with exit code ${o.exitCode} in the sandbox; it reads ${o.askedWithheld.join(", ")} (rerun-if-env-changed), which your environment has and the sandbox withheld; if it needs ${o.askedWithheld.length === 1 ? "it" : "them"}, grant in cratebox.toml: ${tableHead(o)} env = [${names}]`;
      }
      // Under learn the step was traced already: what it tried comes with learn's proposal.
      return `${who} failed with exit code ${o.exitCode} in the sandbox (${networkText(o)}, no home, read-only sources, only cargo's variables); ${o.denials ? "" : "`cratebox learn cargo ...` traces what it tries and proposes the grant; "}\`cratebox profiles explain ${o.crate}\` shows what it has`;
  }
}

/**
 * A compiler step that failed for what the sandbox withheld, told by its own diagnostics: a
 * variable `env!` wanted that the host has, a file `include_str!` could not read that exists on
 * the host. The grant that would give it, or undefined when the failure is the code's own.
 */
function compileWithheld(o: StepOutcome): string | undefined {
  const env = (o.compileMissing?.envMissing ?? []).filter((n) => o.withheldEnv.includes(n));
  const paths = o.compileMissing?.unreadable ?? [];
  if (env.length === 0 && paths.length === 0) return undefined;
  const list = (xs: string[]) => xs.map((x) => JSON.stringify(x)).join(", ");
  const parts = [
    ...(env.length ? [`it reads ${env.join(", ")} at compile time (env!), which your environment has and the sandbox withheld`] : []),
    ...(paths.length ? [`it reads ${paths.join(", ")} at compile time (include_str!/include_bytes!), which the sandbox does not show`] : []),
  ];
  const grants = [...(env.length ? [`env = [${list(env)}]`] : []), ...(paths.length ? [`read = [${list(paths)}]`] : [])];
  return `${parts.join("; ")}; if it needs ${env.length + paths.length === 1 ? "it" : "them"}, grant in cratebox.toml: ${tableHead(o)} ${grants.join(" ")}`;
}

/** What the shim exits with for an outcome, and the lines it prints first (stderr). */
export interface ShimExit {
  code: number;
  /** When set, the shim ends itself with this signal, so cargo reports it as such. */
  signal?: string;
  stderr: string;
}

export function toShimExit(o: StepOutcome): ShimExit {
  if (o.cause === "directive") {
    // Cargo must not act on what was kept back: the step fails, and says why in its stderr.
    return { code: EXIT.CARGO_FAILED, stderr: o.blockedDirectives.map((b) => `cratebox: blocked \`${b.directive}\`: ${b.reason}\n`).join("") };
  }
  if (o.signal !== undefined) return { code: 128 + o.signal, signal: signalName(o.signal), stderr: "" };
  return { code: o.exitCode, stderr: "" };
}
