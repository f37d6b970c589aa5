// Builds one evaluator per configured rule, once, and evaluates them at a given time: all of them,
// only those whose points changed (after a poll), or those plus the ones time alone can change (the
// periodic pass: pending delays, sliding windows). Each evaluator keeps its own per-point state.
import { siteDevices, type Rule, type SiteConfig } from "../config/types.js";
import { pointKey } from "../points/point.js";
import { commLossEvaluator } from "./comm-loss.js";
import { deviationEvaluator } from "./deviation.js";
import { disagreeEvaluator } from "./disagree.js";
import { offgasEvaluator } from "./offgas.js";
import { rateOfRiseEvaluator } from "./rate-of-rise.js";
import type { PointReader, RuleEvaluator, RuleResult } from "./result.js";
import { stateEvaluator } from "./state.js";
import { stuckEvaluator } from "./stuck.js";
import { thresholdEvaluator } from "./threshold.js";
import { voteEvaluator } from "./vote.js";

export function evaluatorFor(rule: Rule, devicePoints: ReadonlyMap<string, readonly string[]>): RuleEvaluator {
  switch (rule.kind) {
    case "threshold":
      return thresholdEvaluator(rule);
    case "rate_of_rise":
      return rateOfRiseEvaluator(rule);
    case "deviation":
      return deviationEvaluator(rule);
    case "offgas":
      return offgasEvaluator(rule);
    case "comm_loss":
      return commLossEvaluator(rule, devicePoints);
    case "stuck":
      return stuckEvaluator(rule);
    case "disagree":
      return disagreeEvaluator(rule);
    case "state":
      return stateEvaluator(rule);
    case "vote":
      return voteEvaluator(rule);
  }
}

export interface EngineOptions {
  /**
   * Re-judge only the changed points of the rules that can (threshold, off-gas, state: per point;
   * deviation: per group). Default true; false re-runs a changed rule over all its points (the
   * reference the incremental path is tested against).
   */
  readonly incremental?: boolean;
}

export class RuleEngine {
  readonly #evaluators: readonly RuleEvaluator[];
  /** Point key -> start in #watchList of its watchers (-1 ends a list). */
  readonly #watchStart = new Map<string, number>();
  /** Every watcher list, flat: pairs of (evaluator index, the point's position in its watchedPoints). */
  readonly #watchList: Int32Array;
  /** Rules that judge a point's series (rate of rise, stuck): a repeated reading is still a new sample for them. */
  readonly #readsHistory: Uint8Array;
  /** Per incremental rule, the positions written with a new reading since its last evaluation, and a flag per position. */
  readonly #changedAt: (number[] | undefined)[];
  readonly #changedFlag: (Uint8Array | undefined)[];
  /** Rules whose points changed since they were last evaluated. */
  readonly #dirty: Uint8Array;
  /** The rules marked in #dirty, in marking order: a pass after a poll visits these, not every rule. */
  readonly #dirtyList: number[] = [];
  #anyDirty = false;
  /** Rules time alone can change while their points stay the same (a sliding window), for evaluators that do not say when. */
  readonly #sliding: Uint8Array;
  /** The last result of every rule, for the rules an incremental pass leaves alone. */
  #results: RuleResult[] | undefined;
  /** Indices of the rules the last pass evaluated, ascending. */
  #evaluated: number[] = [];

  /** The rules, in config order: result i is rule i's. */
  readonly rules: readonly Rule[];

  constructor(config: Pick<SiteConfig, "rules" | "devices" | "opcuaDevices">, opts: EngineOptions = {}) {
    this.rules = config.rules;
    const devicePoints = new Map<string, string[]>();
    for (const d of siteDevices(config)) devicePoints.set(d.id, d.points.map((p) => pointKey(d.id, p.pointId)));
    this.#evaluators = config.rules.map((r) => evaluatorFor(r, devicePoints));
    const lists = new Map<string, number[]>();
    this.#evaluators.forEach((e, i) => {
      e.watchedPoints.forEach((p, at) => {
        const list = lists.get(p);
        if (list === undefined) lists.set(p, [i, at]);
        else list.push(i, at);
      });
    });
    const incremental = opts.incremental ?? true;
    this.#changedAt = this.#evaluators.map((e) => (incremental && e.update !== undefined ? [] : undefined));
    this.#changedFlag = this.#evaluators.map((e) => (incremental && e.update !== undefined ? new Uint8Array(e.watchedPoints.length) : undefined));
    this.#readsHistory = Uint8Array.from(this.#evaluators, (e) => (e.rule.kind === "rate_of_rise" || e.rule.kind === "stuck" ? 1 : 0));
    let total = 0;
    for (const list of lists.values()) total += list.length + 1;
    this.#watchList = new Int32Array(total);
    let at = 0;
    for (const [p, list] of lists) {
      this.#watchStart.set(p, at);
      this.#watchList.set(list, at);
      this.#watchList[at + list.length] = -1;
      at += list.length + 1;
    }
    this.#dirty = new Uint8Array(this.#evaluators.length);
    this.#sliding = Uint8Array.from(this.#evaluators, (e) => (e.rule.kind === "rate_of_rise" ? 1 : 0));
  }

  get evaluators(): readonly RuleEvaluator[] {
    return this.#evaluators;
  }

  /** Indices (into `evaluators`) of the rules the last evaluation ran, ascending; the rest kept their result. */
  get evaluated(): readonly number[] {
    return this.#evaluated;
  }

  /** Where the watcher list of `key` starts, for markChangedAt(); -1 when no rule reads it. */
  watchStart(key: string): number {
    return this.#watchStart.get(key) ?? -1;
  }

  /** A point got a new value (or went stale): the rules that read it are evaluated on the next incremental pass. */
  markChanged(key: string, changed = true): void {
    this.markChangedAt(this.#watchStart.get(key) ?? -1, changed);
  }

  /**
   * markChanged() by a watchStart(): no lookup by key on the write path. With `changed` false (the
   * same reading again, only its time moved) only the rules that judge the series (rate of rise,
   * stuck) and rules waiting out a delay are marked.
   */
  markChangedAt(start: number, changed = true): void {
    let at = start;
    if (at < 0) return;
    const list = this.#watchList;
    for (let i = list[at]!; i >= 0; at += 2, i = list[at]!) {
      // The same reading again changes nothing for a rule, unless it judges the series itself or a
      // condition of it waits out a delay (which then completes at this poll, as with a new reading).
      if (!changed && this.#readsHistory[i] === 0 && this.#evaluators[i]!.pending?.() !== true) continue;
      if (this.#dirty[i] === 0) this.#dirtyList.push(i);
      this.#dirty[i] = 1;
      this.#anyDirty = true;
      const flags = this.#changedFlag[i];
      if (flags === undefined) continue;
      const pos = list[at + 1]!;
      if (flags[pos] === 0) {
        flags[pos] = 1;
        this.#changedAt[i]!.push(pos);
      }
    }
  }

  /** Forget the changed positions of rule `i` (it has just been evaluated). */
  #clearChanged(i: number): void {
    const list = this.#changedAt[i];
    if (list === undefined || list.length === 0) return;
    const flags = this.#changedFlag[i]!;
    for (const pos of list) flags[pos] = 0;
    list.length = 0;
  }

  /** Every rule at `now`, in config order (so events derived from them come out in a stable order). */
  evaluate(store: PointReader, now: number): RuleResult[] {
    this.#dirty.fill(0);
    this.#dirtyList.length = 0;
    this.#anyDirty = false;
    for (let i = 0; i < this.#evaluators.length; i++) this.#clearChanged(i);
    this.#results = this.#evaluators.map((e) => e.evaluate(store, now));
    this.#evaluated = this.#evaluators.map((_, i) => i);
    return this.#results;
  }

  /**
   * Only the rules whose points changed since their last evaluation; every other rule keeps its last
   * result. Time alone (delays, staleness, a sliding window) changes nothing here: the caller's
   * periodic evaluateDue() covers that. Before the first full evaluation this is a full one.
   */
  evaluateChanged(store: PointReader, now: number): RuleResult[] {
    return this.#pass(store, now, false);
  }

  /**
   * The periodic pass: the rules whose points changed (the caller marks points that went stale as
   * changed), plus every rule time alone can change: a condition waiting out an on/off delay, a
   * rate-of-rise window a sample has left since its last evaluation. Gives the same results as evaluate() at `now`, without re-running
   * rules nothing can have changed. Before the first full evaluation this is a full one.
   */
  evaluateDue(store: PointReader, now: number): RuleResult[] {
    return this.#pass(store, now, true);
  }

  #pass(store: PointReader, now: number, timed: boolean): RuleResult[] {
    const results = this.#results;
    if (results === undefined) return this.evaluate(store, now);
    this.#evaluated = [];
    if (!this.#anyDirty && !timed) return results;
    this.#anyDirty = false;
    // The result array is updated in place (a copy per poll is O(rules)): callers read it before the next pass.
    if (!timed) {
      // After a poll: only the marked rules, ascending (events come out in config order).
      const list = this.#dirtyList.sort((a, b) => a - b);
      for (const i of list) this.#run(i, results, store, now);
      list.length = 0;
      return results;
    }
    for (let i = 0; i < this.#evaluators.length; i++) {
      const e = this.#evaluators[i]!;
      if (this.#dirty[i] === 0 && !(e.pending?.() !== false || now > (e.dueAfter?.() ?? (this.#sliding[i] === 1 ? -Infinity : Infinity)))) continue;
      this.#run(i, results, store, now);
    }
    this.#dirtyList.length = 0;
    return results;
  }

  #run(i: number, results: RuleResult[], store: PointReader, now: number): void {
    const e = this.#evaluators[i]!;
    this.#dirty[i] = 0;
    const changed = this.#changedAt[i];
    results[i] = changed === undefined ? e.evaluate(store, now) : e.update!(store, now, changed);
    this.#clearChanged(i);
    this.#evaluated.push(i);
  }

}
