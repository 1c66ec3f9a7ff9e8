/**
 * The policy evaluator: a short-lived Node process that runs each policy in its own isolated-vm
 * isolate (issue #6). policy.ts starts it, writes one request to its stdin and reads one line of
 * JSON per event from its stdout. It is never run by hand.
 *
 * Why a process of its own, on top of the isolate:
 * - isolated-vm needs `node --no-node-snapshot` from Node 20 on (its README: isolates and Node's
 *   startup snapshot can crash the process); the CLI's own node does not run with that flag,
 *   this process does.
 * - A last line of defence: a few paths in isolated-vm run policy code outside the time limit
 *   (reading a rejected promise's reason after the call, see policy-realm.ts). The host kills
 *   this process when it overstays, so no policy can hang or crash cratebox itself.
 * - Its environment is fixed (TZ=UTC, LC_ALL=C, nothing else), so time zone and locale are the
 *   same on every machine and no host variable is even present in the process.
 *
 * Per policy: a fresh Isolate (memory limit), a context prepared by policy-realm.ts, a syntax
 * check with line and column, the policy's top-level code and then `policy(input)` each under
 * the time limit, the input copied in (ExternalCopy), the result copied out as a JSON string.
 * The isolate is always disposed.
 */
import ivm from "isolated-vm";
import { internalError } from "../core/errors.ts";
import { POLICY_REALM_SOURCE } from "./policy-realm.ts";

export interface EvaluatorRequest {
  policies: { file: string; source: string }[];
  /** Plain JSON data (PolicyInput), validated by the host. */
  input: unknown;
  timeoutMs: number;
  memoryMiB: number;
}

export type EvaluationProblem = "syntax" | "threw" | "no-policy" | "not-data" | "timeout" | "memory" | "rejected";

export type EvaluationResult =
  /** `output`: what policy(input) returned, as JSON text (not yet validated). */
  { ok: true; output: string } | { ok: false; stage: "load" | "call"; problem: EvaluationProblem; detail: string };

export type EvaluatorEvent = { event: "start"; index: number } | { event: "result"; index: number; result: EvaluationResult };

const TIMED_OUT = "Script execution timed out.";

async function evaluateOne(file: string, source: string, input: unknown, timeoutMs: number, memoryMiB: number): Promise<EvaluationResult> {
  const isolate = new ivm.Isolate({ memoryLimit: memoryMiB });
  let stage: "load" | "call" = "load";
  try {
    const context = await isolate.createContext();
    await context.eval(POLICY_REALM_SOURCE, { timeout: timeoutMs });
    try {
      // Compiling runs nothing: syntax errors come back with file, line and column.
      (await isolate.compileScript(source, { filename: file })).release();
    } catch (err) {
      if (isolate.isDisposed) throw err;
      return { ok: false, stage, problem: "syntax", detail: messageOf(err) };
    }
    const loaded = await context.evalClosure("return __cratebox.load($0, $1)", [source, file.replace(/[\r\n]/g, " ")], { timeout: timeoutMs });
    const load = toStatus(loaded);
    if (load.status !== "ok") return { ok: false, stage, problem: load.status, detail: load.text };
    stage = "call";
    const copy = new ivm.ExternalCopy(input).copyInto({ release: true });
    const called = toStatus(await context.evalClosure("return __cratebox.call($0)", [copy], { timeout: timeoutMs }));
    if (called.status !== "ok") return { ok: false, stage, problem: called.status, detail: called.text };
    return { ok: true, output: called.text };
  } catch (err) {
    // Everything the policy throws is caught inside the isolate; what reaches here is
    // isolated-vm's own: the time limit, the memory limit, or a rejected promise left behind.
    const message = messageOf(err);
    if (isolate.isDisposed || /memory limit/i.test(message)) return { ok: false, stage, problem: "memory", detail: message };
    if (message === TIMED_OUT) return { ok: false, stage, problem: "timeout", detail: message };
    return { ok: false, stage, problem: "rejected", detail: message };
  } finally {
    if (!isolate.isDisposed) isolate.dispose();
  }
}

function toStatus(raw: unknown): { status: "ok" | "threw" | "no-policy" | "not-data"; text: string } {
  const s = String(raw);
  const cut = s.indexOf("\n");
  const status = s.slice(0, cut);
  if (status !== "ok" && status !== "threw" && status !== "no-policy" && status !== "not-data")
    throw internalError(`unexpected answer from the isolate: ${s.slice(0, 80)}`);
  return { status, text: s.slice(cut + 1) };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function emit(event: EvaluatorEvent): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(`${JSON.stringify(event)}\n`, (err) => (err ? reject(err) : resolve())));
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function main(): Promise<void> {
  const request = JSON.parse(await readStdin()) as EvaluatorRequest;
  for (const [index, policy] of request.policies.entries()) {
    await emit({ event: "start", index });
    const result = await evaluateOne(policy.file, policy.source, request.input, request.timeoutMs, request.memoryMiB);
    await emit({ event: "result", index, result });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(70);
  },
);
