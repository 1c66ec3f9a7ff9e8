// The README's cratebox.toml example must stay a valid file.
import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { formatProfileIssue, parseProfile } from "../../src/core/profile/parse.ts";
import { revive } from "../../src/runtime/profile-cache.ts";

it("the README's cratebox.toml example parses", () => {
  const readme = readFileSync(path.resolve(import.meta.dirname, "../../README.md"), "utf8");
  const example = /```toml\n(#:schema[\s\S]*?)```/.exec(readme)?.[1];
  expect(example).toBeDefined();
  const r = parseProfile(example!.replaceAll("sha256:…", `sha256:${"a".repeat(64)}`), "README.md");
  expect(r.ok ? [] : r.issues.map(formatProfileIssue)).toEqual([]);
  // ... and comes back the same out of the profiles' cache (a JSON file).
  if (!r.ok) return;
  const loaded = { parsed: r.value, exists: true, warnings: [] };
  expect(revive(JSON.parse(JSON.stringify(loaded)), []).profile).toStrictEqual(loaded);
});

it("the README's [review] example parses (cratebox review)", () => {
  const readme = readFileSync(path.resolve(import.meta.dirname, "../../README.md"), "utf8");
  const example = /```toml\n(\[review\][\s\S]*?)```/.exec(readme)?.[1];
  expect(example).toBeDefined();
  const r = parseProfile(`version = 1\n${example!.replace("sha256:…", `sha256:${"c".repeat(64)}`)}`, "README.md");
  expect(r.ok ? [] : r.issues.map(formatProfileIssue)).toEqual([]);
});
