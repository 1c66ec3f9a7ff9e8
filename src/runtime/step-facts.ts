/**
 * Stage 1 of a step: what the host says about a request before anything is decided: which crate
 * of the graph it belongs to, the toolchain it uses, the paths a binary cargo runs needs, where
 * its egress proxy would listen and where learn mode writes its trace.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import path from "node:path";
import type { StepRequest } from "../core/sandbox-spec.ts";
import type { StepFacts, StepPlan } from "../core/step-plan.ts";
import { parseTrace, type TraceDenials } from "../core/trace.ts";
import type { GrantBook } from "./grants.ts";
import { type RunHostFacts, type SysrootCache, toHostFacts } from "./host-facts.ts";

export interface FactsSources {
  grants: GrantBook;
  host: RunHostFacts;
  sysroots: SysrootCache;
  /** The rustc of this run, for steps whose environment names none (runner phases). */
  rustc: string;
  /** The in-container relay of a proxied step. */
  relay: { node: string; script: string };
  /** A private directory of this run for the egress proxies' sockets. */
  egressDir: string;
  /** Learn mode: every step is traced into a directory below this one. */
  traceRoot: string | undefined;
}

export function factsGatherer(src: FactsSources): (request: StepRequest) => Promise<StepFacts> {
  let proxies = 0;
  return async (request) => {
    const crate = await src.grants.crateAt(request.env.CARGO_MANIFEST_DIR ?? request.cwd);
    const sysroot = src.sysroots.resolve(request.env.RUSTC ?? src.rustc, request.env);
    return {
      crate,
      host: toHostFacts(src.host, sysroot, request.phase, request.program),
      grantPaths: src.grants.pathFacts(),
      relay: src.relay,
      egressSocket: path.join(src.egressDir, `egress-${++proxies}.sock`),
      traceDir: src.traceRoot ? mkdtempSync(path.join(src.traceRoot, "step-")) : undefined,
    };
  };
}

/** Learn mode: what the step's trace shows it tried beyond its view (core/trace.ts). */
export function readDenials(traceDir: string, plan: StepPlan): TraceDenials {
  let text = "";
  try {
    text = readFileSync(path.join(traceDir, "trace"), "utf8");
  } catch {
    /* the program never started */
  }
  return parseTrace(
    text,
    (p) => existsSync(p),
    plan.spec.mounts.map((m) => m.target),
  );
}
