// Entry point for `cargo cratebox ...` (see cratebox.ts for the compile cache and early.ts).
import { enableCompileCache } from "node:module";

enableCompileCache?.();
const { fromCargoSubcommand } = await import("./options.ts");
const argv = fromCargoSubcommand(process.argv.slice(2));
(await import("./early.ts")).startEarly(argv);
const { runMain } = await import("./main.ts");
await runMain(argv);
