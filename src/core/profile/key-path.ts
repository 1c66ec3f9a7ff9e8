/**
 * Key paths as users read them: `build.openssl-sys.memory`, `build.openssl-sys[1].env[0]`,
 * `build."odd name"`. One spelling, shared by error messages, locations and provenance. Pure.
 */

export type KeySegment = string | number;

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

export function toKeyPath(segments: readonly PropertyKey[]): string {
  let out = "";
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else {
      const key = String(s);
      const text = BARE_KEY.test(key) ? key : JSON.stringify(key);
      out += out === "" ? text : `.${text}`;
    }
  }
  return out;
}
