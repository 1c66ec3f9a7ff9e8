// Entry point. The compile cache (Node 22+) is enabled before the rest is loaded: it saves tens
// of milliseconds of start-up, which a no-op `cratebox cargo build` pays every time.
import { enableCompileCache } from "node:module";

enableCompileCache?.();
const { runMain } = await import("./main.ts");
await runMain(process.argv.slice(2));
