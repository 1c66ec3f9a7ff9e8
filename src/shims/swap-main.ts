/**
 * `node swap-main.js <binary>`: run by rustc-wrapper.sh right after rustc compiled a build
 * script, once per build-script compilation (never for ordinary crates).
 */
import { swapBuildScript } from "../runtime/swap.ts";

const bin = process.argv[2];
if (!bin) {
  process.stderr.write("cratebox swap: missing binary path\n");
  process.exit(2);
}
try {
  swapBuildScript(bin);
} catch (err) {
  process.stderr.write(`cratebox: could not put the sandbox shim in place of ${bin}: ${(err as Error).message}\n`);
  process.exit(1);
}
