// The ISA-18.2 / IEC 62682 alarm lifecycle (normal, unack, ack, rtn_unack) for the alarms derived
// from rule results: one `condition` alarm per stage rule, one `trouble` alarm per comm_loss, stuck
// and disagree rule, and one `<rule>:fault` trouble alarm per rule whose points cannot be trusted.
// Critical (life-safety) alarms latch. State is plain objects so it can be serialized; shelving and persistence come later.
import { describeEvidence } from "./describe.js";
import type { RaisedStage, Rule } from "../config/types.js";
import type { AlarmChange, AlarmClass, AlarmPriority, AlarmState, AlarmStateName, Evidence } from "../events.js";
import { higherStage, type RuleResult } from "../rules/result.js";

/** An alarm's state plus who acknowledged it (audit); a plain, serializable record. */
export interface AlarmRecord extends AlarmState {
  readonly ackedBy?: string;
  readonly ackedAt?: number;
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
}

const PRIORITY_RANK: Record<AlarmPriority, number> = { low: 0, medium: 1, high: 2, critical: 3 };

/** Priority from the stage an alarm raises: evacuate is life safety; trouble is never above low. */
export function priorityOf(cls: AlarmClass, stage: RaisedStage | undefined): AlarmPriority {
  if (cls === "trouble" || stage === undefined) return "low";
  switch (stage) {
    case "evacuate":
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
      : rule.kind === "comm_loss"
      ? {
          id: rule.id,
          rule: rule.id,
          zone: rule.zone,
          class: "trouble",
          active: r.active,
          message: `${label}: no answer from ${r.evidence.map((e) => e.point).join(", ") || "any device"}`,
          evidence: r.evidence,
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

function record(base: AlarmRecord | undefined, input: AlarmInput, patch: Partial<AlarmRecord> & Pick<AlarmRecord, "state" | "active" | "priority" | "since">): AlarmRecord {
  const stage = patch.stage ?? base?.stage ?? input.stage;
  const out: AlarmRecord = {
    id: input.id,
    rule: input.rule,
    zone: input.zone,
    class: input.class,
    latched: latches(patch.priority),
    message: input.active || base === undefined ? input.message : base.message,
    evidence: input.active || base === undefined ? input.evidence : base.evidence,
    ...(base?.ackedBy === undefined ? {} : { ackedBy: base.ackedBy, ackedAt: base.ackedAt }),
    ...patch,
    ...(stage === undefined ? {} : { stage }),
  };
  return out;
}

function changed(prev: AlarmRecord | undefined, next: AlarmRecord): AlarmChange[] {
  if (prev !== undefined && prev.state === next.state && prev.active === next.active && prev.priority === next.priority && prev.stage === next.stage) return [];
  return [{ type: "alarm", alarm: next, previous: prev?.state ?? "normal" }];
}

/** Advance one alarm by what its rule says at `now`. Pure. */
export function stepAlarm(prev: AlarmRecord | undefined, input: AlarmInput, now: number): { state: AlarmRecord | undefined; events: AlarmChange[] } {
  if (prev === undefined || prev.state === "normal") {
    if (!input.active) return { state: prev, events: [] };
    // A new occurrence: forget the previous acknowledgment.
    const base = prev === undefined ? undefined : { ...prev, ackedBy: undefined, ackedAt: undefined };
    const next = record(base, input, { state: "unack", active: true, priority: priorityOf(input.class, input.stage), since: now, ...(input.stage === undefined ? {} : { stage: input.stage }) });
    return { state: next, events: changed(prev, next) };
  }
  const wanted = priorityOf(input.class, input.stage);
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
  }
  const moved = state !== prev.state || input.active !== prev.active || priority !== prev.priority || stage !== prev.stage;
  const next = record(prev, input, {
    state,
    active: input.active,
    priority,
    since: moved ? now : prev.since,
    ...(stage === undefined ? {} : { stage }),
  });
  return { state: next, events: changed(prev, next) };
}

/** An operator acknowledges an alarm. Acknowledging an alarm that needs none changes nothing. */
export function acknowledgeAlarm(prev: AlarmRecord, now: number, by: string): { state: AlarmRecord; events: AlarmChange[] } {
  let state: AlarmStateName = prev.state;
  switch (prev.state) {
    case "unack":
      state = prev.active ? "ack" : "normal"; // a latched alarm already clear returns to normal on ack
      break;
    case "rtn_unack":
      state = "normal";
      break;
    case "ack":
    case "normal":
      return { state: prev, events: [] };
  }
  const next: AlarmRecord = { ...prev, state, since: now, ackedBy: by, ackedAt: now };
  return { state: next, events: [{ type: "alarm", alarm: next, previous: prev.state }] };
}
