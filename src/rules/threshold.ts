// Threshold rule: each point against fixed levels (high, high_high above; low, low_low below) with
// deadband and on/off delays. The rule's stage is the highest stage of any level active on any point.
import type { RaisedStage, ThresholdLevelName, ThresholdRule } from "../config/types.js";
import type { Evidence } from "../events.js";
import { ConditionTable, pastLimit, type Direction } from "./delay.js";
import { faultOf, higherStage, stageRank, pointRuleResult, PointRefs, type PointReader, type RuleEvaluator, type RuleResult } from "./result.js";

function directionOf(level: ThresholdLevelName): Direction {
  switch (level) {
    case "high":
    case "high_high":
      return "above";
    case "low":
    case "low_low":
      return "below";
  }
}

interface Hit {
  readonly stage: RaisedStage;
  readonly margin: number;
  readonly evidence: Evidence;
}

export function thresholdEvaluator(rule: ThresholdRule): RuleEvaluator {
  const conditions = new ConditionTable(rule);
  const levels = rule.levels.map((l) => ({ ...l, direction: directionOf(l.name) }));
  // Condition keys are numbers (point index × levels + level index): no string per point and level.
  const perPoint = levels.length;
  const refs = new PointRefs(rule.points);
  return {
    rule,
    watchedPoints: rule.points,
    pending: () => conditions.pending,
    evaluate(store: PointReader, now: number): RuleResult {
      const faults: Evidence[] = [];
      const hits: Hit[] = [];
      let stage: RaisedStage | undefined;
      for (let pi = 0; pi < rule.points.length; pi++) {
        const point = rule.points[pi]!;
        const value = refs.goodValue(store, pi, now);
        if (value === undefined) {
          faults.push(faultOf(rule.id, point, refs.read(store, pi, now)));
          for (let li = 0; li < perPoint; li++) conditions.drop(pi * perPoint + li);
          continue;
        }
        let best: Hit | undefined;
        for (let li = 0; li < levels.length; li++) {
          const l = levels[li]!;
          const key = pi * perPoint + li;
          const raw = pastLimit(value, l.value, rule.deadband, l.direction, conditions.wasActive(key));
          if (!conditions.step(key, raw, now)) continue;
          const margin = l.direction === "above" ? value - l.value : l.value - value;
          if (best === undefined || stageRank(l.stage) > stageRank(best.stage)) {
            best = {
              stage: l.stage,
              margin,
              evidence: { rule: rule.id, point, value, quality: "good", level: l.name, threshold: l.value },
            };
          }
        }
        if (best !== undefined) {
          hits.push(best);
          stage = higherStage(stage, best.stage);
        }
      }
      return pointRuleResult(rule, stage, hits, (h) => stageRank(h.stage) * 1e9 + h.margin, faults);
    },
  };
}
