// The per-point verdicts of a rule that judges each point on its own (threshold, off-gas), kept
// with their aggregate: how many points raise each stage, the worst few hits, the faults in point
// order, and when each point's reading can change by time alone. A poll that changed k points of
// a rule over N costs O(k) here, not O(N): the result is rebuilt only from what changed.
import { stages } from "../config/site-schema.js";
import type { RaisedStage, Rule } from "../config/types.js";
import type { Evidence } from "../events.js";
import { EVIDENCE_LIMIT, sameEvidence, type RuleResult } from "./result.js";

/** One point's hit: the stage it raises (as a rank), its score (higher is worse) and its evidence. */
export interface PointHit {
  readonly rank: number;
  readonly score: number;
  readonly evidence: Evidence;
}

/** Worse first, then earlier point first: the order of worst() over hits listed in point order. */
function worse(a: PointHit, ai: number, b: PointHit, bi: number): number {
  return b.score - a.score || ai - bi;
}

/** First index in sorted `list` not below `x`. */
function lowerBound(list: readonly number[], x: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class PointJudgements {
  readonly #hits: (PointHit | undefined)[];
  readonly #faults: (Evidence | undefined)[];
  /** Indices of the points with a hit (any order) and with a fault (ascending). */
  readonly #hitSet = new Set<number>();
  readonly #faultIdx: number[] = [];
  readonly #stageCount = new Int32Array(stages.length);
  /** The worst hits, worst first (at most EVIDENCE_LIMIT). */
  #top: number[] = [];
  /** A top hit got less bad or left: the top is rebuilt from every hit. */
  #rebuildTop = false;
  /** Hits that may enter the top (new or improved). */
  readonly #candidates: number[] = [];
  #faultsChanged = false;
  #changed = true;
  #result: RuleResult | undefined;
  #prefix: readonly Evidence[] = [];
  /** Per point, a time before which its reading cannot change with no write; and their minimum (a lower bound). */
  readonly #recheck: Float64Array;
  #recheckDue = Infinity;
  /** Epoch stamps that de-duplicate the points of one pass. */
  readonly #stamp: Uint32Array;
  #epoch = 0;

  constructor(readonly size: number) {
    this.#hits = new Array<PointHit | undefined>(size);
    this.#faults = new Array<Evidence | undefined>(size);
    this.#recheck = new Float64Array(size).fill(Infinity);
    this.#stamp = new Uint32Array(size);
  }

  /** Start a pass: points added with visit() after this are judged once each. */
  beginPass(): void {
    if (++this.#epoch === 0xffffffff) {
      this.#stamp.fill(0);
      this.#epoch = 1;
    }
  }

  /** Add point `i` to this pass's list `out` unless it is already there. */
  visit(i: number, out: number[]): void {
    if (this.#stamp[i] === this.#epoch) return;
    this.#stamp[i] = this.#epoch;
    out.push(i);
  }

  /**
   * Adds to `out` the points whose reading time alone may have changed by `now` (a scan only when
   * one is due). `stillGood(i)` says whether point `i` still reads good, and then its next recheck
   * time: a point written again with the same reading (no mark) is not judged again; one that went
   * stale or reads bad (undefined) is.
   */
  dueRechecks(now: number, out: number[], stillGood: (i: number) => number | undefined): void {
    if (now < this.#recheckDue) return;
    let due = Infinity;
    const r = this.#recheck;
    for (let i = 0; i < r.length; i++) {
      let t = r[i]!;
      if (t <= now) {
        const later = stillGood(i);
        if (later === undefined || later <= now) {
          r[i] = Infinity;
          this.visit(i, out);
          continue;
        }
        r[i] = t = later;
      }
      if (t < due) due = t;
    }
    this.#recheckDue = due;
  }

  /** Point `i`'s reading may change by time alone at `t` (from PointRefs.recheckAfter). */
  recheckAt(i: number, t: number): void {
    this.#recheck[i] = t;
    if (t < this.#recheckDue) this.#recheckDue = t;
  }

  /** Point `i`'s hit now (undefined: it raises nothing). */
  setHit(i: number, hit: PointHit | undefined): void {
    const prev = this.#hits[i];
    if (prev === undefined && hit === undefined) return;
    if (prev !== undefined && hit !== undefined && prev.rank === hit.rank && prev.score === hit.score && sameEvidence(prev.evidence, hit.evidence)) return;
    this.#changed = true;
    if (prev !== undefined) this.#stageCount[prev.rank]!--;
    if (hit !== undefined) this.#stageCount[hit.rank]!++;
    this.#hits[i] = hit;
    if (hit === undefined) this.#hitSet.delete(i);
    else this.#hitSet.add(i);
    const inTop = this.#top.includes(i);
    if (inTop && (hit === undefined || worse(hit, i, prev!, i) > 0)) this.#rebuildTop = true;
    else if (hit !== undefined) this.#candidates.push(i);
  }

  /** Point `i`'s fault now (undefined: it reads good). */
  setFault(i: number, fault: Evidence | undefined): void {
    const prev = this.#faults[i];
    if (prev === undefined && fault === undefined) return;
    if (prev !== undefined && fault !== undefined && sameEvidence(prev, fault)) return;
    this.#changed = true;
    this.#faultsChanged = true;
    this.#faults[i] = fault;
    if (prev === undefined) this.#faultIdx.splice(lowerBound(this.#faultIdx, i), 0, i);
    else if (fault === undefined) this.#faultIdx.splice(lowerBound(this.#faultIdx, i), 1);
  }

  /** Faults listed before the points' (an off-gas rule's reference detectors); they change the result too. */
  setPrefixFaults(faults: readonly Evidence[]): void {
    if (faults.length === this.#prefix.length && faults.every((f, k) => sameEvidence(f, this.#prefix[k]!))) return;
    this.#prefix = faults;
    this.#changed = true;
    this.#faultsChanged = true;
  }

  /** The highest stage any point raises now. */
  stage(): RaisedStage | undefined {
    for (let r = this.#stageCount.length - 1; r >= 0; r--) if (this.#stageCount[r]! > 0) return stages[r] as RaisedStage;
    return undefined;
  }

  #updateTop(): void {
    const hits = this.#hits;
    const byWorse = (a: number, b: number): number => worse(hits[a]!, a, hits[b]!, b);
    if (this.#rebuildTop) {
      // A top hit got less bad or left: the next worst may be any hit.
      const top: number[] = [];
      for (const i of this.#hitSet) {
        if (top.length === EVIDENCE_LIMIT && byWorse(i, top[top.length - 1]!) >= 0) continue;
        top.splice(lowerBoundBy(top, i, byWorse), 0, i);
        if (top.length > EVIDENCE_LIMIT) top.pop();
      }
      this.#top = top;
    } else if (this.#candidates.length > 0) {
      const merged = [...new Set([...this.#top, ...this.#candidates])].filter((i) => hits[i] !== undefined).sort(byWorse);
      this.#top = merged.slice(0, EVIDENCE_LIMIT);
    }
    this.#rebuildTop = false;
    this.#candidates.length = 0;
  }

  /** The rule's result: the previous object itself when no verdict changed since. */
  result(rule: Pick<Rule, "id" | "zone" | "kind">): RuleResult {
    if (!this.#changed && this.#result !== undefined) return this.#result;
    this.#updateTop();
    const prev = this.#result;
    const faults = this.#faultsChanged || prev === undefined ? [...this.#prefix, ...this.#faultIdx.map((i) => this.#faults[i]!)] : prev.faults;
    const stage = this.stage();
    this.#result = {
      rule: rule.id,
      zone: rule.zone,
      kind: rule.kind,
      active: stage !== undefined,
      ...(stage === undefined ? {} : { stage }),
      evidence: this.#top.map((i) => this.#hits[i]!.evidence),
      faults,
    };
    this.#changed = false;
    this.#faultsChanged = false;
    return this.#result;
  }
}

/** Where `x` goes in `list`, kept sorted by `cmp`. */
function lowerBoundBy(list: readonly number[], x: number, cmp: (a: number, b: number) => number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cmp(list[mid]!, x) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
