/**
 * Line-level edits of cratebox.toml that keep the user's comments and layout (what `cratebox
 * approve`, `deny` and `profiles prune` write). Pure: text in, text out. Only the lines of the
 * table being changed are touched; every other line, comment and blank stays as it was.
 */

/** A TOML value as written in the file. */
export type TomlValue = string | boolean | number | string[];

function renderValue(v: TomlValue): string {
  if (Array.isArray(v)) return `[${v.map((x) => JSON.stringify(x)).join(", ")}]`;
  if (typeof v === "string") return JSON.stringify(v);
  return String(v);
}

/** `build.openssl-sys` -> the forms a header may take: [build.openssl-sys], [build."openssl-sys"]. */
function headerMatches(line: string, table: string): "table" | "array" | undefined {
  const m = /^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/.exec(line);
  if (!m) return undefined;
  const name = m[2]!
    .split(".")
    .map((part) =>
      part
        .trim()
        .replace(/^"(.*)"$/, "$1")
        .replace(/^'(.*)'$/, "$1"),
    )
    .join(".");
  if (name !== table) return undefined;
  return m[1] === "[[" ? "array" : "table";
}

const isHeader = (line: string) => /^\s*\[/.test(line);

/** Lines [start, end) of the table: its header up to the next header (trailing blanks excluded). */
function tableRange(lines: string[], table: string): { start: number; end: number; kind: "table" | "array" } | undefined {
  const start = lines.findIndex((l) => headerMatches(l, table) !== undefined);
  if (start < 0) return undefined;
  let end = start + 1;
  while (end < lines.length && !isHeader(lines[end]!)) end++;
  while (end > start + 1 && lines[end - 1]!.trim() === "") end--;
  return { start, end, kind: headerMatches(lines[start]!, table)! };
}

/** The lines [i, j) that hold `key = value`, a multi-line array included. */
function keyRange(lines: string[], from: number, to: number, key: string): { start: number; end: number } | undefined {
  const re = new RegExp(`^\\s*("${key}"|${key.replace(/[-]/g, "\\-")})\\s*=`);
  for (let i = from; i < to; i++) {
    if (!re.test(lines[i]!)) continue;
    let depth = 0;
    let j = i;
    for (; j < to; j++) {
      const code = lines[j]!.replace(/"(?:[^"\\]|\\.)*"/g, "").replace(/#.*$/, "");
      depth += (code.match(/\[/g) ?? []).length - (code.match(/\]/g) ?? []).length;
      if (depth <= 0) break;
    }
    return { start: i, end: Math.min(j + 1, to) };
  }
  return undefined;
}

export interface TableEdit {
  /** Keys to set (replaced in place, keeping a trailing comment; appended when new). */
  set: Record<string, TomlValue>;
  /** Keys to remove. */
  remove?: string[];
  /** Comment lines written above a new table. */
  comment?: string[];
}

/** Sets keys of `[table]`, creating the table at the end of the file when it does not exist. */
export function upsertTable(text: string, table: string, edit: TableEdit): string {
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  const range = tableRange(lines, table);
  if (!range || range.kind === "array") {
    // No table yet (or an array of tables, which gets one more element): append.
    const block = [
      ...(lines.length > 0 && lines.at(-1)!.trim() !== "" ? [""] : []),
      ...(edit.comment ?? []).map((c) => `# ${c}`),
      range?.kind === "array" ? `[[${table}]]` : `[${table}]`,
      ...Object.entries(edit.set).map(([k, v]) => `${k} = ${renderValue(v)}`),
    ];
    return [...lines, ...block].join(eol) + eol;
  }
  let end = range.end;
  for (const key of edit.remove ?? []) {
    const k = keyRange(lines, range.start + 1, end, key);
    if (!k) continue;
    lines.splice(k.start, k.end - k.start);
    end -= k.end - k.start;
  }
  for (const [key, value] of Object.entries(edit.set)) {
    const k = keyRange(lines, range.start + 1, end, key);
    const rendered = `${key} = ${renderValue(value)}`;
    if (k) {
      const comment = k.end - k.start === 1 ? /\s+(#[^"\]]*)$/.exec(lines[k.start]!)?.[1] : undefined;
      const indent = /^\s*/.exec(lines[k.start]!)![0];
      lines.splice(k.start, k.end - k.start, `${indent}${rendered}${comment ? ` ${comment}` : ""}`);
      end -= k.end - k.start - 1;
    } else {
      lines.splice(end, 0, rendered);
      end++;
    }
  }
  return lines.join(eol) + eol;
}

/** Removes `[table]` (its header and keys; comments directly above it go with it). */
export function removeTable(text: string, table: string): string {
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const lines = text.split(/\r?\n/);
  let range = tableRange(lines, table);
  while (range) {
    let start = range.start;
    while (start > 0 && /^\s*#/.test(lines[start - 1]!)) start--;
    let end = range.end;
    // The blank lines after it go too; the one before its comment stays as the separator.
    while (end < lines.length && lines[end]!.trim() === "") end++;
    lines.splice(start, end - start);
    range = tableRange(lines, table);
  }
  return lines.join(eol);
}
