// Off-gas rule: electrolyte vapour in ppm above a baseline, with several levels (early warning, then
// alarm). The baseline is the median of the ambient reference detectors when there are any (cancels
// common-mode background, docs/sources.md#reference-sensors: up to 3 reference sensors per controller), else a fixed value.
import type { OffgasRule, RaisedStage } from "../config/types.js";
import type { Evidence } from "../events.js";
import { isGood } from "../points/point.js";
import { ConditionTable, pastLimit } from "./delay.js";
import { faultOf, higherStage, median, stageRank, pointRuleResult, PointRefs, type PointReader, type RuleEvaluator, type RuleResult } from "./result.js";

interface Baseline {
  readonly ppm: number;
  readonly source: "references" | "configured";
}

function baselineOf(rule: OffgasRule, store: PointReader, now: number, faults: Evidence[]): Baseline {
  if (rule.referencePoints.length === 0) return { ppm: rule.baselinePpm, source: "configured" };
  const values: number[] = [];
  for (const ref of rule.referencePoints) {
    const v = store.read(ref, now);
    if (isGood(v)) values.push(v.value);
    else faults.push(faultOf(rule.id, ref, v));
  }
  if (values.length > 0) return { ppm: median(values), source: "references" };
  // Every reference is bad (each one already listed as a fault). Keep watching against the configured
  // baseline rather than going blind: a venting cell must still be seen, and the fault says why the
  // figure is less exact.
  faults.push({
    rule: rule.id,
    quality: "bad",
    reason: "no_reference",
    detail: `all ${rule.referencePoints.length} reference detectors bad; using the configured baseline ${rule.baselinePpm} ppm`,
  });
  return { ppm: rule.baselinePpm, source: "configured" };
}

export function offgasEvaluator(rule: OffgasRule): RuleEvaluator {
  const conditions = new ConditionTable(rule);
  const refs = new PointRefs(rule.points);
  return {
    rule,
    watchedPoints: [...rule.points, ...rule.referencePoints],
    pending: () => conditions.pending,
    evaluate(store: PointReader, now: number): RuleResult {
      const faults: Evidence[] = [];
      const baseline = baselineOf(rule, store, now, faults);
      const hits: { stage: RaisedStage; above: number; evidence: Evidence }[] = [];
      let stage: RaisedStage | undefined;
      const perPoint = rule.levels.length;
      for (let pi = 0; pi < rule.points.length; pi++) {
        const point = rule.points[pi]!;
        const v = refs.read(store, pi, now);
        if (!isGood(v)) {
          faults.push(faultOf(rule.id, point, v));
          for (let i = 0; i < perPoint; i++) conditions.drop(pi * perPoint + i);
          continue;
        }
        const above = v.value - baseline.ppm;
        let pointStage: RaisedStage | undefined;
        let threshold = 0;
        rule.levels.forEach((l, i) => {
          const key = pi * perPoint + i;
          const raw = pastLimit(above, l.ppmAboveBaseline, rule.deadband, "above", conditions.wasActive(key));
          if (conditions.step(key, raw, now) && (pointStage === undefined || stageRank(l.stage) > stageRank(pointStage))) {
            pointStage = l.stage;
            threshold = l.ppmAboveBaseline;
          }
        });
        if (pointStage === undefined) continue;
        stage = higherStage(stage, pointStage);
        hits.push({
          stage: pointStage,
          above,
          evidence: { rule: rule.id, point, value: v.value, quality: v.quality, baseline: baseline.ppm, baselineSource: baseline.source, ppmAboveBaseline: above, threshold },
        });
      }
      return pointRuleResult(rule, stage, hits, (h) => stageRank(h.stage) * 1e9 + h.above, faults);
    },
  };
}
