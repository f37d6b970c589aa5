// State rule: bit and enum points in named states (README "State rules"): the suppression panel's
// pre-alarm, pre-release countdown and release, the BMS's SunSpec 802 `State` (99 fault) and Evt1
// alarm bits. A point equal to a state's `value`, or with its `bit` set, is in that state (after the
// rule's on/off delays). A point that is not good, or reads something that is no state (not an
// integer), is a fault with its reason: never "not in state". A state may name a countdown point
// (the panel's seconds left before release): its evidence then carries `countdownS` and `deadline`,
// the reading's own time plus those seconds (not the clock of whoever judges it), which the
// evacuation trigger passes on. Each point is judged on its own, so after a poll only the points
// that changed (or whose countdown changed) are re-judged (./point-judgements.ts keeps the aggregate).
import type { StateDef, StateRule } from "../config/types.js";
import type { Evidence } from "../events.js";
import { isGood } from "../points/point.js";
import { ConditionTable } from "./delay.js";
import { PointJudgements, type PointHit } from "./point-judgements.js";
import { faultOf, stageRank, PointRefs, type PointReader, type RuleEvaluator, type RuleResult } from "./result.js";

/** Whether an integer reading is in state `s`: equal to its value, or with its bit set. */
export function inState(value: number, s: Pick<StateDef, "value" | "bit">): boolean {
  if (s.bit !== undefined) return value >= 0 && Math.floor(value / 2 ** s.bit) % 2 === 1;
  return value === s.value;
}

/** Why a good reading is no state at all (a scaled or analog point named by mistake), or undefined. */
export function notAState(value: number, rule: Pick<StateRule, "states">): string | undefined {
  if (!Number.isInteger(value)) return `reads ${value}, not an integer: a state rule needs a bit or enum point`;
  if (value < 0 && rule.states.some((s) => s.bit !== undefined)) return `reads ${value}: a bitfield is never negative`;
  return undefined;
}

/** Rank of a state's hit: its stage; trouble/supervisory states (no stage) all rank as `watch` internally. */
const NO_STAGE_RANK = stageRank("watch");

export function stateEvaluator(rule: StateRule): RuleEvaluator {
  const conditions = new ConditionTable(rule);
  const S = rule.states.length;
  const states = rule.states.map((s, i) => ({ ...s, rank: s.stage === undefined ? NO_STAGE_RANK : stageRank(s.stage), order: S - i }));
  const n = rule.points.length;
  const refs = new PointRefs(rule.points);
  const countdownKeys = [...new Set(rule.states.flatMap((s) => (s.countdownPoint === undefined ? [] : [s.countdownPoint])))];
  const countdownRefs = new PointRefs(countdownKeys);
  const countdownAt = new Map(countdownKeys.map((k, i) => [k, i]));
  const table = new PointJudgements(n);
  const todo: number[] = [];
  const stageless = rule.class !== "condition";
  let lastRaw: RuleResult | undefined;
  let lastOut: RuleResult | undefined;

  /** The countdown evidence of a state (seconds left and the deadline), or nothing when it has none or cannot be read. */
  function countdownOf(store: PointReader, s: StateDef, now: number): { countdownS?: number; deadline?: number } {
    if (s.countdownPoint === undefined) return {};
    const v = countdownRefs.read(store, countdownAt.get(s.countdownPoint)!, now);
    if (!isGood(v) || v.value < 0) return {};
    return { countdownS: v.value, deadline: v.sourceTs + v.value * 1000 };
  }

  /** Judge point `pi` at `now`: its states' conditions stepped, its hit or fault recorded. */
  function judge(store: PointReader, pi: number, now: number): void {
    const point = rule.points[pi]!;
    const value = refs.goodValue(store, pi, now);
    table.recheckAt(pi, refs.recheckAfter(store, pi, now));
    const why = value === undefined ? undefined : notAState(value, rule);
    if (value === undefined || why !== undefined) {
      table.setFault(pi, value === undefined ? faultOf(rule.id, point, refs.read(store, pi, now)) : { rule: rule.id, point, value, quality: "good", reason: "not_a_state", detail: why });
      table.setHit(pi, undefined);
      for (let si = 0; si < S; si++) conditions.drop(pi * S + si);
      return;
    }
    table.setFault(pi, undefined);
    let best: (typeof states)[number] | undefined;
    const names: string[] = [];
    for (let si = 0; si < S; si++) {
      const s = states[si]!;
      if (!conditions.step(pi * S + si, inState(value, s), now)) continue;
      names.push(s.name);
      if (best === undefined || s.rank > best.rank) best = s;
    }
    if (best === undefined) {
      table.setHit(pi, undefined);
      return;
    }
    const evidence: Evidence = {
      rule: rule.id,
      point,
      value,
      quality: "good",
      state: best.name,
      ...(names.length > 1 ? { states: names.join(",") } : {}),
      ...countdownOf(store, best, now),
    };
    const hit: PointHit = { rank: best.rank, score: best.rank * 1e9 + best.order, evidence };
    table.setHit(pi, hit);
  }

  /** A countdown point that cannot be read is a fault even while no countdown runs: the deadline would be unknown. */
  function countdownFaults(store: PointReader, now: number): void {
    const faults: Evidence[] = [];
    for (let ci = 0; ci < countdownKeys.length; ci++) {
      const v = countdownRefs.read(store, ci, now);
      if (!isGood(v)) faults.push(faultOf(rule.id, countdownKeys[ci]!, v));
      else if (v.value < 0) faults.push({ rule: rule.id, point: countdownKeys[ci]!, value: v.value, quality: "good", reason: "not_a_countdown", detail: `reads ${v.value} s left` });
    }
    table.setPrefixFaults(faults);
  }

  /** Trouble and supervisory rules raise their alarm, not a stage: the result keeps `active` and drops the internal stage. */
  function finish(raw: RuleResult): RuleResult {
    if (!stageless) return raw;
    if (raw === lastRaw && lastOut !== undefined) return lastOut;
    const { stage: _internal, ...rest } = raw;
    lastRaw = raw;
    lastOut = rest;
    return rest;
  }

  return {
    rule,
    watchedPoints: [...rule.points, ...countdownKeys],
    pending: () => conditions.pending,
    evaluate(store: PointReader, now: number): RuleResult {
      countdownFaults(store, now);
      for (let pi = 0; pi < n; pi++) judge(store, pi, now);
      return finish(table.result(rule));
    },
    update(store: PointReader, now: number, changed: readonly number[]): RuleResult {
      table.beginPass();
      todo.length = 0;
      let countdownChanged = false;
      for (const pi of changed) {
        if (pi < n) table.visit(pi, todo);
        else countdownChanged = true;
      }
      if (countdownKeys.length > 0) {
        // Few countdown points (one per panel): read each pass, so a stale one is a fault as in evaluate().
        countdownFaults(store, now);
        // A countdown that changed changes the evidence of every point in a state that names it.
        if (countdownChanged) for (let pi = 0; pi < n; pi++) table.visit(pi, todo);
      }
      for (const key of conditions.pendingKeys()) table.visit(Math.floor((key as number) / S), todo);
      table.dueRechecks(now, todo, (i) => (refs.goodValue(store, i, now) === undefined ? undefined : refs.recheckAfter(store, i, now)));
      for (const pi of todo) judge(store, pi, now);
      return finish(table.result(rule));
    },
  };
}
