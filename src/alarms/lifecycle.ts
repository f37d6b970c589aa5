// The ISA-18.2 / IEC 62682 lifecycle of one alarm: normal, unack, ack, rtn_unack, and the hidden
// states shelved, suppressed and out_of_service (which ./hiding.ts describes and the annunciator
// decides), for the alarms derived from rule results: one `condition` alarm per stage rule, one
// `trouble` alarm per comm_loss, stuck and disagree rule and one `<rule>:fault` trouble alarm per rule whose points
// cannot be trusted. Critical (life-safety) alarms latch and are never hidden. Pure: record, input
// and `now` in, record and events out; records are plain JSON.
import { describeEvidence } from "./describe.js";
import { describeHide, hiddenStateOf, isHiddenState, sameHide, VISIBLE, type Hide } from "./hiding.js";
import type { RaisedStage, Rule } from "../config/types.js";
import type { AlarmChange, AlarmClass, AlarmPriority, AlarmState, AlarmStateName, Evidence } from "../events.js";
import { higherStage, type RuleResult } from "../rules/result.js";

/** An alarm's state with why it got there and who acted on it (audit); a plain, serializable record. */
export interface AlarmRecord extends AlarmState {
  readonly reason: string;
}

export interface AlarmStep {
  readonly state: AlarmRecord | undefined;
  readonly events: AlarmChange[];
}

/** What the rules say about one alarm at one evaluation. */
export interface AlarmInput {
  readonly id: string;
  readonly rule: string;
  readonly zone: string;
  readonly class: AlarmClass;
  readonly active: boolean;
  readonly stage?: RaisedStage;
  readonly message: string;
  readonly evidence: readonly Evidence[];
  /** The rule's configured priority (`priority:`), or the flood alarm's fixed one. */
  readonly priority?: AlarmPriority;
}

export const PRIORITY_RANK: Record<AlarmPriority, number> = { low: 0, medium: 1, high: 2, critical: 3 };

/**
 * Priority from the stage an alarm raises: evacuate is life safety; trouble is low. A configured
 * override replaces this, except that an `evacuate` stage is always critical (it must latch).
 */
export function priorityOf(cls: AlarmClass, stage: RaisedStage | undefined, override?: AlarmPriority): AlarmPriority {
  if ((stage === "evacuate" || stage === "released") && cls === "condition") return "critical";
  if (override !== undefined) return override;
  if (cls !== "condition" || stage === undefined) return "low";
  switch (stage) {
    case "evacuate":
    case "released":
      return "critical";
    case "alarm":
      return "high";
    case "pre_alarm":
      return "medium";
    case "watch":
      return "low";
  }
}

/** Life-safety alarms latch: they leave the alarm state only once acknowledged AND clear. */
export function latches(priority: AlarmPriority): boolean {
  return priority === "critical";
}

/** Whether a rule's own alarm can ever be critical: such alarms are never shelved or taken out of service. */
export function lifeSafetyRule(rule: Rule): boolean {
  if (rule.priority === "critical") return true;
  switch (rule.kind) {
    case "threshold":
    case "offgas":
      return rule.levels.some((l) => l.stage === "evacuate");
    case "rate_of_rise":
    case "deviation":
      return rule.stage === "evacuate";
    case "vote":
      return rule.stage === "evacuate" || rule.stage === "released";
    case "state":
      return rule.states.some((s) => s.stage === "evacuate" || s.stage === "released");
    case "comm_loss":
    case "stuck":
    case "disagree":
      return false;
  }
}

/** The alarms one rule result drives, condition first, then its fault. */
export function alarmInputs(rule: Rule, r: RuleResult): AlarmInput[] {
  const label = rule.description !== "" ? rule.description : rule.id;
  const main: AlarmInput =
    rule.kind === "stuck" || rule.kind === "disagree"
      ? {
          id: rule.id,
          rule: rule.id,
          zone: rule.zone,
          class: "trouble",
          active: r.active,
          message: r.evidence[0] === undefined ? `${label}: sensors plausible` : `${label}: ${describeEvidence(r.evidence[0])}, ${rule.kind === "stuck" ? "stuck" : "disagrees with its peers"}${typeof r.evidence[0].detail === "string" ? ` (${r.evidence[0].detail})` : ""}`,
          evidence: r.evidence,
        }
      : rule.kind === "state" && rule.class !== "condition"
      ? {
          // A trouble/supervisory state (the panel's agent low pressure): its own alarm, no stage.
          id: rule.id,
          rule: rule.id,
          zone: rule.zone,
          class: rule.class,
          active: r.active,
          message: r.evidence[0] === undefined ? `${label}: clear` : `${label}: ${String(r.evidence[0]["state"] ?? "in state")}, ${describeEvidence(r.evidence[0])}`,
          evidence: r.evidence,
          ...(rule.priority === undefined ? {} : { priority: rule.priority }),
        }
      : rule.kind === "comm_loss"
      ? {
          id: rule.id,
          rule: rule.id,
          zone: rule.zone,
          class: "trouble",
          active: r.active,
          message: `${label}: no answer from ${r.evidence.map((e) => e.point).join(", ") || "any device"}`,
          evidence: r.evidence,
          ...(rule.priority === undefined ? {} : { priority: rule.priority }),
        }
      : {
          id: rule.id,
          rule: rule.id,
          zone: rule.zone,
          class: "condition",
          active: r.active,
          ...(r.stage === undefined ? {} : { stage: r.stage }),
          message: r.evidence[0] === undefined ? `${label}: ${r.stage ?? "clear"}` : `${label}: ${r.stage ?? "clear"}, ${describeEvidence(r.evidence[0])}`,
          evidence: r.evidence,
          ...(rule.priority === undefined ? {} : { priority: rule.priority }),
        };
  const first = r.faults[0];
  const fault: AlarmInput = {
    id: `${rule.id}:fault`,
    rule: rule.id,
    zone: rule.zone,
    class: "trouble",
    active: r.faults.length > 0,
    message: first === undefined ? `${label}: sensing ok` : `${label}: ${r.faults.length} input(s) not good, e.g. ${describeEvidence(first)}${typeof first.detail === "string" ? ` (${first.detail})` : ""}`,
    evidence: r.faults,
  };
  return [main, fault];
}


/** A record with the mutings and their annotations replaced by `h`'s. */
function withHide(a: AlarmRecord, h: Hide): AlarmRecord {
  const { shelved: _s, suppressed: _u, outOfService: _o, ...rest } = a;
  return { ...rest, ...h };
}

function withoutAck(a: AlarmRecord): AlarmRecord {
  const { ackedBy: _b, ackedAt: _a, ...rest } = a;
  return rest;
}

/** A configured alarm that has never been active: normal, as far as anyone knows. */
export function quietRecord(input: AlarmInput, now: number): AlarmRecord {
  const priority = priorityOf(input.class, undefined, input.priority);
  return {
    id: input.id,
    rule: input.rule,
    zone: input.zone,
    class: input.class,
    priority,
    state: "normal",
    active: false,
    latched: latches(priority),
    since: now,
    message: input.message,
    evidence: [],
    reason: "never active",
  };
}

/** The condition's part of a step, as if the alarm were visible; hidden states are left to settle(). */
function conditionStep(prev: AlarmRecord | undefined, input: AlarmInput, now: number): { rec: AlarmRecord; why: string | undefined } {
  const wanted = priorityOf(input.class, input.stage, input.priority);
  const stageOf = input.stage === undefined ? {} : { stage: input.stage };
  if (prev === undefined || prev.state === "normal") {
    const base = prev ?? quietRecord(input, now);
    if (!input.active) return { rec: base, why: undefined };
    // A new occurrence: forget the previous acknowledgment, the priority follows this occurrence.
    const { stage: _old, ...rest } = withoutAck(base);
    const rec: AlarmRecord = { ...rest, ...stageOf, state: "unack", active: true, priority: wanted, latched: latches(wanted), since: now, message: input.message, evidence: input.evidence };
    return { rec, why: `condition active: ${input.message}` };
  }
  const escalated = input.active && PRIORITY_RANK[wanted] > PRIORITY_RANK[prev.priority];
  const priority = escalated ? wanted : prev.priority;
  const stage = input.active && input.stage !== undefined ? higherStage(prev.stage, input.stage) : prev.stage;
  let state: AlarmStateName = prev.state;
  switch (prev.state) {
    case "unack":
      if (!input.active && !latches(priority)) state = "rtn_unack";
      break;
    case "ack":
      if (!input.active) state = "normal"; // acknowledged and clear
      else if (escalated) state = "unack"; // a higher priority must be seen again
      break;
    case "rtn_unack":
      if (input.active) state = "unack";
      break;
    case "shelved":
    case "suppressed":
    case "out_of_service":
      break; // the condition is tracked below; settle() decides whether it stays hidden
  }
  const moved = state !== prev.state || input.active !== prev.active || priority !== prev.priority || stage !== prev.stage;
  // `stage` is undefined only when prev.stage is: spreading prev keeps the right one (hot path: no rest copy).
  const rec: AlarmRecord = {
    ...prev,
    ...(stage === undefined ? {} : { stage }),
    state,
    active: input.active,
    priority,
    latched: latches(priority),
    since: moved ? now : prev.since,
    // A cleared alarm keeps the words and evidence of what it was.
    message: input.active ? input.message : prev.message,
    evidence: input.active ? input.evidence : prev.evidence,
  };
  let why: string | undefined;
  if (escalated) why = `escalated to ${priority}: ${input.message}`;
  else if (input.active !== prev.active) why = input.active ? `condition active: ${input.message}` : latches(priority) && state === "unack" ? "condition cleared; latched until acknowledged" : "condition cleared";
  else if (stage !== prev.stage) why = `stage ${stage ?? "none"}: ${input.message}`;
  return { rec, why };
}

/**
 * A zone's maintenance and a device out of service hide what would be shown; an alarm that is
 * normal and clear has nothing to hide, so it stays normal (and unpublished) until it activates.
 * A shelf or an out-of-service put on the alarm itself always applies: the operator named it.
 */
function applicable(h: Hide, mid: AlarmRecord): Hide {
  if (mid.state !== "normal" || mid.active) return h;
  const byDevice = h.outOfService?.devices !== undefined;
  if (h.suppressed === undefined && !byDevice) return h;
  return { ...(h.shelved === undefined ? {} : { shelved: h.shelved }), ...(h.outOfService === undefined || byDevice ? {} : { outOfService: h.outOfService }) };
}

/**
 * Apply the mutings `hide` to `mid` (the record after its condition step) and say what changed
 * since `prev`. A latched alarm ignores every muting. An alarm leaving its hidden states goes
 * where its condition says: active -> unack, clear -> normal (a latched one: unack until acknowledged).
 */
function settle(prev: AlarmRecord | undefined, mid: AlarmRecord, condWhy: string | undefined, hide: Hide, now: number, unhideWhy: string): AlarmStep {
  const lifeSafety = latches(mid.priority);
  const h = lifeSafety ? VISIBLE : applicable(hide, mid);
  const hidden = hiddenStateOf(h);
  const bare = mid.shelved === undefined && mid.suppressed === undefined && mid.outOfService === undefined;
  let rec = bare && hidden === undefined ? mid : withHide(mid, h);
  let why = condWhy;
  if (hidden !== undefined) {
    if (mid.state !== hidden) {
      rec = { ...rec, state: hidden, since: now };
      why = condWhy === undefined ? describeHide(h, hidden) : `${describeHide(h, hidden)}; ${condWhy}`;
    } else if (condWhy !== undefined) why = `${condWhy} (still ${hidden.replace(/_/g, " ")})`;
    else if (prev !== undefined && !sameHide(prev, h)) why = describeHide(h, hidden);
  } else if (isHiddenState(mid.state)) {
    const state: AlarmStateName = mid.active || lifeSafety ? "unack" : "normal";
    rec = { ...(state === "unack" ? withoutAck(rec) : rec), state, since: now };
    const cause = lifeSafety && hiddenStateOf(hide) !== undefined ? "critical: a life-safety alarm is never shelved, suppressed or out of service" : unhideWhy;
    why = mid.active ? `${cause}; condition active: ${mid.message}` : cause;
  }
  const changed =
    prev === undefined
      ? rec.state !== "normal" || rec.active
      : prev.state !== rec.state || prev.active !== rec.active || prev.priority !== rec.priority || prev.stage !== rec.stage || !sameHide(prev, rec);
  if (!changed) {
    if (prev === undefined) return { state: undefined, events: [] };
    return { state: rec.reason === prev.reason ? rec : { ...rec, reason: prev.reason }, events: [] };
  }
  const next: AlarmRecord = { ...rec, reason: why ?? prev?.reason ?? "changed" };
  return { state: next, events: [{ type: "alarm", alarm: next, previous: prev?.state ?? "normal", reason: next.reason }] };
}

/**
 * Advance one alarm by what its rule says at `now`, under the mutings `hide` in effect (./hiding.ts).
 * `unhideWhy` is the reason given when the alarm leaves a hidden state because a muting no longer applies.
 */
export function stepAlarm(prev: AlarmRecord | undefined, input: AlarmInput, now: number, hide: Hide = VISIBLE, unhideWhy = "no longer hidden"): AlarmStep {
  if ((prev === undefined || prev.state === "normal") && !input.active && hiddenStateOf(hide) === undefined) return { state: prev, events: [] };
  const { rec, why } = conditionStep(prev, input, now);
  return settle(prev, rec, why, hide, now, unhideWhy);
}

/** Put the mutings `hide` on an alarm without a condition change (shelve, maintenance, out of service, and their ends). */
export function overlayAlarm(prev: AlarmRecord, hide: Hide, now: number, unhideWhy: string): AlarmStep {
  return settle(prev, prev, undefined, hide, now, unhideWhy);
}

/** An operator acknowledges an alarm. Acknowledging an alarm that needs none (or is hidden) changes nothing. */
export function acknowledgeAlarm(prev: AlarmRecord, now: number, by: string): { state: AlarmRecord; events: AlarmChange[] } {
  let state: AlarmStateName;
  switch (prev.state) {
    case "unack":
      state = prev.active ? "ack" : "normal"; // a latched alarm already clear returns to normal on ack
      break;
    case "rtn_unack":
      state = "normal";
      break;
    case "ack":
    case "normal":
    case "shelved":
    case "suppressed":
    case "out_of_service":
      return { state: prev, events: [] };
  }
  const reason = `acknowledged by ${by}`;
  const next: AlarmRecord = { ...prev, state, since: now, ackedBy: by, ackedAt: now, reason };
  return { state: next, events: [{ type: "alarm", alarm: next, previous: prev.state, reason }] };
}
