// Deviation rule: each point against the median of its group (e.g. a cell against the other cells of
// its module), over good points only. A group with too few good points cannot be judged: a fault.
import type { DeviationRule, RaisedStage } from "../config/types.js";
import type { Evidence } from "../events.js";
import { ConditionTable, pastLimit } from "./delay.js";
import { faultOf, median, pointRuleResult, PointRefs, type PointReader, type RuleEvaluator, type RuleResult } from "./result.js";

/** `cab1/s1/m3/c7/tempC` with trim 2 → `cab1/s1/m3`: the group a point is compared within. */
export function groupKey(point: string, trim: number): string {
  const parts = point.split("/");
  return parts.slice(0, Math.max(1, parts.length - trim)).join("/");
}

export function deviationEvaluator(rule: DeviationRule): RuleEvaluator {
  const conditions = new ConditionTable(rule);
  const stage: RaisedStage = rule.stage;
  // Groups are fixed by the config: build them once.
  // Members by index into rule.points, read through handles.
  const groups = new Map<string, number[]>();
  rule.points.forEach((p, i) => {
    const g = groupKey(p, rule.groupByTrim);
    const members = groups.get(g);
    if (members === undefined) groups.set(g, [i]);
    else members.push(i);
  });
  const refs = new PointRefs(rule.points);
  return {
    rule,
    watchedPoints: rule.points,
    pending: () => conditions.pending,
    evaluate(store: PointReader, now: number): RuleResult {
      const faults: Evidence[] = [];
      const hits: { deviation: number; evidence: Evidence }[] = [];
      for (const [group, members] of groups) {
        const goodValues: { point: string; value: number }[] = [];
        for (const pi of members) {
          const point = rule.points[pi]!;
          const value = refs.goodValue(store, pi, now);
          if (value !== undefined) goodValues.push({ point, value });
          else {
            faults.push(faultOf(rule.id, point, refs.read(store, pi, now)));
            conditions.drop(point);
          }
        }
        if (goodValues.length < rule.minGroup) {
          faults.push({
            rule: rule.id,
            point: group,
            quality: "bad",
            reason: "group_too_small",
            detail: `${goodValues.length} of ${members.length} points good, at least ${rule.minGroup} needed for a median`,
          });
          for (const g of goodValues) conditions.drop(g.point);
          continue;
        }
        const groupMedian = median(goodValues.map((g) => g.value));
        for (const { point, value } of goodValues) {
          const deviation = value - groupMedian;
          const raw = pastLimit(deviation, rule.aboveMedian, rule.deadband, "above", conditions.wasActive(point));
          if (conditions.step(point, raw, now)) {
            hits.push({
              deviation,
              evidence: { rule: rule.id, point, value, quality: "good", groupMedian, deviation, threshold: rule.aboveMedian },
            });
          }
        }
      }
      return pointRuleResult(rule, hits.length > 0 ? stage : undefined, hits, (h) => h.deviation, faults);
    },
  };
}
