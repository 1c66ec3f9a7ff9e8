/**
 * What the CLI starts before the rest of cratebox has loaded: for a build, the `cargo metadata`
 * the build asks first (it takes about as long as loading cratebox does, so they overlap), and
 * for a test, bench or run the one the crate graph is read from (their first binary's step needs
 * it). runtime/cargo-metadata.ts answers the same question once per process. Nothing is decided
 * here: a mistake in the arguments is still main.ts's to report, and an answer nobody asks for
 * only cost a child process.
 */
import { parseCargoInvocation } from "../core/cargo-args.ts";
import { graphMetadataArgs, readBuildDirs, runGraphMetadata } from "../runtime/cargo-metadata.ts";
import { splitAtCargo } from "./options.ts";

export function startEarly(argv: readonly string[]): void {
  const { cargoArgs } = splitAtCargo(argv);
  if (cargoArgs.length === 0) return;
  const inv = parseCargoInvocation(cargoArgs);
  if (!inv.builds) return;
  // The build asks again (runtime/run-cargo.ts, the same cargo, directory and environment) and reports a failure.
  const cargo = process.env.CARGO ?? "cargo";
  readBuildDirs(cargo, inv, process.cwd(), process.env).catch(() => {});
  // A test, bench or run always sandboxes a binary, and its first step needs the crate graph.
  if (inv.runsBinaries) runGraphMetadata(cargo, graphMetadataArgs(inv, cargoArgs), process.cwd(), process.env).catch(() => {});
}
