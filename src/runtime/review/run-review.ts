/**
 * `cratebox review` (issue 14): what a Cargo.lock change brings in, before any of it runs.
 *
 *   read:   the workspace (cargo metadata --no-deps), Cargo.lock and cratebox.toml at the base
 *           commit and in the working tree, the index and the .crate files (gather.ts)
 *   decide: core/review (lockfile diff, cool-off, grants, risk order, verdict)
 *   judge:  organisation policies, with the review as their input (isolated-vm)
 *   report: text, JSON, GitHub annotations or markdown; exit 0 passed, 1 failed, 2 errors
 *
 * Sources are unpacked only into a private temporary directory, removed when the review ends.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { EXIT } from "../../core/errors.ts";
import { assembleReview, withPolicyRefusals } from "../../core/review/assemble.ts";
import { describeVerdict } from "../../core/review/describe.ts";
import { reviewError } from "../../core/review/errors.ts";
import { toGrantTransitions, toIdentity } from "../../core/review/grant-transitions.ts";
import { diffLockfiles } from "../../core/review/lock-diff.ts";
import { EMPTY_LOCKFILE, parseLockfile } from "../../core/review/lockfile.ts";
import { toReviewPolicyInput, toReviewRefusals } from "../../core/review/policy-view.ts";
import { toDiffText } from "../../core/review/render-diff.ts";
import { toReviewAnnotations } from "../../core/review/render-github.ts";
import { toReviewMarkdown } from "../../core/review/render-markdown.ts";
import { toReviewText } from "../../core/review/render-text.ts";
import type { ReviewReport } from "../../core/review/report.ts";
import { toReviewSettings, type ReviewFormat, type ReviewOptions } from "../../core/review/settings.ts";
import { formatProfileIssue, parseProfile, type ParsedProfile } from "../../core/profile/parse.ts";
import { resolveGrant } from "../../core/profile/resolve.ts";
import { toGrantView } from "../../core/policy/view.ts";
import { PROFILE_FILE } from "../../core/grant-decision.ts";
import { evaluateAudits } from "../../core/audits/evaluate.ts";
import { toAuditView } from "../../core/audits/view.ts";
import { loadAudits } from "../audits.ts";
import { policySources } from "../grants.ts";
import { loadBuiltins, loadProfile } from "../profile-files.ts";
import { evaluatePolicies } from "../policy.ts";
import { loadPolicy } from "../policy-source.ts";
import { gatherPackages } from "./gather.ts";
import { fromTop, openRepo, readAtCommit, resolveBase, type Repo } from "./git.ts";
import { discoverSources } from "./stores.ts";
import { readWorkspace } from "./workspace.ts";

export type { ReviewOptions };

export interface ReviewContext {
  cwd: string;
  env: NodeJS.ProcessEnv;
  cargo: string;
  print: (text: string) => void;
  /** --policy files (CRATEBOX_POLICY and cratebox.toml's `policy` are added). */
  policies?: string[];
}

export async function runReview(ctx: ReviewContext, options: ReviewOptions): Promise<number> {
  const workspace = await readWorkspace(ctx.cargo, ctx.cwd, ctx.env);
  const profile = loadProfile(workspace.root);
  const settings = toReviewSettings(profile.parsed.profile.review, options, new Date(), { cwd: ctx.cwd, workspaceRoot: workspace.root });
  const repo = await openRepo(workspace.root, ctx.env);
  const base = await resolveBase(repo, settings.base);
  const lockFile = path.join(workspace.root, "Cargo.lock");
  const lockPath = fromTop(repo, lockFile);
  if (!existsSync(lockFile))
    throw reviewError(
      "REVIEW_LOCKFILE",
      `${lockFile} does not exist`,
      "create it with `cargo generate-lockfile` (and commit it): the review compares lockfiles",
    );
  const notes: string[] = [];
  const oldText = await readAtCommit(repo, base.commit, lockPath);
  if (oldText === undefined) notes.push(`${lockPath} did not exist at ${base.ref}: every package counts as added`);
  const before = oldText === undefined ? EMPTY_LOCKFILE : parseLockfile(oldText, `${base.ref}:${lockPath}`);
  const after = parseLockfile(readFileSync(lockFile, "utf8"), lockPath);
  const { changes, unchanged } = diffLockfiles(before, after);
  if (settings.diff !== undefined && !changes.some((c) => c.name === settings.diff)) {
    throw reviewError(
      "REVIEW_NO_SUCH_CRATE",
      `${settings.diff} did not change in ${lockPath} since ${base.ref}`,
      "`cratebox review` lists the packages that changed",
    );
  }
  const oldProfile = await profileAt(repo, base.commit, path.join(workspace.root, PROFILE_FILE), notes);
  // cargo-vet audits (issue 15): evidence per new version; a violation fails the review.
  const audits = profile.parsed.profile.review?.audits?.length ? loadAudits(workspace.root, profile.parsed.profile.review.audits) : undefined;

  const workDir = await mkdtemp(path.join(tmpdir(), "cratebox-review-"));
  // Ctrl-C or a kill skips `finally`: the private directory goes first, then the exit (128 + signal).
  const onSignal = (signal: NodeJS.Signals) => {
    rmSync(workDir, { recursive: true, force: true });
    process.exit(signal === "SIGINT" ? EXIT.INTERRUPTED : 143);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const gathered = await gatherPackages(changes, {
      sources: discoverSources(workspace.root, ctx.env, settings.index),
      workDir,
      patchesOf: settings.diff,
      targetDir: ctx.env.CARGO_TARGET_DIR ? path.resolve(ctx.cwd, ctx.env.CARGO_TARGET_DIR) : path.join(workspace.root, "target"),
      after,
      workspace,
      profile: profile.parsed,
    });
    let report = assembleReview({
      workspace: workspace.root,
      lockfile: lockPath,
      base,
      now: settings.now,
      nowFrom: settings.nowFrom,
      coolOff: settings.coolOff,
      unchanged: unchanged.length,
      packages: audits
        ? gathered.packages.map((p) => (p.change.new ? { ...p, audits: toAuditView(evaluateAudits(audits, p.change.name, p.change.new.version)) } : p))
        : gathered.packages,
      grants: toGrantTransitions({ profile: oldProfile, lock: before }, { profile: profile.parsed, lock: after }),
      policies: [],
      notes: [...notes, ...gathered.notes],
    });
    report = await judgeByPolicies(report, ctx, profile.parsed);
    if (settings.diff !== undefined) {
      report.packages.forEach((p) => {
        if (p.name !== settings.diff) return;
        const i = gathered.packages.findIndex((g) => g.change.name === p.name && (g.change.new ?? g.change.old)!.version === (p.new ?? p.old)!.version);
        const full = gathered.fullDiffs[i];
        ctx.print(toDiffText(p, full?.files ?? [], full?.classification ?? { buildScript: new Set(), procMacro: new Set(), executables: new Map() }));
      });
      // The exit code is the review's verdict: say why, in a few lines.
      ctx.print(`\ncratebox review: ${describeVerdict(report)}\n${report.failures.map((f) => `  x ${f.message}\n`).join("")}`);
    } else ctx.print(render(report, settings.format));
    return report.ok ? 0 : 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await rm(workDir, { recursive: true, force: true });
  }
}

function render(report: ReviewReport, format: ReviewFormat): string {
  switch (format) {
    case "json":
      return `${JSON.stringify(report, null, 2)}\n`;
    case "github":
      return toReviewAnnotations(report);
    case "markdown":
      return toReviewMarkdown(report);
    case "text":
      return toReviewText(report);
  }
}

/** cratebox.toml at the base commit; a missing or invalid one counts as empty (with a note). */
async function profileAt(repo: Repo, commit: string, file: string, notes: string[]): Promise<ParsedProfile> {
  const text = (await readAtCommit(repo, commit, fromTop(repo, file))) ?? "version = 1\n";
  const parsed = parseProfile(text, `${commit.slice(0, 12)}:${PROFILE_FILE}`);
  if (parsed.ok) return parsed.value;
  notes.push(`${PROFILE_FILE} at the base is not valid, so the grants are compared with none: ${parsed.issues.map(formatProfileIssue).join("; ")}`);
  const empty = parseProfile("version = 1\n", PROFILE_FILE);
  if (!empty.ok) throw new Error("the empty profile does not parse");
  return empty.value;
}

/** Policies see the review; a `deny` for a reviewed package fails it with the policy's message. */
async function judgeByPolicies(report: ReviewReport, ctx: ReviewContext, profile: ParsedProfile): Promise<ReviewReport> {
  const files = policySources(ctx.policies ?? [], ctx.env, profile.profile.policy ?? [], report.workspace, ctx.cwd);
  if (files.length === 0) return report;
  const builtins = loadBuiltins();
  const input = toReviewPolicyInput(
    report,
    (name, version) => {
      const p = report.packages.find((x) => x.name === name && x.new?.version === version)!.new!;
      const identity = toIdentity({ name, version, source: p.source, checksum: p.checksum?.replace(/^sha256:/, "") ?? null });
      const r = resolveGrant(profile, builtins, identity, "build");
      return toGrantView(r.kind === "granted" ? r.grant : r.withoutEntry, profile);
    },
    Boolean(ctx.env.CI),
  );
  const decisions = await evaluatePolicies(files.map(loadPolicy), input);
  return withPolicyRefusals({ ...report, policies: files }, toReviewRefusals(input, decisions));
}
