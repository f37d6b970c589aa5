// Disagree (drift) rule: redundant sensors of one quantity (a zone's two off-gas detectors, the room
// sensors of one room) should read alike. A point further than `maxDifference` from the median of
// its good peers, for the on-delay, is trouble: one of them drifts. With two sensors both are named
// (which one is wrong cannot be told); with three or more, the odd one out. Never a stage.
import type { DisagreeRule } from "../config/types.js";
import type { Evidence } from "../events.js";
import { ConditionTable, pastLimit } from "./delay.js";
import { faultOf, median, PointRefs, worst, type PointReader, type RuleEvaluator, type RuleResult } from "./result.js";

export function disagreeEvaluator(rule: DisagreeRule): RuleEvaluator {
  const conditions = new ConditionTable(rule);
  const refs = new PointRefs(rule.points);
  const n = rule.points.length;
  return {
    rule,
    watchedPoints: rule.points,
    pending: () => conditions.pending,
    evaluate(store: PointReader, now: number): RuleResult {
      const faults: Evidence[] = [];
      const good: { i: number; value: number }[] = [];
      for (let i = 0; i < n; i++) {
        const value = refs.goodValue(store, i, now);
        if (value !== undefined) good.push({ i, value });
        else {
          faults.push(faultOf(rule.id, rule.points[i]!, refs.read(store, i, now)));
          conditions.drop(i);
        }
      }
      if (good.length < 2) {
        // Nothing left to compare with: the cross-check is blind, which is trouble of its own.
        faults.push({ rule: rule.id, quality: "bad", reason: "no_peer", detail: `${good.length} of ${n} redundant points good: nothing to cross-check` });
        for (const g of good) conditions.drop(g.i);
        return { rule: rule.id, zone: rule.zone, kind: rule.kind, active: false, evidence: [], faults };
      }
      const hits: { off: number; evidence: Evidence }[] = [];
      for (const { i, value } of good) {
        const peerMedian = median(good.filter((g) => g.i !== i).map((g) => g.value));
        const difference = value - peerMedian;
        const off = Math.abs(difference);
        if (!conditions.step(i, pastLimit(off, rule.maxDifference, rule.deadband, "above", conditions.wasActive(i)), now)) continue;
        hits.push({
          off,
          evidence: {
            rule: rule.id,
            point: rule.points[i]!,
            value,
            quality: "good",
            reason: "disagree",
            peerMedian,
            difference,
            threshold: rule.maxDifference,
            detail: `${difference >= 0 ? "+" : ""}${difference.toFixed(2)} from the median of its ${good.length - 1} redundant peer(s)`,
          },
        });
      }
      const evidence = worst(hits, (h) => h.off).map((h) => h.evidence);
      return { rule: rule.id, zone: rule.zone, kind: rule.kind, active: hits.length > 0, evidence, faults };
    },
  };
}
