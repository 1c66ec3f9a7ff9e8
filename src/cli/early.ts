/**
 * What the CLI starts before the rest of cratebox has loaded: for a build, the `cargo metadata`
 * the build asks first (it takes about as long as loading cratebox does, so they overlap), and
 * for a test, bench or run the rustc that tells the host triple. runtime/cargo-metadata.ts and
 * runtime/toolchain.ts answer the same question once per process. bin/cratebox may have asked
 * both already, before Node started (runtime/shell-asked.ts): an answer is taken when it was
 * this run's question. Nothing is decided here: a mistake in the arguments is still main.ts's
 * to report, and an answer nobody asks for only cost a child process.
 */
import { parseCargoInvocation } from "../core/cargo-args.ts";
import { takeAdoption } from "../runtime/adoption.ts";
import { readBuildDirs } from "../runtime/cargo-metadata.ts";
import { takeShellAsked } from "../runtime/shell-asked.ts";
import { toolchainFacts } from "../runtime/toolchain.ts";
import { splitAtCargo } from "./options.ts";

export function startEarly(argv: readonly string[]): void {
  const asked = takeShellAsked(process.env);
  const { cargoArgs } = splitAtCargo(argv);
  const inv = cargoArgs.length > 0 ? parseCargoInvocation(cargoArgs) : undefined;
  if (!inv?.builds) {
    asked?.drop();
    return;
  }
  // The build asks again (runtime/run-cargo.ts, the same cargo, directory and environment) and reports a failure.
  const cargo = process.env.CARGO ?? "cargo";
  const same =
    asked !== undefined &&
    asked.cargo === cargo &&
    asked.manifestPath === inv.manifestPath &&
    asked.targetDir === inv.targetDir &&
    inv.toolchain === undefined &&
    inv.globals.length === 0;
  if (!same) asked?.drop();
  const answers = same ? asked.answers() : undefined;
  // Under the native front (runtime/adoption.ts), its answer: the same question, asked by bin/cratebox.
  let adopted: ReturnType<typeof takeAdoption>;
  try {
    adopted = takeAdoption(process.env);
  } catch {
    adopted = undefined; // the build refuses it (run-cargo.ts)
  }
  readBuildDirs(cargo, inv, process.cwd(), process.env, adopted ? Promise.resolve(adopted.metadata) : answers?.then((a) => a.metadata)).catch(() => {});
  // A test, bench or run names cargo's runner after the host triple.
  if (inv.runsBinaries) {
    const rustc = same && asked.rustc === (process.env.RUSTC ?? "rustc") ? answers?.then((a) => a.rustc) : undefined;
    toolchainFacts(inv.toolchain, process.cwd(), process.env, rustc).catch(() => {});
  }
}
