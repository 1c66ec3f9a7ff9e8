/**
 * Writes test/fixtures/version-req/cargo-cases.tsv: requirement, version and what cargo's own
 * `semver` crate says (`VersionReq::matches`), for the unit test of core/profile/version-req.ts.
 *
 *   node scripts/cargo-version-cases.ts <oracle>
 *
 * <oracle> is a program built against the semver crate that reads `<req>\t<version>` lines and
 * answers `true`, `false`, `badreq` or `badver` for each (a dozen lines of Rust over
 * `VersionReq::parse`, `Version::parse` and `matches`; crates.io is out of reach here, so it is
 * built from the crate's source, fetched by hand). The cases are random but fixed (a seeded
 * generator), in the shapes a profile's `version` takes, and half of the versions sit on a
 * comparator's own numbers, where the pre-release rules decide.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";

const oracle = process.argv[2];
if (!oracle) throw new Error("usage: node scripts/cargo-version-cases.ts <oracle>");

let seed = 13;
/** A small fixed generator (mulberry32): the same cases on every machine. */
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const num = () => pick([0, 1, 2, 3]);
const PRE = ["", "", "", "alpha", "alpha.1", "alpha.10", "alpha.beta", "beta", "1", "rc.2"];
const OPS = ["", "=", ">", ">=", "<", "<=", "~", "^"];

const lines = new Set<string>();
while (lines.size < 2000) {
  const comparators = Array.from({ length: pick([1, 1, 1, 1, 1, 1, 2, 2, 2, 3]) }, () => {
    const op = pick(OPS);
    const [a, b, c, p] = [num(), random() < 0.8 ? num() : undefined, random() < 0.7 ? num() : undefined, pick(PRE)];
    const wild = random() < 0.15;
    const text = wild
      ? `${op}${a}.${b === undefined ? "*" : `${b}.*`}`
      : `${op}${b === undefined ? a : c === undefined ? `${a}.${b}` : `${a}.${b}.${c}${p ? `-${p}` : ""}`}`;
    return { text, numbers: [a, wild ? undefined : b, wild ? undefined : c] };
  });
  const near = pick(comparators).numbers;
  const [x, y, z] = random() < 0.5 ? near.map((n) => n ?? num()) : [num(), num(), num()];
  const p = pick(PRE);
  lines.add(`${comparators.map((c) => c.text).join(", ")}\t${x}.${y}.${z}${p ? `-${p}` : ""}`);
}
const cases = [...lines];
const answered = spawnSync(oracle, { input: `${cases.join("\n")}\n`, encoding: "utf8" });
if (answered.status !== 0) throw new Error(`${oracle} failed: ${answered.stderr}`);
const answers = answered.stdout.trim().split("\n");
if (answers.length !== cases.length) throw new Error(`${oracle} answered ${answers.length} of ${cases.length} cases`);
const out = path.join(import.meta.dirname, "../test/fixtures/version-req/cargo-cases.tsv");
writeFileSync(out, `${cases.map((c, i) => `${c}\t${answers[i]}`).join("\n")}\n`);
console.log(`wrote ${cases.length} cases to ${path.relative(process.cwd(), out)}`);
