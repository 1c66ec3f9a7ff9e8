/**
 * The ticket of a build's start (issue 13): what Node decided before cargo's spawn, in the form
 * the native front (native/client/src/bin/cratebox-front.rs) replays when the same run comes
 * again and nothing it was decided from changed. Pure: runtime/ticket.ts writes it.
 *
 * The format is NUL-terminated strings (no path, argument or variable holds a NUL): a version,
 * then records of a tag and its fields, then `end`:
 *   secret K, build ID, cwd DIR, argv N A1..AN   the run it was, under this user's cache key
 *   env DIGEST                                   envDigest of the variables
 *   meta DIGEST                                  fingerprint of `cargo metadata --no-deps`'s answer
 *   root RAW REAL                                a build directory as cargo named it, and its real path
 *   stamp PATH STAMP                             a file it was decided from ("-": absent)
 *   real PATH REAL                               a path it resolved, and to what ("-": it did not)
 *   cargo PROGRAM N A1..AN                       what to start
 *   set K V, unset K                             cargo's variables against the run's own (`@run/` is
 *                                                the run's private directory)
 *   say LINE, after LINE                         cratebox's lines before cargo, and after it when no step ran
 * A ticket is taken only under the same secret and build id: a target directory or home copied
 * from elsewhere, or another build of cratebox, holds none that counts. It grants nothing: Node
 * decides every step's grants anew when the first step arrives.
 */
import { Fingerprint, fingerprint } from "./fingerprint.ts";
import type { FileStamp } from "./graph-cache.ts";

const TICKET_VERSION = "cratebox-ticket 1";

/** Variables that are not part of a run's question: bin/cratebox's own, the shell's last command and directory. */
function isIgnoredVariable(name: string): boolean {
  return name.startsWith("CRATEBOX_EARLY") || name === "_" || name === "OLDPWD";
}

/** A fingerprint of the variables under the user's secret: `K=V\0` for each, by name. */
export function envDigest(secret: string, env: NodeJS.ProcessEnv): string {
  const f = new Fingerprint().update(secret);
  const names = Object.keys(env)
    .filter((k) => env[k] !== undefined && !isIgnoredVariable(k))
    .sort();
  for (const k of names) f.update(k).update("=").update(env[k]!).update("\0");
  return f.digest();
}

/** The ticket's file name: the run's question (entry, arguments, directory) under the secret. */
export function ticketName(secret: string, cwd: string, argv: readonly string[]): string {
  return fingerprint([secret, cwd, ...argv].join("\0"));
}

export interface TicketFields {
  secret: string;
  build: string;
  cwd: string;
  /** The entry's file name, then its arguments. */
  argv: readonly string[];
  env: string;
  meta: string;
  roots: readonly { raw: string; real: string }[];
  stamps: ReadonlyMap<string, FileStamp>;
  realpaths: ReadonlyMap<string, string | undefined>;
  program: string;
  args: readonly string[];
  set: Readonly<Record<string, string>>;
  unset: readonly string[];
  say: readonly string[];
  after: readonly string[];
}

/**
 * Cargo's variables against the run's: what differs or is new, and what is gone. A value under
 * the run's private directory is written against `@run/`: the front makes a directory of its own.
 */
export function envChanges(run: NodeJS.ProcessEnv, cargo: NodeJS.ProcessEnv, runDir: string): { set: Record<string, string>; unset: string[] } {
  const set: Record<string, string> = {};
  for (const [k, v] of Object.entries(cargo)) {
    if (v === undefined || run[k] === v) continue;
    set[k] = v.startsWith(`${runDir}/`) ? `@run/${v.slice(runDir.length + 1)}` : v;
  }
  const unset = Object.keys(run).filter((k) => run[k] !== undefined && cargo[k] === undefined);
  return { set, unset };
}

export function toTicketText(t: TicketFields): string {
  const out: string[] = [TICKET_VERSION, "secret", t.secret, "build", t.build, "cwd", t.cwd, "argv", String(t.argv.length), ...t.argv];
  out.push("env", t.env, "meta", t.meta);
  for (const r of t.roots) out.push("root", r.raw, r.real);
  for (const [file, stamp] of t.stamps) out.push("stamp", file, stamp ?? "-");
  for (const [file, real] of t.realpaths) out.push("real", file, real ?? "-");
  out.push("cargo", t.program, String(t.args.length), ...t.args);
  for (const [k, v] of Object.entries(t.set)) out.push("set", k, v);
  for (const k of t.unset) out.push("unset", k);
  for (const l of t.say) out.push("say", l);
  for (const l of t.after) out.push("after", l);
  out.push("end");
  if (out.some((s) => s.includes("\0"))) throw new Error("a ticket's field holds a NUL");
  return `${out.join("\0")}\0`;
}
