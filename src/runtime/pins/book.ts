/**
 * The content pins of one run or command: observes the code of every content-pinned crate before
 * cargo starts (preflight, `profiles ls`, `explain`), keeps what a mismatch should say, and
 * checks a build script's or proc macro's code right after it was compiled.
 */
import path from "node:path";
import type { GraphCrate } from "../../core/crate-graph.ts";
import { CrateboxError } from "../../core/errors.ts";
import { type ContentObservation, checkContentPin, contentPinsOf, describeContentMismatch, type PinContext } from "../../core/pins/check.ts";
import { CONTENT_KINDS, type ContentKind } from "../../core/pins/content.ts";
import type { PinRecords } from "../../core/pins/records.ts";
import type { ParsedProfile } from "../../core/profile/parse.ts";
import { selectEntry, type StalePin } from "../../core/profile/select.ts";
import { REAL_SUFFIX } from "../../core/shim.ts";
import { realpathOrUndefined } from "../realpath.ts";
import { contentDiff } from "./explain.ts";
import { loadPinRecords, observeCode, readIfPresent } from "./observe.ts";

export interface PinSources {
  parsed: ParsedProfile;
  workspaceRoot: string;
  buildDirs: readonly string[];
  env: NodeJS.ProcessEnv;
}

/** Lines of a content diff shown in a message (the rest is counted). */
const MAX_DIFF_LINES = 60;

export class ContentPins {
  private loaded: PinRecords | undefined;
  private readonly observations = new Map<string, ContentObservation>();
  private readonly explanations = new Map<string, string>();

  constructor(readonly src: PinSources) {}

  /** cratebox.pins.json, read once. */
  get records(): PinRecords {
    this.loaded ??= loadPinRecords(this.src.workspaceRoot);
    return this.loaded;
  }

  context(): PinContext {
    return { parsed: this.src.parsed, workspaceRoot: this.src.workspaceRoot, records: this.records.records, realpath: realpathOrUndefined };
  }

  /** What was observed of a crate's code (undefined: not pinned, or nothing to observe before a build). */
  observation(crate: GraphCrate, kind: ContentKind): ContentObservation | undefined {
    return this.observations.get(`${crate.id}\0${kind}`);
  }

  /**
   * Observes the code of every crate a table content-pins, from dep-info or the pin's record, and
   * sets `crate.content` so that selection checks it; what a mismatch should show is prepared
   * here (it may read a .crate). Returns the problems of the record file, for a warning.
   */
  async observe(crates: readonly GraphCrate[]): Promise<string[]> {
    const ctx = this.context();
    for (const crate of crates) {
      for (const kind of CONTENT_KINDS) {
        const pins = contentPinsOf(this.src.parsed, crate, kind);
        if (pins.length === 0) continue;
        const selection = selectEntry(this.src.parsed, { ...crate, content: undefined }, "build");
        const seen = observeCode(crate, kind, selection.kind === "selected" ? selection.data[kind] : pins[0], ctx, this.src.buildDirs);
        if (!seen) continue;
        crate.content = { ...crate.content, [kind]: seen.digest };
        this.observations.set(`${crate.id}\0${kind}`, seen);
        for (const pin of new Set(pins)) if (pin !== seen.digest) this.explanations.set(`${crate.id}\0${kind}\0${pin}`, await this.explain(crate, pin, seen));
      }
    }
    return this.records.problems;
  }

  /** What changed since the review, for the stale-pin lines of these stale tables. */
  describeStale(crate: GraphCrate, stale: readonly StalePin[]): string {
    return stale
      .flatMap((s) => CONTENT_KINDS.filter((k) => s.failed.includes(k)).map((k) => this.explanations.get(`${crate.id}\0${k}\0${s.content[k]}`) ?? ""))
      .join("");
  }

  /**
   * The check right after rustc compiled `crate`'s build script or proc macro (issue 12 wires it
   * into the rustc step): its dep-info against the content pin of the table that selects it. A
   * crate no table content-pins is not read at all.
   */
  async check(crate: GraphCrate, kind: ContentKind, depInfoPath: string): Promise<{ ok: true } | { ok: false; message: string }> {
    if (contentPinsOf(this.src.parsed, crate, kind).length === 0) return { ok: true };
    const r = checkContentPin(this.context(), crate, kind, depInfoPath, readIfPresent);
    if (r.ok) return { ok: true };
    let message = r.message;
    for (const pin of r.pinned) {
      const record = this.records.records.get(pin);
      if (record) message += await contentDiff(crate, record, r.observation, this.settings());
    }
    return { ok: false, message };
  }

  /**
   * Before a build script runs (the step the shim asks for): the dep-info cargo left next to the
   * compiled binary (`build_script_build-<hash>.d` beside `build_script_build-<hash>.cratebox-real`)
   * against the pin. Throws GRANTS_STOP on a mismatch, so the script never runs.
   */
  async checkBuildScript(crate: GraphCrate, program: string): Promise<void> {
    const depInfo = path.join(path.dirname(program), `${path.basename(program, REAL_SUFFIX)}.d`);
    const r = await this.check(crate, "build-script", depInfo);
    if (!r.ok) throw new CrateboxError("GRANTS_STOP", r.message, "nothing of the changed build script ran; review the change, then `cratebox approve`");
  }

  private async explain(crate: GraphCrate, pin: string, seen: ContentObservation): Promise<string> {
    const record = this.records.records.get(pin);
    const head = describeContentMismatch(pin, seen, this.records.records);
    return record ? head + (await contentDiff(crate, record, seen, this.settings())) : head;
  }

  private settings() {
    return { workspaceRoot: this.src.workspaceRoot, env: this.src.env, maxLines: MAX_DIFF_LINES };
  }
}
