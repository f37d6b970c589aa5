// Vote rule: k of n detectors of a zone (README "Vote rules"), cross-zoning as releasing panels do
// it (docs/sources.md#panel-sequence: the second detector of a cross-zoned pair confirms the first).
// It votes over points, not over other rules' results: the engine evaluates each rule from the
// point store alone, so a rule never waits for another rule's verdict. A detector votes when its
// reading matches `when` (a value, a bit, or at least a level) for the rule's on-delay. A detector
// that cannot be read (bad, stale, missing, or no integer where a value or bit is asked) is always a
// fault of the rule, with its reason, and the `blind_detector` policy says what it does to the count:
// `vote` counts it as voting once at least one detector that can see votes (a blind detector never
// delays a confirmation, as zones' `degraded_knock: evacuate_on_single`); `abstain` leaves it out,
// and says so when the detectors that can see are fewer than the votes needed.
import type { VoteRule } from "../config/types.js";
import type { Evidence } from "../events.js";
import { ConditionTable } from "./delay.js";
import { inState } from "./state.js";
import { faultOf, pointRuleResult, PointRefs, type PointReader, type RuleEvaluator, type RuleResult } from "./result.js";

/** Whether a good reading votes; undefined when it is no reading this rule can judge (a fault). */
export function votes(value: number, when: VoteRule["when"]): boolean | undefined {
  if (when.atLeast !== undefined) return value >= when.atLeast;
  if (!Number.isInteger(value)) return undefined;
  if (when.bit !== undefined) return value < 0 ? undefined : inState(value, { bit: when.bit });
  return value === when.value;
}

interface Vote {
  readonly order: number;
  readonly evidence: Evidence;
}

export function voteEvaluator(rule: VoteRule): RuleEvaluator {
  const conditions = new ConditionTable(rule);
  const refs = new PointRefs(rule.points);
  const n = rule.points.length;

  return {
    rule,
    watchedPoints: rule.points,
    pending: () => conditions.pending,
    evaluate(store: PointReader, now: number): RuleResult {
      const voters: Vote[] = [];
      const blind: Evidence[] = [];
      for (let pi = 0; pi < n; pi++) {
        const point = rule.points[pi]!;
        const value = refs.goodValue(store, pi, now);
        const v = value === undefined ? undefined : votes(value, rule.when);
        if (v === undefined) {
          conditions.drop(pi);
          blind.push(value === undefined ? faultOf(rule.id, point, refs.read(store, pi, now)) : { rule: rule.id, point, value, quality: "good", reason: "not_a_state", detail: `reads ${value}: no integer for a value or bit vote` });
          continue;
        }
        if (conditions.step(pi, v, now)) voters.push({ order: pi, evidence: { rule: rule.id, point, value, quality: "good", votes: rule.votes } });
      }
      const seeing = n - blind.length;
      const counted = rule.blindDetector === "vote" && voters.length >= 1 ? blind.length : 0;
      const total = voters.length + counted;
      const faults = [...blind];
      if (rule.blindDetector === "abstain" ? seeing < rule.votes : seeing === 0) {
        faults.push({ rule: rule.id, reason: "too_few_detectors", detail: `${seeing} of ${n} detectors can see; ${rule.votes} votes needed (blind_detector: ${rule.blindDetector})` });
      }
      if (total < rule.votes) return pointRuleResult(rule, undefined, [], () => 0, faults);
      // The blind detectors counted as voting are evidence too: the decision names them.
      const hits: Vote[] = [
        ...voters,
        ...(counted > 0 ? blind.map((b, i) => ({ order: n + i, evidence: { ...b, counted: "as voting (blind_detector: vote)" } })) : []),
      ];
      return pointRuleResult(rule, rule.stage, hits, (h) => -h.order, faults);
    },
  };
}
