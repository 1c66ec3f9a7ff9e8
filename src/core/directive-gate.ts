/**
 * One build script's stdout on its way to cargo: every line through the directive firewall
 * (directives.ts), what it kept back, the variables the script declared it reads, and, at the
 * end, the check for shared libraries it built in its OUT_DIR and links dynamically. Pure: the
 * file-system question is handed in.
 */
import { checkDirective, dynamicLibOf, isGranted, parseDirective, searchPathInOutDir, type BlockedDirective } from "./directives.ts";
import { LineFilter } from "./line-filter.ts";

export class DirectiveGate {
  readonly blocked: BlockedDirective[] = [];
  /** Names in `rerun-if-env-changed` lines. */
  readonly askedEnv = new Set<string>();
  private readonly dylibs: { line: string; directive: string; name: string }[] = [];
  private readonly outDirSearch: string[] = [];
  private readonly filter: LineFilter;
  private readonly outDir: string;
  private readonly granted: readonly string[];

  constructor(outDir: string, granted: readonly string[], out: (chunk: Buffer) => void) {
    this.outDir = outDir;
    this.granted = granted;
    this.filter = new LineFilter((line) => this.keep(line), out);
  }

  push(chunk: Buffer): void {
    this.filter.push(chunk);
  }

  /** The stream ended: flush, then keep back dynamic links to libraries built in OUT_DIR. */
  end(exists: (file: string) => boolean): void {
    this.filter.end();
    for (const lib of this.dylibs) {
      const found = this.outDirSearch.find((dir) => exists(`${dir}/lib${lib.name}.so`));
      if (found) {
        this.blocked.push({
          line: lib.line,
          directive: lib.directive,
          reason: `it links lib${lib.name}.so, which it built in its OUT_DIR (${found}); a proc macro depending on this crate would make the host rustc load it`,
        });
      }
    }
  }

  private keep(line: string): boolean {
    const d = parseDirective(line);
    if (d?.key === "rerun-if-env-changed") this.askedEnv.add(d.value.trim());
    const v = checkDirective(line, { outDir: this.outDir, granted: this.granted });
    if (!v.pass) {
      this.blocked.push(v.blocked);
      return false;
    }
    if (d) {
      const lib = dynamicLibOf(d.key, d.value);
      if (lib && !isGranted(`${d.key}=${d.value}`, this.granted)) this.dylibs.push({ line, directive: `${d.key}=${d.value}`, name: lib });
      const dir = searchPathInOutDir(d.key, d.value, this.outDir);
      if (dir) this.outDirSearch.push(dir);
    }
    return true;
  }
}
