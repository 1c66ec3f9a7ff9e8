/**
 * Where each key of a TOML document is written: key path (key-path.ts) -> 1-based line. Pure.
 *
 * smol-toml returns plain values without positions, so this is a small structural scanner of its
 * own, run only on text smol-toml has already accepted. It follows table headers, arrays of
 * tables (`[[build.x]]` counts as `build.x[0]`, `build.x[1]`, ...), dotted keys, inline tables and
 * the elements of arrays, and skips strings and comments. Best effort by design: when in doubt it
 * records less, and lookups fall back to the nearest enclosing key that was found. It never throws.
 */
import { toKeyPath, type KeySegment } from "./key-path.ts";

export type KeyLines = Readonly<Record<string, number>>;

export function locateKeys(text: string): KeyLines {
  const lines: Record<string, number> = Object.create(null);
  try {
    new Scanner(text, lines).document();
  } catch {
    // Best effort: keep what was found before the scanner lost its way.
  }
  return lines;
}

/** The line of `path`, or of its nearest enclosing key that has one. */
export function lineOf(lines: KeyLines, path: readonly KeySegment[]): number | undefined {
  for (let n = path.length; n > 0; n--) {
    // Own keys only: a key named like an Object method ("valueOf") is not a line number.
    const key = toKeyPath(path.slice(0, n));
    if (Object.hasOwn(lines, key)) return lines[key];
  }
  return undefined;
}

class Scanner {
  private readonly s: string;
  private readonly out: Record<string, number>;
  /** Offsets of every line end, for offset -> line. */
  private readonly ends: number[] = [];
  private pos = 0;
  /** Arrays of tables seen so far: concrete path -> index of the last element. */
  private readonly tableArrays = new Map<string, number>();

  constructor(s: string, out: Record<string, number>) {
    this.s = s;
    this.out = out;
    for (let i = s.indexOf("\n"); i !== -1; i = s.indexOf("\n", i + 1)) this.ends.push(i);
  }

  document(): void {
    let table: KeySegment[] = [];
    for (let guard = 0; this.pos < this.s.length && guard < this.s.length + 1; guard++) {
      this.skipBlank();
      if (this.pos >= this.s.length) break;
      const before = this.pos;
      if (this.s.startsWith("[[", this.pos)) {
        this.pos += 2;
        const keys = this.key();
        const parent = this.concrete(keys.slice(0, -1));
        const at = [...parent, keys[keys.length - 1]!];
        const id = toKeyPath(at);
        const index = (this.tableArrays.get(id) ?? -1) + 1;
        this.tableArrays.set(id, index);
        table = [...at, index];
        this.record(table);
      } else if (this.s[this.pos] === "[") {
        this.pos += 1;
        table = this.concrete(this.key());
        this.record(table);
      } else {
        this.keyValue(table);
      }
      this.skipToLineEnd();
      if (this.pos === before) this.pos++;
    }
  }

  /** Header keys -> concrete path, inserting the current index of each array of tables on the way. */
  private concrete(keys: string[]): KeySegment[] {
    const out: KeySegment[] = [];
    for (const k of keys) {
      out.push(k);
      const index = this.tableArrays.get(toKeyPath(out));
      if (index !== undefined) out.push(index);
    }
    return out;
  }

  private keyValue(prefix: KeySegment[]): void {
    const at = [...prefix, ...this.key()];
    this.record(at);
    this.skipInline();
    if (this.s[this.pos] === "=") this.pos++;
    this.skipInline();
    this.value(at);
  }

  private value(at: KeySegment[]): void {
    const c = this.s[this.pos];
    if (c === "[") {
      this.pos++;
      for (let i = 0; this.pos < this.s.length; i++) {
        this.skipBlank();
        if (this.s[this.pos] === "]") break;
        this.record([...at, i]);
        const before = this.pos;
        this.value([...at, i]);
        this.skipBlank();
        if (this.s[this.pos] === ",") this.pos++;
        else if (this.pos === before) this.pos++;
      }
      this.pos++;
    } else if (c === "{") {
      this.pos++;
      while (this.pos < this.s.length) {
        this.skipBlank();
        if (this.s[this.pos] === "}") break;
        const before = this.pos;
        this.keyValue(at);
        this.skipBlank();
        if (this.s[this.pos] === ",") this.pos++;
        else if (this.pos === before) this.pos++;
      }
      this.pos++;
    } else if (c === '"' || c === "'") {
      this.string();
    } else {
      while (this.pos < this.s.length && !",]}\n#".includes(this.s[this.pos]!)) this.pos++;
    }
  }

  /** A dotted key: bare, "basic" or 'literal' segments. Ends before `=`, `]` or `]]`. */
  private key(): string[] {
    const keys: string[] = [];
    for (;;) {
      this.skipInline();
      const c = this.s[this.pos];
      if (c === '"' || c === "'") keys.push(this.string());
      else {
        const m = /[A-Za-z0-9_-]*/y;
        m.lastIndex = this.pos;
        const bare = m.exec(this.s)![0];
        this.pos += bare.length;
        keys.push(bare);
      }
      this.skipInline();
      if (this.s[this.pos] !== ".") break;
      this.pos++;
    }
    return keys;
  }

  /** Reads a string of any of TOML's four kinds and returns its (best-effort) value. */
  private string(): string {
    const q = this.s[this.pos]!;
    const triple = this.s.startsWith(q.repeat(3), this.pos);
    const delim = triple ? q.repeat(3) : q;
    const start = this.pos + delim.length;
    let i = start;
    while (i < this.s.length) {
      if (q === '"' && this.s[i] === "\\") {
        i += 2;
        continue;
      }
      if (this.s.startsWith(delim, i)) break;
      if (!triple && this.s[i] === "\n") break;
      i++;
    }
    let end = i + delim.length;
    if (triple) while (this.s[end] === q && end - i < 5) end++;
    const body = this.s.slice(start, Math.min(i, this.s.length));
    this.pos = Math.min(end, this.s.length);
    if (q === "'") return body;
    try {
      return JSON.parse(`"${body.replace(/\\U([0-9A-Fa-f]{8})/g, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))}"`) as string;
    } catch {
      return body;
    }
  }

  private record(path: KeySegment[]): void {
    const line = this.line();
    for (let n = 1; n <= path.length; n++) {
      const id = toKeyPath(path.slice(0, n));
      if (!(id in this.out)) this.out[id] = line;
    }
  }

  private skipInline(): void {
    while (this.s[this.pos] === " " || this.s[this.pos] === "\t") this.pos++;
  }

  /** Whitespace, comments and line ends. */
  private skipBlank(): void {
    for (;;) {
      this.skipInline();
      const c = this.s[this.pos];
      if (c === "#") this.skipComment();
      else if (c === "\n" || c === "\r") this.pos++;
      else return;
    }
  }

  private skipComment(): void {
    while (this.pos < this.s.length && this.s[this.pos] !== "\n") this.pos++;
  }

  private skipToLineEnd(): void {
    this.skipInline();
    if (this.s[this.pos] === "]") this.pos += this.s.startsWith("]]", this.pos) ? 2 : 1;
    this.skipInline();
    if (this.s[this.pos] === "#") this.skipComment();
  }

  /** 1-based line of the current position. */
  private line(): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ends[mid]! < this.pos) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  }
}
