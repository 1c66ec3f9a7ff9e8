/**
 * A sandboxed step, from what cargo handed the shim to what will run, and from how it ended to
 * its outcome. Pure: the runtime gathers the facts (runtime/step-facts.ts), runs the plan
 * (runtime/step-runner.ts) and hands back what it observed.
 *
 *   facts (runtime) -> planStep (here) -> run the plan (runtime) -> toStepOutcome (here)
 */
import type { EgressEvent, FetchGrant } from "./egress.ts";
import { decideStep, type GrantContext, type GrantPathFacts, type StepDecision, UNKNOWN_CRATE } from "./grant-decision.ts";
import { type RunIdentity, toLabels } from "./labels.ts";
import { phaseText, toGrantPhase } from "./phase.ts";
import type { CrateIdentity } from "./profile/select.ts";
import type { CompilerInvocation } from "./rustc-args.ts";
import { type HostFacts, type SandboxSpec, type StepRequest, toSandboxSpec, withTracing } from "./sandbox-spec.ts";
import { type ContainerExit, type StepOutcome, toCause, toSignal, toTargetName } from "./step-outcome.ts";
import type { TraceDenials } from "./trace.ts";

/** What the runtime gathered about one step before deciding anything. */
export interface StepFacts {
  /** The crate the step belongs to, from the crate graph by its manifest directory (undefined: not in the graph). */
  crate: CrateIdentity | undefined;
  /** The host as the sandbox spec needs it (real paths, toolchain, uid). */
  host: HostFacts;
  /** What granted paths are checked against. */
  grantPaths: GrantPathFacts;
  /** The in-container relay of a proxied step: the host's Node and the relay script. */
  relay: { node: string; script: string };
  /** Where this step's egress proxy would listen, if its grant lists hosts. */
  egressSocket: string;
  /** Learn mode: the directory the step's trace is written to. */
  traceDir: string | undefined;
}

/** What holds for every step of a run. */
export interface RunSettings {
  identity: RunIdentity;
  grants: GrantContext;
}

/** A step whose grant lists hosts or fetch URLs gets an egress proxy of its own. */
export interface ProxyPlan {
  socket: string;
  hosts: string[];
  fetch: FetchGrant[];
  /** Where a grant for it goes, for refusal messages: `[build.foo]`. */
  table: string;
  /** Whose proxy it is, for cratebox's log: "foo's build script". */
  who: string;
}

export interface StepPlan {
  request: StepRequest;
  crate: CrateIdentity;
  manifestDir: string;
  decision: StepDecision;
  spec: SandboxSpec;
  /** Build scripts: the directive firewall's settings (core/directive-gate.ts). */
  gate: { outDir: string; allowed: readonly string[] } | undefined;
  proxy: ProxyPlan | undefined;
  /** Learn mode: where the trace of this step is. */
  traceDir: string | undefined;
  /** Compiler phases: what the call compiles and writes (for what follows it: dep-info, the build-script shim). */
  compile: CompilerInvocation | undefined;
}

/**
 * The plan of one step: its grant decided (after the policies), in learn mode widened to an
 * egress proxy that lists nothing (so that each host it asks for is refused by name and can be
 * proposed), turned into the sandbox spec, with the firewall and the proxy it needs. Throws
 * (SPEC_REFUSED, GRANT_PATH) for a request the sandbox will not run.
 */
export function planStep(given: StepRequest, facts: StepFacts, run: RunSettings): StepPlan {
  // `rustdoc` by name (cargo's default) is the toolchain's: a rustup proxy is not in the sandbox.
  const request = given.phase === "rustdoc" && !given.program.includes("/") ? { ...given, program: `${facts.host.sysroot}/bin/rustdoc` } : given;
  const crate = facts.crate ?? UNKNOWN_CRATE;
  const name = request.env.CARGO_PKG_NAME ?? "unknown";
  const version = request.env.CARGO_PKG_VERSION ?? "0.0.0";
  const manifestDir = request.env.CARGO_MANIFEST_DIR ?? request.cwd;
  let decision = decideStep(run.grants, crate, toGrantPhase(request.phase), facts.grantPaths);
  if (facts.traceDir && decision.grant.network.kind === "none") {
    decision = { ...decision, grant: { ...decision.grant, network: { kind: "proxy", hosts: [], fetch: [] } } };
  }
  const net = decision.grant.network;
  const proxy: ProxyPlan | undefined =
    net.kind === "proxy"
      ? {
          socket: facts.egressSocket,
          hosts: net.hosts,
          fetch: net.fetch,
          table: `[${toGrantPhase(request.phase)}.${name}]`,
          who: `${name}'s ${phaseText(request.phase)}`,
        }
      : undefined;
  const host: HostFacts = {
    ...facts.host,
    // An image of its own brings its own userland: the host's /usr is not laid over it.
    ...(decision.image ? { image: decision.image, systemPaths: [] } : {}),
    ...(proxy ? { egress: { ...facts.relay, socket: proxy.socket } } : {}),
  };
  const labels = toLabels(run.identity, { crate: name, version, phase: request.phase });
  const plain = toSandboxSpec(request, host, decision.limits, labels, decision.grant);
  return {
    request,
    crate: { ...crate, name, version },
    manifestDir,
    decision,
    spec: facts.traceDir ? withTracing(plain, facts.traceDir) : plain,
    gate: request.phase === "build-script" ? { outDir: request.env.OUT_DIR ?? "", allowed: decision.directives } : undefined,
    proxy,
    traceDir: facts.traceDir,
    compile: facts.host.compiler?.invocation,
  };
}

/** What the runtime observed while the plan ran. */
export interface StepObservation {
  containerId: string;
  /** The backend that ran it (docker, bwrap). */
  backend: string;
  exit: ContainerExit;
  runMs: number | undefined;
  /** The directive firewall (build scripts): what it kept back, what the script said it reads. */
  blocked: readonly { directive: string; reason: string }[];
  askedEnv: ReadonlySet<string>;
  egress: { events: EgressEvent[]; omitted: number };
  denials: TraceDenials | undefined;
  /** Binaries cargo runs: their output named a file error (a path the sandbox may hide). */
  fileErrorSeen: boolean;
  /** Binaries cargo runs: their output showed a nested cargo (trybuild) failing (core/nested-cargo.ts). */
  nestedCargoSeen?: boolean;
  /** Compiler phases: what its diagnostics say it wanted and did not get. */
  compile: { envMissing: string[]; unreadable: string[] } | undefined;
  /** When the shim's client started, and now (the step's wall time as cargo saw it). */
  clientStartedAt: number;
  endedAt: number;
}

export function toStepOutcome(plan: StepPlan, seen: StepObservation): StepOutcome {
  const { spec, decision, request } = plan;
  const cause = seen.blocked.length > 0 && seen.exit.exitCode === 0 ? "directive" : toCause(seen.exit, { seconds: spec.backstopSeconds, runMs: seen.runMs });
  return {
    phase: request.phase,
    crate: plan.crate.name,
    version: plan.crate.version,
    program: toTargetName(request.program),
    manifestDir: plan.manifestDir,
    image: spec.image,
    containerId: seen.containerId,
    backend: seen.backend,
    ok: seen.exit.exitCode === 0 && cause === "exit",
    blockedDirectives: seen.blocked.map((b) => ({ directive: b.directive, reason: b.reason })),
    // Variables it said it reads (rerun-if-env-changed) that the host has and the sandbox withheld.
    askedWithheld: spec.withheldEnv.filter((name) => seen.askedEnv.has(name)),
    source: decision.crate.source,
    ...(seen.denials ? { denials: seen.denials } : {}),
    ...(seen.compile ? { compileMissing: seen.compile } : {}),
    ...(seen.fileErrorSeen ? { fileErrorSeen: true } : {}),
    ...(seen.nestedCargoSeen ? { nestedCargoSeen: true } : {}),
    cause,
    exitCode: seen.exit.exitCode,
    signal: toSignal(seen.exit, cause),
    durationMs: seen.endedAt - seen.clientStartedAt,
    runMs: seen.runMs,
    limits: decision.limits,
    grant: decision.summary,
    withheldEnv: spec.withheldEnv,
    withheldPaths: spec.withheldPaths,
    network: spec.network,
    egress: seen.egress.events,
    ...(seen.egress.omitted ? { egressOmitted: seen.egress.omitted } : {}),
  };
}
