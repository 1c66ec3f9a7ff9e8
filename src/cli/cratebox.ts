import { runMain } from "./main.ts";

await runMain(process.argv.slice(2));
