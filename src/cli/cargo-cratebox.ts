// Entry point for `cargo cratebox ...` (see cratebox.ts for the compile cache).
import { enableCompileCache } from "node:module";

enableCompileCache?.();
const { fromCargoSubcommand, runMain } = await import("./main.ts");
await runMain(fromCargoSubcommand(process.argv.slice(2)));
