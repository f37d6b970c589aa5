// Deviation rule: each point against the median of its group (e.g. a cell against the other cells of
// its module), over good points only. A group with too few good points cannot be judged: a fault.
// After a poll only the groups with a changed point are recomputed; the others keep their verdicts.
import type { DeviationRule, RaisedStage } from "../config/types.js";
import type { Evidence } from "../events.js";
import { ConditionTable, pastLimit } from "./delay.js";
import { faultOf, medianInPlace, pointRuleResult, PointRefs, sameEvidenceList, type PointReader, type RuleEvaluator, type RuleResult } from "./result.js";

/** `cab1/s1/m3/c7/tempC` with trim 2 → `cab1/s1/m3`: the group a point is compared within. */
export function groupKey(point: string, trim: number): string {
  const parts = point.split("/");
  return parts.slice(0, Math.max(1, parts.length - trim)).join("/");
}

interface GroupHit {
  readonly deviation: number;
  readonly evidence: Evidence;
}

/** One group's verdicts from its last computation. */
interface GroupVerdict {
  hits: GroupHit[];
  faults: Evidence[];
  /** A time before which no member's reading can change with no write. */
  recheckAt: number;
}

export function deviationEvaluator(rule: DeviationRule): RuleEvaluator {
  const conditions = new ConditionTable(rule);
  const stage: RaisedStage = rule.stage;
  // Groups are fixed by the config: build them once. Members by index into rule.points, read
  // through handles; condition keys are point indices.
  const byName = new Map<string, number[]>();
  rule.points.forEach((p, i) => {
    const g = groupKey(p, rule.groupByTrim);
    const members = byName.get(g);
    if (members === undefined) byName.set(g, [i]);
    else members.push(i);
  });
  const names = [...byName.keys()];
  const groups = [...byName.values()];
  const groupOf = new Int32Array(rule.points.length);
  groups.forEach((members, g) => {
    for (const pi of members) groupOf[pi] = g;
  });
  const verdicts: GroupVerdict[] = groups.map(() => ({ hits: [], faults: [], recheckAt: -Infinity }));
  const largest = groups.reduce((m, members) => Math.max(m, members.length), 0);
  const goodPis = new Int32Array(largest);
  const goodValues = new Float64Array(largest);
  const sorted = new Float64Array(largest);
  const refs = new PointRefs(rule.points);
  let last: RuleResult | undefined;
  let recheckDue = -Infinity;
  /** Groups of one pass, de-duplicated by an epoch stamp; groups with hits or faults, ascending. */
  const stamp = new Uint32Array(groups.length);
  let epoch = 0;
  const todo: number[] = [];
  const nonEmpty: number[] = [];
  const visit = (g: number): void => {
    if (stamp[g] === epoch) return;
    stamp[g] = epoch;
    todo.push(g);
  };

  /** Recompute group `g` at `now`; true when its verdicts changed. */
  function compute(store: PointReader, g: number, now: number): boolean {
    const members = groups[g]!;
    const faults: Evidence[] = [];
    const hits: GroupHit[] = [];
    // The group's good members and their values, in scratch arrays (a group is recomputed after
    // every poll that changed one of its members).
    let nGood = 0;
    let recheckAt = Infinity;
    for (const pi of members) {
      recheckAt = Math.min(recheckAt, refs.recheckAfter(store, pi, now));
      const value = refs.goodValue(store, pi, now);
      if (value !== undefined) {
        goodPis[nGood] = pi;
        goodValues[nGood] = sorted[nGood] = value;
        nGood++;
      } else {
        faults.push(faultOf(rule.id, rule.points[pi]!, refs.read(store, pi, now)));
        conditions.drop(pi);
      }
    }
    if (nGood < rule.minGroup) {
      faults.push({
        rule: rule.id,
        point: names[g]!,
        quality: "bad",
        reason: "group_too_small",
        detail: `${nGood} of ${members.length} points good, at least ${rule.minGroup} needed for a median`,
      });
      for (let k = 0; k < nGood; k++) conditions.drop(goodPis[k]!);
    } else {
      const groupMedian = medianInPlace(sorted, nGood);
      for (let k = 0; k < nGood; k++) {
        const pi = goodPis[k]!;
        const value = goodValues[k]!;
        const deviation = value - groupMedian;
        const raw = pastLimit(deviation, rule.aboveMedian, rule.deadband, "above", conditions.wasActive(pi));
        if (conditions.step(pi, raw, now)) {
          hits.push({ deviation, evidence: { rule: rule.id, point: rule.points[pi]!, value, quality: "good", groupMedian, deviation, threshold: rule.aboveMedian } });
        }
      }
    }
    const v = verdicts[g]!;
    v.recheckAt = recheckAt;
    if (recheckAt < recheckDue) recheckDue = recheckAt;
    const same = sameEvidenceList(v.faults, faults) && v.hits.length === hits.length && sameEvidenceList(v.hits.map((h) => h.evidence), hits.map((h) => h.evidence));
    if (same) return false;
    const wasEmpty = v.hits.length === 0 && v.faults.length === 0;
    const isEmpty = hits.length === 0 && faults.length === 0;
    v.hits = hits;
    v.faults = faults;
    if (wasEmpty !== isEmpty) {
      let at = 0;
      while (at < nonEmpty.length && nonEmpty[at]! < g) at++;
      if (isEmpty) nonEmpty.splice(at, 1);
      else nonEmpty.splice(at, 0, g);
    }
    return true;
  }

  function result(): RuleResult {
    const hits: GroupHit[] = [];
    const faults: Evidence[] = [];
    for (const g of nonEmpty) {
      const v = verdicts[g]!;
      if (v.hits.length > 0) hits.push(...v.hits);
      if (v.faults.length > 0) faults.push(...v.faults);
    }
    last = pointRuleResult(rule, hits.length > 0 ? stage : undefined, hits, (h) => h.deviation, faults);
    return last;
  }

  return {
    rule,
    watchedPoints: rule.points,
    pending: () => conditions.pending,
    evaluate(store: PointReader, now: number): RuleResult {
      recheckDue = Infinity;
      for (let g = 0; g < groups.length; g++) compute(store, g, now);
      return result();
    },
    update(store: PointReader, now: number, changed: readonly number[]): RuleResult {
      if (last === undefined) return this.evaluate(store, now);
      if (++epoch === 0xffffffff) {
        stamp.fill(0);
        epoch = 1;
      }
      todo.length = 0;
      for (const pi of changed) visit(groupOf[pi]!);
      for (const key of conditions.pendingKeys()) visit(groupOf[key as number]!);
      if (now >= recheckDue) {
        // Some member's reading may have changed by time alone (gone stale): find its groups.
        recheckDue = Infinity;
        for (let g = 0; g < groups.length; g++) {
          const t = verdicts[g]!.recheckAt;
          if (t <= now) visit(g);
          else if (t < recheckDue) recheckDue = t;
        }
      }
      let any = false;
      for (const g of todo) if (compute(store, g, now)) any = true;
      return any ? result() : last;
    },
  };
}
