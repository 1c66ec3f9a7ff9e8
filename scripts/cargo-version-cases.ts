/**
 * Writes test/fixtures/version-req/cargo-cases.jsonl: one `[requirement, version, answer]` per
 * line, the answer what cargo's own `semver` crate says (`VersionReq::parse`, `matches`), for the
 * unit test of core/profile/version-req.ts.
 *
 *   node scripts/cargo-version-cases.ts <oracle>
 *
 * <oracle> is a program built against the semver crate that reads `<req>\x1f<version>` lines and
 * answers `true`, `false`, `badreq` or `badver` for each (a dozen lines of Rust over
 * `VersionReq::parse`, `Version::parse` and `matches`; crates.io is out of reach here, so it is
 * built from the crate's source, fetched by hand). The cases are random but fixed (a seeded
 * generator), in the shapes a profile's `version` takes, a fifth of them spelled otherwise (spaces,
 * tabs, `x` wildcards, leading zeros, a stray comma: cargo refuses some), and half of the versions
 * sit on a comparator's own numbers, where the pre-release rules decide. Not generated: the two
 * things cratebox refuses on purpose although cargo takes them (version-req.ts).
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

/** Spellings around and beside the valid shapes: spaces (cargo skips ASCII spaces only) and wrong forms. */
const SPELLINGS: ((r: string) => string)[] = [
  (r) => ` ${r} `,
  (r) => r.replace(/, /g, " , "),
  (r) => r.replace(/^([<>=~^]+)/, "$1 "),
  (r) => `\t${r}`,
  (r) => `${r},`,
  (r) => r.replace(/, /g, " "),
  (r) => `*, ${r}`,
  (r) => r.replace(/\.\*/, ".x"),
  (r) => r.replace(/\.\*/, ".X"),
  (r) => r.replace(/(\d+)\.\*$/, "$1.*.*"),
  (r) => r.replace(/^(\D*)(\d)/, "$10$2"),
  (r) => r.replace(/(\d+\.\d+\.\d+)/, "$1-"),
  (r) => r.replace(/(\d+\.\d+\.\d+)/, "$1-01"),
  (r) => r.replace(/\.\*/, ".*.3"),
];

const lines = new Set<string>();
while (lines.size < 2400) {
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
  const req = comparators.map((c) => c.text).join(", ");
  lines.add(`${random() < 0.2 ? pick(SPELLINGS)(req) : req}\x1f${x}.${y}.${z}${p ? `-${p}` : ""}`);
}
const cases = [...lines];
const answered = spawnSync(oracle, { input: `${cases.join("\n")}\n`, encoding: "utf8" });
if (answered.status !== 0) throw new Error(`${oracle} failed: ${answered.stderr}`);
const answers = answered.stdout.trim().split("\n");
if (answers.length !== cases.length) throw new Error(`${oracle} answered ${answers.length} of ${cases.length} cases`);
const out = path.join(import.meta.dirname, "../test/fixtures/version-req/cargo-cases.jsonl");
writeFileSync(out, `${cases.map((c, i) => JSON.stringify([...c.split("\x1f"), answers[i]])).join("\n")}\n`);
console.log(`wrote ${cases.length} cases to ${path.relative(process.cwd(), out)}`);
