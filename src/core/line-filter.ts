/**
 * Splits a byte stream into lines and passes on those a predicate keeps, in order, each with its
 * newline. A partial last line is checked when the stream ends. Pure (no I/O of its own).
 */
export class LineFilter {
  private pending: Buffer = Buffer.alloc(0);
  private readonly keep: (line: string) => boolean;
  private readonly out: (chunk: Buffer) => void;

  constructor(keep: (line: string) => boolean, out: (chunk: Buffer) => void) {
    this.keep = keep;
    this.out = out;
  }

  push(chunk: Buffer): void {
    let data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10)) {
      const line = data.subarray(0, nl + 1);
      if (this.keep(line.toString("utf8").replace(/\r?\n$/, ""))) this.out(line);
      data = data.subarray(nl + 1);
    }
    this.pending = Buffer.from(data);
  }

  end(): void {
    if (this.pending.length && this.keep(this.pending.toString("utf8"))) this.out(this.pending);
    this.pending = Buffer.alloc(0);
  }
}
