/**
 * A 64-bit fingerprint (two 32-bit FNV-1a-style lanes) of texts and bytes: it tells whether they
 * changed and gives nothing of them back. Pure. Not a cryptographic digest: node:crypto costs 10 to
 * 14 ms to load on this project's machine (issue 13), and what is fingerprinted here needs no
 * one kept from making other content with the same fingerprint (the variables in the graph
 * cache's key, taken only under this user's cache key; the sandbox image's own directory, whose
 * tag says when to build it again and tells cratebox's own image from one a profile names, as a
 * sha256 of the same public content would, no less predictably).
 */
export class Fingerprint {
  private a = 0x811c9dc5;
  private b = 0x01000193 ^ 0x5bd1e995;

  /** Adds a text (its UTF-16 code units) or bytes. */
  update(data: string | Uint8Array): this {
    let { a, b } = this;
    for (let i = 0; i < data.length; i++) {
      const c = typeof data === "string" ? data.charCodeAt(i) : data[i]!;
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
    }
    this.a = a;
    this.b = b;
    return this;
  }

  /** 16 hex digits. */
  digest(): string {
    return `${(this.a >>> 0).toString(16).padStart(8, "0")}${(this.b >>> 0).toString(16).padStart(8, "0")}`;
  }
}

/** The fingerprint of one text. */
export function fingerprint(text: string): string {
  return new Fingerprint().update(text).digest();
}
