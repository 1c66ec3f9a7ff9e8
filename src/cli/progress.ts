/**
 * A compact live progress line on a terminal: how many steps are sandboxed, running, failed.
 *
 * Cargo writes to the same terminal and does not erase lines it did not draw, so the line is kept
 * out of cargo's way the way apt does it: the bottom row is reserved with a scroll region
 * (DECSTBM) and the status is drawn there with the cursor saved and restored; cargo's output
 * scrolls above it. `stop()` gives the row back (also on Ctrl-C: the CLI always calls it).
 */
import type { Phase } from "../core/phase.ts";
import type { StepOutcome } from "../core/step-outcome.ts";

const SAVE = "\x1b7";
const RESTORE = "\x1b8";

export class ProgressLine {
  private running = 0;
  private readonly done: Record<Phase, number> = { "build-script": 0, test: 0, bench: 0, run: 0, rustc: 0, rustdoc: 0 };
  private failed = 0;
  private active = false;
  private timer: NodeJS.Timeout | undefined;

  private readonly write: (s: string) => void;
  private readonly rows: () => number;

  constructor(write: (s: string) => void, rows: () => number) {
    this.write = write;
    this.rows = rows;
  }

  started(): void {
    this.running++;
    this.schedule();
  }

  finished(o: StepOutcome): void {
    this.running = Math.max(0, this.running - 1);
    this.done[o.phase]++;
    if (!o.ok) this.failed++;
    this.schedule();
  }

  /** The terminal was resized: reserve the new bottom row. */
  resized(): void {
    if (!this.active) return;
    this.write(`${SAVE}\x1b[1;${this.rows() - 1}r${RESTORE}`);
    this.draw();
  }

  /** Clears the status row and gives it back to the terminal. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.active) return;
    this.active = false;
    this.write(`${SAVE}\x1b[${this.rows()};1H\x1b[K\x1b[r${RESTORE}`);
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.active) this.reserve();
      this.draw();
    }, 150);
  }

  private reserve(): void {
    // A newline makes room at the bottom, the scroll region keeps cargo above it, and the cursor
    // goes back to where cargo's next line belongs.
    this.write(`\n${SAVE}\x1b[1;${this.rows() - 1}r${RESTORE}\x1b[1A`);
    this.active = true;
  }

  private text(): string {
    const scripts = this.done["build-script"];
    const binaries = this.done.test + this.done.bench + this.done.run;
    const compilations = this.done.rustc + this.done.rustdoc;
    const parts = [
      ...(compilations ? [`${compilations} compilation${compilations === 1 ? "" : "s"}`] : []),
      `${scripts} build script${scripts === 1 ? "" : "s"}`,
      ...(binaries ? [`${binaries} binar${binaries === 1 ? "y" : "ies"}`] : []),
    ];
    return `cratebox: ${parts.join(", ")} sandboxed, ${this.running} running${this.failed ? `, ${this.failed} failed` : ""}`;
  }

  private draw(): void {
    this.write(`${SAVE}\x1b[${this.rows()};1H\x1b[K${this.text()}${RESTORE}`);
  }
}
