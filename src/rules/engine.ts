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

  constructor(config: Pick<SiteConfig, "rules" | "devices" | "opcuaDevices">) {
    const devicePoints = new Map<string, string[]>();
    for (const d of [...config.devices, ...(config.opcuaDevices ?? [])]) devicePoints.set(d.id, d.points.map((p) => pointKey(d.id, p.pointId)));
    this.#evaluators = config.rules.map((r) => evaluatorFor(r, devicePoints));
  }

  get evaluators(): readonly RuleEvaluator[] {
    return this.#evaluators;
  }

  /** Every rule at `now`, in config order (so events derived from them come out in a stable order). */
  evaluate(store: PointReader, now: number): RuleResult[] {
    return this.#evaluators.map((e) => e.evaluate(store, now));
  }
}
