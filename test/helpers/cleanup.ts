/**
 * Every test file of every project: what the test helpers created in TMPDIR is removed after
 * the file's tests (scripts/test fails the suite if anything is left there).
 */
import { afterAll } from "vitest";
import { removeTempDirs } from "./workspace.ts";

afterAll(removeTempDirs);
