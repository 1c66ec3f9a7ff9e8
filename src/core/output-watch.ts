/**
 * Watches a step's output, chunk by chunk, for a pattern; a match may straddle two chunks, so
 * the last `keep` characters of one chunk are searched again with the next.
 */
export class OutputWatch {
  seen = false;
  private tail = "";
  private readonly pattern: RegExp;
  private readonly keep: number;

  constructor(pattern: RegExp, keep: number) {
    this.pattern = pattern;
    this.keep = keep;
  }

  push(chunk: Uint8Array): void {
    if (this.seen) return;
    const text = this.tail + Buffer.from(chunk).toString("utf8");
    this.seen = this.pattern.test(text);
    this.tail = text.slice(-this.keep);
  }
}
