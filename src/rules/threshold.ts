// Threshold rule: each point against fixed levels (high, high_high above; low, low_low below) with
// deadband and on/off delays. The rule's stage is the highest stage of any level active on any point.
// Each point is judged on its own, so after a poll only the points that changed are re-judged
// (./point-judgements.ts keeps the aggregate).
import type { ThresholdLevelName, ThresholdRule } from "../config/types.js";
import { ConditionTable, pastLimit, type Direction } from "./delay.js";
import { PointJudgements, type PointHit } from "./point-judgements.js";
import { faultOf, stageRank, PointRefs, type PointReader, type RuleEvaluator, type RuleResult } from "./result.js";

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

export function thresholdEvaluator(rule: ThresholdRule): RuleEvaluator {
  const conditions = new ConditionTable(rule);
  const levels = rule.levels.map((l) => ({ ...l, direction: directionOf(l.name), rank: stageRank(l.stage) }));
  // Condition keys are numbers (point index × levels + level index): no string per point and level.
  const perPoint = levels.length;
  const refs = new PointRefs(rule.points);
  const n = rule.points.length;
  const table = new PointJudgements(n);
  const todo: number[] = [];

  /** Judge point `pi` at `now`: its conditions stepped, its hit or fault recorded. */
  function judge(store: PointReader, pi: number, now: number): void {
    const point = rule.points[pi]!;
    const value = refs.goodValue(store, pi, now);
    table.recheckAt(pi, refs.recheckAfter(store, pi, now));
    if (value === undefined) {
      table.setFault(pi, faultOf(rule.id, point, refs.read(store, pi, now)));
      table.setHit(pi, undefined);
      for (let li = 0; li < perPoint; li++) conditions.drop(pi * perPoint + li);
      return;
    }
    table.setFault(pi, undefined);
    let best: PointHit | undefined;
    for (let li = 0; li < perPoint; li++) {
      const l = levels[li]!;
      const key = pi * perPoint + li;
      const raw = pastLimit(value, l.value, rule.deadband, l.direction, conditions.wasActive(key));
      if (!conditions.step(key, raw, now)) continue;
      if (best === undefined || l.rank > best.rank) {
        const margin = l.direction === "above" ? value - l.value : l.value - value;
        best = { rank: l.rank, score: l.rank * 1e9 + margin, evidence: { rule: rule.id, point, value, quality: "good", level: l.name, threshold: l.value } };
      }
    }
    table.setHit(pi, best);
  }

  return {
    rule,
    watchedPoints: rule.points,
    pending: () => conditions.pending,
    evaluate(store: PointReader, now: number): RuleResult {
      for (let pi = 0; pi < n; pi++) judge(store, pi, now);
      return table.result(rule);
    },
    update(store: PointReader, now: number, changed: readonly number[]): RuleResult {
      table.beginPass();
      todo.length = 0;
      for (const pi of changed) table.visit(pi, todo);
      for (const key of conditions.pendingKeys()) table.visit(Math.floor((key as number) / perPoint), todo);
      table.dueRechecks(now, todo, (i) => (refs.goodValue(store, i, now) === undefined ? undefined : refs.recheckAfter(store, i, now)));
      for (const pi of todo) judge(store, pi, now);
      return table.result(rule);
    },
  };
}
