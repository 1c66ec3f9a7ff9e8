/**
 * two-person-review: code that newly runs on the building machine needs audits signed by at
 * least two different people, and a version an audit file marks as a violation never runs
 * (cratebox issue 15). The audits are cargo-vet's files, named in cratebox.toml:
 *
 *   [review]
 *   audits = ["supply-chain/audits.toml", "supply-chain/imports.lock"]
 *
 *   cratebox review --policy profiles/policies/two-person-review.js
 *
 * In `cratebox review`: a package that brings a new build script or a new proc macro fails the
 * review unless the audit chains that reach its new version (criteria implying safe-to-run) were
 * signed by two people. Two people, not two entries: "Alice <alice@example.org>" and "alice"
 * are one person (the name before the e-mail address decides, whatever its case). In a build and in a review: a
 * crate whose resolved version matches a `violation` entry is denied. Audits are evidence: this
 * policy only takes away, it never grants.
 */
function policy(input) {
  const person = (who) => {
    const name = who.replace(/<[^>]*>/, "").trim().toLowerCase();
    return name || who.trim().toLowerCase();
  };
  const people = (audits) => new Set(audits.by.map(person)).size;
  const violation = (name, version, audits) =>
    audits.violations.map((v) => ({
      crate: name, version, phase: "*", action: "deny", rule: "audit-violation",
      message: `${name} ${version}: ${v.source} records a violation ${v.violation} (${v.criteria.join(", ")}) by ${v.who.join(", ") || "no one named"}${v.notes ? `: ${v.notes}` : ""}`,
    }));

  const decisions = [];
  for (const crate of input.crates) decisions.push(...violation(crate.name, crate.version, crate.audits));
  if (!input.review) return decisions;
  for (const crate of input.review.crates) {
    decisions.push(...violation(crate.name, crate.version, crate.audits));
    if (!crate.newBuildScript && !crate.newProcMacro) continue;
    const signed = people(crate.audits);
    if (signed >= 2) continue;
    const what = crate.newBuildScript ? "a new build script" : "a new proc macro";
    decisions.push({
      crate: crate.name, version: crate.version, phase: "build", action: "deny", rule: "two-person-review",
      message: `${crate.name} ${crate.version} brings ${what}, audited by ${signed === 0 ? "no one" : crate.audits.by.join(", ")}: two people must audit it (cargo vet certify), in an audit file of [review] audits`,
    });
  }
  return decisions;
}
