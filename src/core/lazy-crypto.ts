/**
 * node:crypto, loaded when first used. Importing it costs about 8 ms, and the modules that use
 * it here are loaded on every `cratebox cargo` start, a no-op's included, that never hashes
 * (issue 13). Modules that only load when steps run import it as usual.
 */
export function lazyCrypto(): typeof import("node:crypto") {
  return process.getBuiltinModule("node:crypto");
}
