// The zone stage machine: normal -> watch -> pre_alarm -> alarm -> evacuate -> released, from the
// zone's rule results, with `fault` beside it. Escalation is immediate and lists the stages it jumps
// over; a step down needs the conditions clear for the zone's clearHoldMs; alarm, evacuate and
// released latch (life safety) until an operator clears the zone while its conditions are clear.
import { stages } from "../config/site-schema.js";
import { TROUBLE_KINDS, type Stage, type Zone } from "../config/types.js";
import type { Evidence, ZoneFaultChange, ZoneStageChange } from "../events.js";
import { stageRank, type RuleResult } from "../rules/result.js";
import { doubleKnock } from "./knock-policy.js";

/** The stages that hold until an operator clears the zone. */
export const LATCHING_STAGES: ReadonlySet<Stage> = new Set<Stage>(["alarm", "evacuate", "released"]);

/**
 * A zone's state: its last stage change (so it is what `zone/<id>/stage` retains) with the current
 * fault and evidence, plus the latch and step-down hold. Plain data, so it can later be persisted.
 */
export interface ZoneSnapshot extends ZoneStageChange {
  readonly latched: boolean;
  /** When the conditions first fell below the current stage; undefined while they hold it. */
  readonly clearSince?: number;
}

export type ZoneEvent = ZoneStageChange | ZoneFaultChange;

export function initialZone(zone: string, now: number): ZoneSnapshot {
  return { type: "zone_stage", zone, stage: "normal", previous: "normal", skipped: [], since: now, latched: false, fault: false, faults: [], evidence: [] };
}

/** A zone not yet judged and with no stored picture: published as `unknown`, never as `normal`. */
export function unjudgedZone(zone: string, since: number): ZoneSnapshot {
  return { ...initialZone(zone, since), unjudged: true };
}

/** Stages strictly between two stages, in the direction of travel. */
export function stagesBetween(from: Stage, to: Stage): Stage[] {
  const a = stageRank(from);
  const b = stageRank(to);
  if (a < b) return stages.slice(a + 1, b);
  return stages.slice(b + 1, a).reverse();
}

/** What the zone's active rules ask for now, and the evidence of the rules that ask for it. */
export function targetStage(zone: Zone, results: readonly RuleResult[]): { stage: Stage; evidence: Evidence[] } {
  let stage: Stage = "normal";
  for (const r of results) {
    if (!r.active || r.stage === undefined) continue;
    if (stageRank(r.stage) > stageRank(stage)) stage = r.stage;
  }
  // Double knock: enough distinct knocks at alarm or above evacuate the zone; a blind knock may
  // stand in for one, by the zone's degraded_knock policy (./knock-policy.ts).
  const knocks = stageRank(stage) >= stageRank("alarm") ? doubleKnock(zone, results) : undefined;
  // The knocks raise a zone to evacuate, never lower one a panel reports `released`.
  if (knocks?.evacuate === true && stageRank(stage) < stageRank("evacuate")) stage = "evacuate";
  const driving = results
    .filter((r) => r.active && r.stage !== undefined)
    .sort((x, y) => stageRank(y.stage!) - stageRank(x.stage!));
  const evidence = driving.flatMap((r) => r.evidence);
  if (knocks !== undefined) evidence.push(...knocks.evidence);
  return { stage, evidence };
}

/**
 * A zone message names this many untrusted points per rule and counts the rest: a silent cabinet
 * makes 128 cell temperatures bad at once, and a stage message must stay readable (and small).
 */
const FAULTS_NAMED_PER_RULE = 3;

/** Faults of the zone's rules, plus what an active comm_loss, stuck or disagree rule reports. */
export function zoneFaults(results: readonly RuleResult[]): Evidence[] {
  const out: Evidence[] = [];
  for (const r of results) {
    // A trouble rule's activity is itself the fault: a silent device, a stuck or drifting sensor.
    const list = TROUBLE_KINDS.has(r.kind) && r.active ? [...r.faults, ...r.evidence] : r.faults;
    out.push(...list.slice(0, FAULTS_NAMED_PER_RULE));
    if (list.length > FAULTS_NAMED_PER_RULE) out.push({ rule: r.rule, reason: "more", more: list.length - FAULTS_NAMED_PER_RULE });
  }
  return out;
}

/** Two fault lists name the same problems (a new silent device is news even if the zone was already in fault). */
function sameFaults(a: readonly Evidence[], b: readonly Evidence[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((x, i) => x.rule === b[i]!.rule && x.point === b[i]!.point && x.reason === b[i]!.reason && x.more === b[i]!.more);
}

function changeTo(s: ZoneSnapshot, stage: Stage, now: number, evidence: Evidence[], fault: boolean, faults: Evidence[]): { state: ZoneSnapshot; events: ZoneEvent[] } {
  const event: ZoneStageChange = {
    type: "zone_stage",
    zone: s.zone,
    stage,
    previous: s.stage,
    skipped: stagesBetween(s.stage, stage),
    since: now,
    fault,
    faults,
    evidence,
  };
  return { state: { ...event, latched: LATCHING_STAGES.has(stage) }, events: [event] };
}

/** Advance one zone by its rules' results at `now`. Pure: returns the new state and its events. */
export function stepZone(s: ZoneSnapshot, zone: Zone, results: readonly RuleResult[], now: number): { state: ZoneSnapshot; events: ZoneEvent[] } {
  const target = targetStage(zone, results);
  const faults = zoneFaults(results);
  const fault = faults.length > 0;
  const up = stageRank(target.stage) - stageRank(s.stage);

  if (up > 0) return changeTo(s, target.stage, now, target.evidence, fault, faults);

  let next: ZoneSnapshot;
  if (up === 0 || s.latched) {
    // Holding: a latched stage waits for the operator; keep the latest evidence while conditions last.
    const { clearSince: _held, ...last } = s;
    next = { ...last, fault, faults, evidence: up === 0 ? target.evidence : s.evidence };
  } else {
    const clearSince = s.clearSince ?? now;
    if (now - clearSince >= zone.clearHoldMs) return changeTo(s, target.stage, now, target.evidence, fault, faults);
    next = { ...s, fault, faults, clearSince };
  }
  if (fault === s.fault && sameFaults(faults, s.faults)) return { state: next, events: [] };
  const event: ZoneFaultChange = { type: "zone_fault", zone: s.zone, stage: s.stage, fault, since: now, faults };
  return { state: next, events: [event] };
}

export type ClearOutcome =
  | { readonly ok: true; readonly state: ZoneSnapshot; readonly events: ZoneEvent[] }
  | { readonly ok: false; readonly reason: string };

/**
 * An operator's clear: releases a latched stage, only when no rule of the zone still asks for
 * alarm or above. The zone drops straight to what its rules ask for now (the operator has judged it).
 */
export function clearZone(s: ZoneSnapshot, zone: Zone, results: readonly RuleResult[], now: number): ClearOutcome {
  if (!s.latched) return { ok: false, reason: `zone ${zone.id} is at ${s.stage}, which does not latch; nothing to clear` };
  const target = targetStage(zone, results);
  if (stageRank(target.stage) >= stageRank("alarm")) {
    const still = [...new Set(target.evidence.map((e) => e.rule))].join(", ");
    return { ok: false, reason: `zone ${zone.id} conditions are not clear: ${target.stage} still raised by ${still}` };
  }
  const faults = zoneFaults(results);
  return { ok: true, ...changeTo(s, target.stage, now, target.evidence, faults.length > 0, faults) };
}
