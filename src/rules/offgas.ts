// Off-gas rule: electrolyte vapour in ppm above a baseline, with several levels (early warning, then
// alarm). The baseline is the median of the ambient reference detectors when there are any (cancels
// common-mode background, docs/sources.md#reference-sensors: up to 3 reference sensors per controller), else a fixed value.
// Points are judged on their own against the baseline: after a poll only the changed points are
// re-judged, unless the baseline moved (then all of them).
import type { OffgasRule } from "../config/types.js";
import type { Evidence } from "../events.js";
import { isGood } from "../points/point.js";
import { ConditionTable, pastLimit } from "./delay.js";
import { PointJudgements } from "./point-judgements.js";
import { faultOf, median, stageRank, PointRefs, type PointReader, type RuleEvaluator, type RuleResult } from "./result.js";

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
  const n = rule.points.length;
  const perPoint = rule.levels.length;
  const ranks = rule.levels.map((l) => stageRank(l.stage));
  const table = new PointJudgements(n);
  const todo: number[] = [];
  let last: Baseline | undefined;

  function judge(store: PointReader, pi: number, now: number, baseline: Baseline): void {
    const point = rule.points[pi]!;
    const v = refs.read(store, pi, now);
    table.recheckAt(pi, refs.recheckAfter(store, pi, now));
    if (!isGood(v)) {
      table.setFault(pi, faultOf(rule.id, point, v));
      table.setHit(pi, undefined);
      for (let i = 0; i < perPoint; i++) conditions.drop(pi * perPoint + i);
      return;
    }
    table.setFault(pi, undefined);
    const above = v.value - baseline.ppm;
    let rank = -1;
    let threshold = 0;
    for (let i = 0; i < perPoint; i++) {
      const l = rule.levels[i]!;
      const key = pi * perPoint + i;
      const raw = pastLimit(above, l.ppmAboveBaseline, rule.deadband, "above", conditions.wasActive(key));
      if (conditions.step(key, raw, now) && ranks[i]! > rank) {
        rank = ranks[i]!;
        threshold = l.ppmAboveBaseline;
      }
    }
    table.setHit(
      pi,
      rank < 0
        ? undefined
        : {
            rank,
            score: rank * 1e9 + above,
            evidence: { rule: rule.id, point, value: v.value, quality: v.quality, baseline: baseline.ppm, baselineSource: baseline.source, ppmAboveBaseline: above, threshold },
          },
    );
  }

  /** The baseline at `now` (its faults recorded); true when it moved, so every point is re-judged. */
  function baselineAt(store: PointReader, now: number): { baseline: Baseline; moved: boolean } {
    const faults: Evidence[] = [];
    const baseline = baselineOf(rule, store, now, faults);
    table.setPrefixFaults(faults);
    const moved = last === undefined || last.ppm !== baseline.ppm || last.source !== baseline.source;
    last = baseline;
    return { baseline, moved };
  }

  return {
    rule,
    watchedPoints: [...rule.points, ...rule.referencePoints],
    pending: () => conditions.pending,
    evaluate(store: PointReader, now: number): RuleResult {
      const { baseline } = baselineAt(store, now);
      for (let pi = 0; pi < n; pi++) judge(store, pi, now, baseline);
      return table.result(rule);
    },
    update(store: PointReader, now: number, changed: readonly number[]): RuleResult {
      // The references are few (up to 3): read them at every pass, as a full evaluation does.
      const { baseline, moved } = baselineAt(store, now);
      if (moved) return this.evaluate(store, now);
      table.beginPass();
      todo.length = 0;
      for (const pi of changed) if (pi < n) table.visit(pi, todo);
      for (const key of conditions.pendingKeys()) table.visit(Math.floor((key as number) / perPoint), todo);
      table.dueRechecks(now, todo, (i) => (refs.goodValue(store, i, now) === undefined ? undefined : refs.recheckAfter(store, i, now)));
      for (const pi of todo) judge(store, pi, now, baseline);
      return table.result(rule);
    },
  };
}
