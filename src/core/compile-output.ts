/**
 * What a sandboxed compiler call tells about the sandbox, read from its own output and files.
 * Pure.
 *
 * - Its diagnostics (cargo asks for JSON; a person's rustc prints text): a variable `env!` wanted
 *   and did not find, a file `include_str!`/`include_bytes!` could not read. When the sandbox
 *   withheld that variable or hid that path, the failure line says so and names the grant.
 * - Its dep-info: rustc records every variable the crate read (`# env-dep:NAME`, with the value
 *   when it was set). Cargo rebuilds the crate when one differs from cargo's own environment,
 *   so a withheld variable (absent in the sandbox, present on the host) would rebuild it on
 *   every run: those lines are removed.
 */
import path from "node:path";
import { LineFilter } from "./line-filter.ts";
import type { ContentKind } from "./pins/content.ts";
import { type CompilerInvocation, isBuildScriptCompile } from "./rustc-args.ts";
import { REAL_SUFFIX } from "./shim.ts";

const ENV_MISSING = /environment variable `([^`]+)` not defined at compile time/g;
const UNREADABLE = /couldn't read `?([^`:\s"]+)`?: /g;

export class CompileLog {
  /** Variables the crate asked for at compile time and did not get. */
  readonly envMissing = new Set<string>();
  /** Files the crate tried to include and could not read. */
  readonly unreadable = new Set<string>();
  private readonly filter: LineFilter;

  constructor(out: (chunk: Buffer) => void) {
    this.filter = new LineFilter((line) => {
      if (line.includes("not defined at compile time")) for (const m of line.matchAll(ENV_MISSING)) this.envMissing.add(m[1]!);
      if (line.includes("couldn't read")) for (const m of line.matchAll(UNREADABLE)) this.unreadable.add(m[1]!.replace(/\\\\/g, "\\"));
      return true;
    }, out);
  }

  push(chunk: Buffer): void {
    this.filter.push(chunk);
  }

  end(): void {
    this.filter.end();
  }
}

/** A dep-info file without the `# env-dep:` lines of these variables. */
export function withoutEnvDeps(depInfo: string, names: ReadonlySet<string>): string {
  return depInfo
    .split("\n")
    .filter((line) => {
      const m = /^# env-dep:([^=]+)(=.*)?$/.exec(line);
      return !(m && names.has(m[1]!));
    })
    .join("\n");
}

/**
 * The files a build-script compilation may leave in its own directory
 * (`target/<profile>/build/<pkg>-<hash>/`): the binary and its dep-info, and what cratebox and
 * cargo put there around it (the real binary moved aside, the shim's temporary, cargo's
 * hard link). Anything else a proc macro of that compilation wrote there is removed before the
 * shim goes in.
 */
export function isExpectedBuildScriptFile(file: string, crateName: string, extraFilename: string): boolean {
  const binary = `${crateName}${extraFilename}`;
  // Cargo's hard link is `build-script-<target name>`; the crate name spells the target's dashes as underscores.
  const target = crateName.slice("build_script_".length);
  const uplifted = [`build-script-${target}`, `build-script-${target.replace(/_/g, "-")}`];
  return (
    file === binary || file === `${binary}.d` || file === `${binary}.cratebox-real` || file.startsWith(`${binary}.cratebox-tmp`) || uplifted.includes(file)
  );
}

/**
 * Code a content pin covers (issue 15) that this compile made: a build script (the binary, and
 * the real one once it is behind cratebox's shim) or a proc macro (the shared library rustc
 * loads into every crate that uses it). What must go when the pin does not hold.
 */
export function pinnableOutput(c: CompilerInvocation): { kind: ContentKind; outputs: string[] } | undefined {
  const dir = c.outDirs[0];
  if (!c.crateName || !dir) return undefined;
  if (isBuildScriptCompile(c.crateName)) {
    const binary = path.join(dir, `${c.crateName}${c.extraFilename}`);
    return { kind: "build-script", outputs: [binary, `${binary}${REAL_SUFFIX}`] };
  }
  if (c.crateTypes.includes("proc-macro")) return { kind: "proc-macro", outputs: [path.join(dir, `lib${c.crateName}${c.extraFilename}.so`)] };
  return undefined;
}
