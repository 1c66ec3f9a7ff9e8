import { fromCargoSubcommand, runMain } from "./main.ts";

await runMain(fromCargoSubcommand(process.argv.slice(2)));
