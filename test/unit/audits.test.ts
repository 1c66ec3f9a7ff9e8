/** cargo-vet audit files as evidence (issue 15): parsing, chains of full and delta audits, criteria, violations. Pure. */
import { parse } from "smol-toml";
import { describe, expect, it } from "vitest";
import { evaluateAudits, NOT_AUDITED } from "../../src/core/audits/evaluate.ts";
import { type AuditBook, mergeAuditBooks, parseAuditFile } from "../../src/core/audits/parse.ts";
import { describeAudits, toAuditView } from "../../src/core/audits/view.ts";

function book(text: string, file = "supply-chain/audits.toml"): AuditBook {
  const r = parseAuditFile(parse(text), file);
  if (!r.ok) throw new Error(r.problems.join("\n"));
  return r.book;
}

const AUDITS = `
[criteria.crypto-reviewed]
description = "The cryptographic code was reviewed by the crypto team."
implies = "safe-to-deploy"

[criteria.license-checked]
description = "Only the licence was looked at."

[[audits.alpha]]
who = "Alice <alice@example.org>"
criteria = "safe-to-deploy"
version = "1.0.0"

[[audits.alpha]]
who = "Bob <bob@example.org>"
criteria = "safe-to-run"
delta = "1.0.0 -> 1.1.0"
notes = "build script unchanged"

[[audits.alpha]]
who = ["Carol <carol@example.org>"]
criteria = ["safe-to-run"]
delta = "1.1.0 -> 1.2.0"

[[audits.alpha]]
who = "Mallory"
criteria = "safe-to-deploy"
delta = "0.9.0 -> 1.3.0"

[[audits.sigs]]
who = "Dana"
criteria = "crypto-reviewed"
version = "2.0.0"

[[audits.lic]]
who = "Erin"
criteria = "license-checked"
version = "1.0.0"

[[audits.bad]]
who = "Frank"
criteria = "safe-to-deploy"
version = "0.3.0"

[[audits.bad]]
who = "Grace"
criteria = "safe-to-run"
violation = ">=0.3.1, <0.4"
notes = "sends the environment home"
`;

describe("parseAuditFile", () => {
  it("reads criteria and full, delta and violation entries, who and criteria as one or many", () => {
    const b = book(AUDITS);
    expect(b.criteria.map((c) => [c.name, c.implies])).toEqual([
      ["crypto-reviewed", ["safe-to-deploy"]],
      ["license-checked", []],
    ]);
    expect(b.audits).toHaveLength(8);
    expect(b.audits[1]).toMatchObject({ crate: "alpha", who: ["Bob <bob@example.org>"], criteria: ["safe-to-run"], delta: { from: "1.0.0", to: "1.1.0" } });
    expect(b.audits[7]).toMatchObject({ crate: "bad", violation: ">=0.3.1, <0.4", version: undefined, source: "supply-chain/audits.toml" });
  });

  it("reads imports.lock: each imported source's audits and criteria, named after the import", () => {
    const b = book(
      `[[audits.mozilla.audits.alpha]]\nwho = "Ian"\ncriteria = "safe-to-deploy"\nversion = "1.0.0"\n[audits.mozilla.criteria.moz-safe]\ndescription = "x"\nimplies = "safe-to-run"\n[[publisher.alpha]]\nversion = "1.0.0"\n`,
      "supply-chain/imports.lock",
    );
    expect(b.audits).toEqual([expect.objectContaining({ crate: "alpha", who: ["Ian"], source: "supply-chain/imports.lock (import mozilla)" })]);
    expect(b.criteria).toEqual([{ name: "moz-safe", implies: ["safe-to-run"], source: "supply-chain/imports.lock (import mozilla)" }]);
  });

  it("refuses an entry with none or two of version, delta and violation, a bad delta or requirement, a missing criteria", () => {
    const r = parseAuditFile(
      parse(
        '[[audits.x]]\ncriteria = "safe-to-run"\n[[audits.x]]\ncriteria = "safe-to-run"\nversion = "1.0.0"\ndelta = "1.0.0 -> 1.1.0"\n[[audits.x]]\ncriteria = "safe-to-run"\ndelta = "1.0.0 to 1.1.0"\n[[audits.x]]\ncriteria = "safe-to-run"\nviolation = "newer than 1"\n[[audits.x]]\nversion = "1.0.0"\n[audits.y]\nwho = "z"\n',
      ),
      "a.toml",
    );
    if (r.ok) throw new Error("parsed");
    expect(r.problems).toEqual([
      "a.toml: audits.x[0]: an audit has exactly one of version, delta, violation",
      "a.toml: audits.x[1]: an audit has exactly one of version, delta, violation",
      'a.toml: audits.x[2].delta: a delta "1.2.3 -> 1.3.0"',
      'a.toml: audits.x[3].violation: a version requirement such as "<1.2.4" or ">=2.0.0, <2.1.0"',
      expect.stringMatching(/^a\.toml: audits\.x\[4\]\.criteria: /),
      "a.toml: audits.y: not an array of audits ([[audits.y]]) nor an imported source",
    ]);
  });

  it("says which entries it does not read: wildcard audits and trusted publishers", () => {
    const b = book('[[wildcard-audits.alpha]]\nwho = "a"\ncriteria = "safe-to-deploy"\nuser-id = 1\nstart = 2020-01-01\nend = 2030-01-01\n');
    expect(b.notes).toEqual([expect.stringMatching(/wildcard-audits and trusted entries \(alpha\) are not read/)]);
  });
});

describe("evaluateAudits", () => {
  const b = book(AUDITS);

  it("a full audit, then deltas reaching the version: audited, by everyone on the chain, in order", () => {
    const v = evaluateAudits(b, "alpha", "1.2.0");
    expect(v).toMatchObject({
      audited: true,
      criteria: ["safe-to-run"],
      by: ["Alice <alice@example.org>", "Bob <bob@example.org>", "Carol <carol@example.org>"],
      sources: ["supply-chain/audits.toml"],
      violations: [],
    });
    expect(v.chain).toEqual([
      "full audit of 1.0.0 (safe-to-deploy) by Alice <alice@example.org>, supply-chain/audits.toml",
      "delta audit 1.0.0 -> 1.1.0 (safe-to-run) by Bob <bob@example.org>, supply-chain/audits.toml",
      "delta audit 1.1.0 -> 1.2.0 (safe-to-run) by Carol <carol@example.org>, supply-chain/audits.toml",
    ]);
    // The full audit alone establishes the stronger criterion for its own version.
    expect(evaluateAudits(b, "alpha", "1.0.0")).toMatchObject({
      audited: true,
      criteria: ["safe-to-deploy", "safe-to-run"],
      by: ["Alice <alice@example.org>"],
    });
  });

  it("a delta from a version nobody fully audited reaches nothing; a version no chain reaches is not audited", () => {
    expect(evaluateAudits(b, "alpha", "1.3.0")).toEqual(NOT_AUDITED);
    expect(evaluateAudits(b, "alpha", "1.1.1")).toMatchObject({ audited: false, by: [] });
    expect(evaluateAudits(b, "nobody-audited", "1.0.0")).toEqual(NOT_AUDITED);
  });

  it("a custom criterion counts when it implies safe-to-run (through safe-to-deploy); one that does not, does not", () => {
    expect(evaluateAudits(b, "sigs", "2.0.0")).toMatchObject({ audited: true, criteria: ["crypto-reviewed", "safe-to-deploy", "safe-to-run"], by: ["Dana"] });
    expect(evaluateAudits(b, "lic", "1.0.0")).toMatchObject({ audited: false });
  });

  it("a violation whose requirement the version meets marks it, whatever else says it is fine", () => {
    const v = evaluateAudits(b, "bad", "0.3.5");
    expect(v.violations).toEqual([
      { who: ["Grace"], criteria: ["safe-to-run"], violation: ">=0.3.1, <0.4", source: "supply-chain/audits.toml", notes: "sends the environment home" },
    ]);
    expect(describeAudits(toAuditView(v))).toBe("VIOLATION >=0.3.1, <0.4 (safe-to-run) by Grace, supply-chain/audits.toml; not audited");
    const clean = evaluateAudits(b, "bad", "0.3.0");
    expect(clean).toMatchObject({ audited: true, violations: [] });
    expect(describeAudits(toAuditView(clean))).toBe("audited (safe-to-deploy, safe-to-run) by Frank");
    // A version too large for cratebox to read is not let through a veto: it counts as violating.
    expect(evaluateAudits(b, "bad", "99999999999999999.0.0").violations).toHaveLength(1);
  });

  it("audits from several files (an import's included) add up: two sources, two people", () => {
    const imported = book('[[audits.mozilla.audits.alpha]]\nwho = "Ian"\ncriteria = "safe-to-deploy"\nversion = "1.2.0"\n', "supply-chain/imports.lock");
    const v = evaluateAudits(mergeAuditBooks([b, imported]), "alpha", "1.2.0");
    expect(v.by).toEqual(["Alice <alice@example.org>", "Bob <bob@example.org>", "Carol <carol@example.org>", "Ian"]);
    expect(v.sources).toEqual(["supply-chain/audits.toml", "supply-chain/imports.lock (import mozilla)"]);
    expect(v.criteria).toEqual(["safe-to-deploy", "safe-to-run"]);
  });
});
