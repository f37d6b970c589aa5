// Builds one evaluator per configured rule, once, and evaluates them all at a given time. Each
// evaluator keeps its own per-point state (delays, deadband). The seam for a later incremental
// evaluator: every evaluator names its `watchedPoints`, so a dirty set fed by PointStore.onChange can
// pick which rules to re-run (time-driven ones, delays and staleness, still need a periodic pass).
import type { Rule, SiteConfig } from "../config/types.js";
import { pointKey } from "../points/point.js";
import { commLossEvaluator } from "./comm-loss.js";
import { deviationEvaluator } from "./deviation.js";
import { offgasEvaluator } from "./offgas.js";
import { rateOfRiseEvaluator } from "./rate-of-rise.js";
import type { PointReader, RuleEvaluator, RuleResult } from "./result.js";
import { thresholdEvaluator } from "./threshold.js";

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
  }
}

export class RuleEngine {
  readonly #evaluators: readonly RuleEvaluator[];
  /** Point key -> indices of the evaluators that watch it. */
  readonly #watchers = new Map<string, number[]>();
  /** Rules whose points changed since they were last evaluated. */
  readonly #dirty: boolean[];
  #anyDirty = false;
  /** The last result of every rule, for the rules an incremental pass leaves alone. */
  #results: RuleResult[] | undefined;

  constructor(config: Pick<SiteConfig, "rules" | "devices" | "opcuaDevices">) {
    const devicePoints = new Map<string, string[]>();
    for (const d of [...config.devices, ...(config.opcuaDevices ?? [])]) devicePoints.set(d.id, d.points.map((p) => pointKey(d.id, p.pointId)));
    this.#evaluators = config.rules.map((r) => evaluatorFor(r, devicePoints));
    this.#evaluators.forEach((e, i) => {
      for (const p of e.watchedPoints) {
        const list = this.#watchers.get(p);
        if (list === undefined) this.#watchers.set(p, [i]);
        else if (list[list.length - 1] !== i) list.push(i);
      }
    });
    this.#dirty = this.#evaluators.map(() => false);
  }

  get evaluators(): readonly RuleEvaluator[] {
    return this.#evaluators;
  }

  /** A point got a new value: the rules that read it are evaluated on the next incremental pass. */
  markChanged(key: string): void {
    const list = this.#watchers.get(key);
    if (list === undefined) return;
    for (const i of list) this.#dirty[i] = true;
    this.#anyDirty = true;
  }

  /** Every rule at `now`, in config order (so events derived from them come out in a stable order). */
  evaluate(store: PointReader, now: number): RuleResult[] {
    this.#dirty.fill(false);
    this.#anyDirty = false;
    this.#results = this.#evaluators.map((e) => e.evaluate(store, now));
    return this.#results;
  }

  /**
   * Only the rules whose points changed since their last evaluation; every other rule keeps its last
   * result. Time alone (delays, staleness, a sliding window) changes nothing here: the caller's
   * periodic full evaluate() covers that. Before the first full evaluation this is a full one.
   */
  evaluateChanged(store: PointReader, now: number): RuleResult[] {
    const results = this.#results;
    if (results === undefined) return this.evaluate(store, now);
    if (!this.#anyDirty) return results;
    this.#anyDirty = false;
    const next = results.slice();
    for (let i = 0; i < this.#evaluators.length; i++) {
      if (!this.#dirty[i]) continue;
      this.#dirty[i] = false;
      next[i] = this.#evaluators[i]!.evaluate(store, now);
    }
    this.#results = next;
    return next;
  }
}
