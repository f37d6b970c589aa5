// What every rule kind returns when it is evaluated at a time: active or not, the stage it raises,
// the evidence behind it and the faults (points it could not trust). Zones and alarms read these.
import type { RaisedStage, Rule, Stage } from "../config/types.js";
import { stages } from "../config/site-schema.js";
import type { Evidence } from "../events.js";
import { isGood, type PointValue } from "../points/point.js";
import type { PointHandle, PointStore, Trend } from "../points/store.js";

export interface RuleResult {
  readonly rule: string;
  readonly zone: string;
  readonly kind: Rule["kind"];
  /** True when the rule's condition holds (after delays and deadband) on at least one good point. */
  readonly active: boolean;
  /** The highest stage raised by an active level; absent when inactive and for comm_loss. */
  readonly stage?: RaisedStage;
  /** The worst few points that make the rule active, worst first. */
  readonly evidence: readonly Evidence[];
  /** Points (or groups) the rule could not judge: each one is trouble, never a pass. */
  readonly faults: readonly Evidence[];
}

/** The part of the point store rules read: current value (staleness applied) and good history. */
export type PointReader = Pick<PointStore, "read" | "history"> & Partial<
  Pick<PointStore, "trend" | "handle" | "readHandle" | "trendHandle" | "goodValueHandle" | "recheckAfterHandle">
>;

/**
 * A rule's points resolved to the reader's handles, once per reader: the hot path of every rule
 * reads by index without a lookup by key. Readers without handles are read by key.
 */
export class PointRefs {
  readonly keys: readonly string[];
  #reader: PointReader | undefined;
  #handles: (PointHandle | undefined)[] = [];

  constructor(keys: readonly string[]) {
    this.keys = keys;
  }

  #bind(store: PointReader): void {
    this.#reader = store;
    const handle = store.handle === undefined || store.readHandle === undefined ? undefined : store.handle.bind(store);
    this.#handles = this.keys.map((k) => handle?.(k));
  }

  read(store: PointReader, i: number, now: number): PointValue {
    if (store !== this.#reader) this.#bind(store);
    const h = this.#handles[i];
    return h === undefined ? store.read(this.keys[i]!, now) : store.readHandle!(h, now);
  }

  /** Point `i`'s number when it reads good at `now`, else undefined (read() says why): no object per read. */
  goodValue(store: PointReader, i: number, now: number): number | undefined {
    if (store !== this.#reader) this.#bind(store);
    const h = this.#handles[i];
    if (h !== undefined && store.goodValueHandle !== undefined) return store.goodValueHandle(h, now);
    const v = h === undefined ? store.read(this.keys[i]!, now) : store.readHandle!(h, now);
    return isGood(v) ? v.value : undefined;
  }

  /**
   * When point `i`'s reading can next change with no write (see PointStore.recheckAfterHandle);
   * -Infinity for a reader that cannot say (the point is then re-judged at every evaluation).
   */
  recheckAfter(store: PointReader, i: number, now: number): number {
    if (store !== this.#reader) this.#bind(store);
    const h = this.#handles[i];
    return h === undefined || store.recheckAfterHandle === undefined ? -Infinity : store.recheckAfterHandle(h, now);
  }

  /** The trend of point `i` from `fromT` on, or undefined when the reader has no trend (the caller computes it). */
  trend(store: PointReader, i: number, fromT: number): Trend | undefined {
    if (store !== this.#reader) this.#bind(store);
    const h = this.#handles[i];
    if (h !== undefined && store.trendHandle !== undefined) return store.trendHandle(h, fromT);
    return store.trend?.(this.keys[i]!, fromT);
  }
}

/** One configured rule with its per-point state, evaluated at a time the caller passes in. */
export interface RuleEvaluator {
  readonly rule: Rule;
  /** Point keys this rule reads: the seam for a later incremental (on-change) evaluation. */
  readonly watchedPoints: readonly string[];
  evaluate(store: PointReader, now: number): RuleResult;
  /**
   * Incremental evaluation: the same result as evaluate() at `now`, given the positions (indices into
   * watchedPoints) written with a different reading since the last evaluation. Re-judges only those,
   * the conditions waiting out a delay and the points whose reading time alone has changed; returns
   * the previous result object itself when nothing in it changed. Absent: evaluate() is used.
   */
  update?(store: PointReader, now: number, changed: readonly number[]): RuleResult;
  /** Whether a condition waits out a delay (time alone can change the result); absent: assume it might. */
  pending?(): boolean;
  /**
   * For results that time alone changes (a sliding window): the time after which the last result
   * may no longer hold with the same readings. Absent: never, except for rate-of-rise rules (always).
   */
  dueAfter?(): number;
}

/** How many pieces of evidence a result carries: enough to explain, small enough to publish. */
export const EVIDENCE_LIMIT = 5;

export function stageRank(s: Stage): number {
  return stages.indexOf(s);
}

export function higherStage<S extends Stage>(a: S | undefined, b: S): S {
  return a === undefined || stageRank(b) > stageRank(a) ? b : a;
}

/** Evidence for a point that is not good: its quality and the reason why. */
export function faultOf(rule: string, point: string, v: { quality: Evidence["quality"]; reason?: string; detail?: string }): Evidence {
  const e: { rule: string; point: string; quality: Evidence["quality"]; reason: string; detail?: string } = {
    rule,
    point,
    quality: v.quality,
    reason: v.reason ?? "unknown",
  };
  if (v.detail !== undefined) e.detail = v.detail;
  return e;
}

/** Keep the `limit` worst entries by `score`, highest first, stable for equal scores. */
export function worst<T>(items: readonly T[], score: (t: T) => number, limit = EVIDENCE_LIMIT): T[] {
  return items
    .map((item, i) => ({ item, i, s: score(item) }))
    .sort((a, b) => b.s - a.s || a.i - b.i)
    .slice(0, limit)
    .map((x) => x.item);
}

/**
 * The result of a rule over points: active when it raises a stage, with the worst hits (by
 * `score`, highest first) as evidence. Every point rule kind ends here.
 */
export function pointRuleResult<H extends { readonly evidence: Evidence }>(
  rule: Pick<Rule, "id" | "zone" | "kind">,
  stage: RaisedStage | undefined,
  hits: readonly H[],
  score: (h: H) => number,
  faults: readonly Evidence[],
): RuleResult {
  return {
    rule: rule.id,
    zone: rule.zone,
    kind: rule.kind,
    active: stage !== undefined,
    ...(stage === undefined ? {} : { stage }),
    evidence: worst(hits, score).map((h) => h.evidence),
    faults,
  };
}

/** Two pieces of evidence say the same (their figures are numbers, strings or absent). */
export function sameEvidence(a: Evidence, b: Evidence): boolean {
  if (a === b) return true;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!Object.is(a[k], b[k])) return false;
  return true;
}

export function sameEvidenceList(a: readonly Evidence[], b: readonly Evidence[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!sameEvidence(a[i]!, b[i]!)) return false;
  return true;
}

/** Two results of one rule say the same: a zone stepped by either comes out the same. */
export function sameResult(a: RuleResult, b: RuleResult): boolean {
  return a === b || (a.active === b.active && a.stage === b.stage && sameEvidenceList(a.evidence, b.evidence) && sameEvidenceList(a.faults, b.faults));
}

export function median(values: readonly number[]): number {
  return medianInPlace(Float64Array.from(values), values.length);
}

/** The median of the first `n` numbers of `buf`, which it sorts in place (numeric sort: no comparator, no copy). */
export function medianInPlace(buf: Float64Array, n: number): number {
  const s = buf.subarray(0, n).sort();
  const mid = n >> 1;
  return n % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
