// The double knock of a zone, and what it does when one knock is blind (README "Knocks"). A knock
// is a group of the zone's rules that can raise `alarm` or above and measure the same thing
// (src/config/knocks.ts). The zone evacuates when `evacuateAfterAlarmRules` knocks are at alarm;
// with the `evacuate_on_single` policy a knock in fault (its own points not good, or a stuck or
// disagree rule flagging a point it reads) counts as confirming, so a fault never delays an
// evacuation past the runaway. Pure: rule results in, decision and evidence out.
import type { Knock, Zone } from "../config/types.js";
import type { Evidence } from "../events.js";
import { stageRank, type RuleResult } from "../rules/result.js";

const ALARM_RANK = stageRank("alarm");

export interface KnockDecision {
  readonly evacuate: boolean;
  /** One entry per blind knock counted in place of a second knock: `{rule: "<zone>:degraded-knock", reason}`. */
  readonly evidence: readonly Evidence[];
}

const NO: KnockDecision = { evacuate: false, evidence: [] };

function atAlarm(r: RuleResult | undefined): boolean {
  return r !== undefined && r.active && r.stage !== undefined && stageRank(r.stage) >= ALARM_RANK;
}

/** Why a knock cannot be trusted now, or undefined when it can. */
export function knockFault(knock: Knock, byRule: ReadonlyMap<string, RuleResult>): string | undefined {
  for (const id of knock.rules) {
    const f = byRule.get(id)?.faults[0];
    if (f !== undefined) return `${id}: ${f.point ?? "input"} ${String(f.quality ?? "bad")}/${String(f.reason ?? "unknown")}`;
  }
  for (const id of knock.guardedBy) {
    const g = byRule.get(id);
    const e = g?.active === true ? g.evidence[0] : undefined;
    if (e !== undefined) return `${id}: ${e.point ?? "input"} ${String(e.reason ?? "implausible")}${typeof e["detail"] === "string" ? ` (${e["detail"]})` : ""}`;
  }
  return undefined;
}

/**
 * The zone's knocks that are sounding now (a rule of theirs active at alarm or above), by name; a
 * zone without knocks counts each rule at alarm as one. Blind knocks are not counted: what an
 * interlocked device write needs is independent signals, not the absence of one (src/actions/interlock.ts).
 */
export function soundingKnocks(zone: Zone, results: readonly RuleResult[]): string[] {
  if (zone.knocks === undefined) return results.filter((r) => r.zone === zone.id && atAlarm(r)).map((r) => r.rule);
  const byRule = new Map<string, RuleResult>();
  for (const r of results) byRule.set(r.rule, r);
  return zone.knocks.filter((k) => k.rules.some((id) => atAlarm(byRule.get(id)))).map((k) => k.name);
}

/** Whether the zone's knocks evacuate it now, and the evidence of a degraded decision. */
export function doubleKnock(zone: Zone, results: readonly RuleResult[]): KnockDecision {
  const needed = zone.evacuateAfterAlarmRules;
  if (zone.knocks === undefined) {
    // A zone built without knocks: every rule at alarm is a knock of its own; none is known blind.
    let n = 0;
    for (const r of results) if (atAlarm(r)) n++;
    return n >= needed ? { evacuate: true, evidence: [] } : NO;
  }
  const byRule = new Map<string, RuleResult>();
  for (const r of results) byRule.set(r.rule, r);
  const sounding = zone.knocks.filter((k) => k.rules.some((id) => atAlarm(byRule.get(id))));
  if (sounding.length >= needed) return { evacuate: true, evidence: [] };
  if (sounding.length === 0 || (zone.degradedKnock ?? "evacuate_on_single") === "hold") return NO;
  const blind: Evidence[] = [];
  for (const k of zone.knocks) {
    if (sounding.includes(k)) continue;
    const why = knockFault(k, byRule);
    if (why !== undefined) blind.push({ rule: `${zone.id}:degraded-knock`, knock: k.name, reason: `knock ${k.name} in fault: ${why}` });
  }
  return sounding.length + blind.length >= needed ? { evacuate: true, evidence: blind } : NO;
}
