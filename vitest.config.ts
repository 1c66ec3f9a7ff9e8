import { defineConfig } from "vitest/config";

/**
 * Four projects, run one after the other by scripts/test:
 * - unit: pure logic and in-process doubles; no engine, no global setup, seconds;
 * - integration: real processes and sockets of cratebox's own (the policy evaluator in
 *   isolated-vm, the egress proxy), no engine;
 * - backends: each sandbox backend on the real thing (the Docker engine, bubblewrap);
 * - e2e: the built CLI on real cargo and real crates (needs dist/ and the image).
 * The docker and e2e projects run in a private TMPDIR and fail at the end if a test left a file
 * there or a labelled sandbox behind (test/helpers/global-setup.ts).
 */
/** Removes what the test helpers created in TMPDIR after each test file. */
const CLEANUP = ["test/helpers/cleanup.ts"];

export default defineConfig({
  test: {
    reporters: ["default"],
    projects: [
      {
        test: {
          name: "unit",
          setupFiles: CLEANUP,
          // Pure tests: one module graph shared by every file (no per-file import of the same
          // sources), in worker threads; the project's whole run stays a few seconds.
          pool: "threads",
          isolate: false,
          include: ["test/unit/**/*.test.ts"],
          // A bound that only guards against a hang: generous, never a performance assertion.
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "integration",
          setupFiles: CLEANUP,
          include: ["test/integration/**/*.test.ts"],
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: "backends",
          setupFiles: CLEANUP,
          include: ["test/backends/**/*.test.ts"],
          globalSetup: ["test/helpers/global-setup.ts"],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          // One file at a time: the sweep test must be the only one removing dead owners' sandboxes.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "e2e",
          setupFiles: CLEANUP,
          include: ["test/e2e/**/*.test.ts"],
          globalSetup: ["test/helpers/global-setup.ts"],
          // Real cargo builds in real sandboxes: minutes, not milliseconds. Two workers on two cores.
          testTimeout: 600_000,
          hookTimeout: 900_000,
          maxWorkers: 2,
        },
      },
    ],
  },
});
