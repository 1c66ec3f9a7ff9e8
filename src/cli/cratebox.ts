// Entry point. The compile cache (Node 22+) is enabled before the rest is loaded: it saves tens
// of milliseconds of start-up, which a no-op `cratebox cargo build` pays every time. A build's
// `cargo metadata` starts before the rest of the CLI loads (early.ts).
import { enableCompileCache } from "node:module";

enableCompileCache?.();
const argv = process.argv.slice(2);
(await import("./early.ts")).startEarly(argv);
const { runMain } = await import("./main.ts");
await runMain(argv);
