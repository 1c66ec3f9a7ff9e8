/**
 * Writes the run's ticket (core/ticket.ts) for the native front, under this user's cache
 * directory (`~/.cache/cratebox/tickets/`, named by the run's question), once cargo has started:
 * nothing of it is on the way to cargo's spawn. Only a start that decided from files it could
 * stamp gets one (start-inputs.ts), only with a cache key and a bundled build, and only when the
 * front is built.
 */
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fingerprint } from "../core/fingerprint.ts";
import { envDigest, envChanges, ticketName, toTicketText } from "../core/ticket.ts";
import { bundleBuildId, type StartCaches, userCacheDir, writeWhole } from "./cache-files.ts";
import type { BuildDirs } from "./cargo-metadata.ts";
import { NATIVE_FRONT } from "./native.ts";
import { startInputs } from "./start-inputs.ts";

export interface TicketRun {
  caches: StartCaches;
  /** The entry's file name and the CLI's arguments: the run's question as bin/cratebox passes it on. */
  argv: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  dirs: BuildDirs;
  program: string;
  args: readonly string[];
  cargoEnv: NodeJS.ProcessEnv;
  runDir: string;
  say: readonly string[];
  after: readonly string[];
}

export function writeTicket(r: TicketRun): void {
  const inputs = startInputs();
  const secret = r.caches.userKey;
  const build = bundleBuildId();
  if (!inputs || !secret || !build || !existsSync(NATIVE_FRONT)) return;
  const { set, unset } = envChanges(r.env, r.cargoEnv, r.runDir);
  const text = toTicketText({
    secret,
    build,
    cwd: r.cwd,
    argv: r.argv,
    env: envDigest(secret, r.env),
    meta: fingerprint(r.dirs.answer),
    roots: r.dirs.roots,
    stamps: inputs.stamps,
    realpaths: inputs.realpaths,
    program: r.program,
    args: r.args,
    set,
    unset,
    say: r.say,
    after: r.after,
  });
  const dir = path.join(userCacheDir(r.env), "tickets");
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch {
    return; // a read-only home: no tickets
  }
  writeWhole(path.join(dir, ticketName(secret, r.cwd, r.argv)), text);
}
