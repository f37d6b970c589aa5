// A zone's knocks, derived once from its rules when the config loads (README "Knocks"): which rules
// are independent confirmations of a fire for the double knock, and which plausibility rules can
// tell that a knock is blind.
import type { Knock, RaisedStage, Rule } from "./types.js";

const AT_LEAST_ALARM: ReadonlySet<RaisedStage> = new Set<RaisedStage>(["alarm", "evacuate", "released"]);

/** The stages a rule can raise, from its config (comm_loss and the plausibility kinds raise none). */
export function stagesOf(rule: Rule): RaisedStage[] {
  switch (rule.kind) {
    case "threshold":
      return rule.levels.map((l) => l.stage);
    case "offgas":
      return rule.levels.map((l) => l.stage);
    case "rate_of_rise":
    case "deviation":
    case "vote":
      return [rule.stage];
    case "state":
      return rule.states.flatMap((s) => (s.stage === undefined ? [] : [s.stage]));
    case "comm_loss":
    case "stuck":
    case "disagree":
      return [];
  }
}

/** The knock a rule counts for, or undefined when it cannot raise `alarm` or above (it is no knock). */
export function knockOf(rule: Rule): string | undefined {
  if (!stagesOf(rule).some((s) => AT_LEAST_ALARM.has(s))) return undefined;
  switch (rule.kind) {
    case "threshold":
    case "offgas":
    case "rate_of_rise":
    case "deviation":
    case "state":
    case "vote":
      return rule.knock ?? rule.id;
    case "comm_loss":
    case "stuck":
    case "disagree":
      return undefined;
  }
}

/** The points a rule reads, for matching plausibility rules to the knocks they guard. */
function pointsOf(rule: Rule): readonly string[] {
  switch (rule.kind) {
    case "comm_loss":
      return [];
    case "offgas":
      return [...rule.points, ...rule.referencePoints];
    default:
      return rule.points;
  }
}

/**
 * The knocks of one zone, in the order their first rule appears in the config. A knock is guarded
 * by every stuck/disagree rule of the same zone that watches a point one of its rules reads.
 */
export function zoneKnocks(zoneId: string, rules: readonly Rule[]): Knock[] {
  const own = rules.filter((r) => r.zone === zoneId);
  const plausibility = own.filter((r) => r.kind === "stuck" || r.kind === "disagree").map((r) => ({ id: r.id, points: new Set(pointsOf(r)) }));
  const byName = new Map<string, { rules: string[]; guardedBy: Set<string> }>();
  for (const r of own) {
    const name = knockOf(r);
    if (name === undefined) continue;
    let k = byName.get(name);
    if (k === undefined) byName.set(name, (k = { rules: [], guardedBy: new Set() }));
    k.rules.push(r.id);
    const points = pointsOf(r);
    for (const p of plausibility) if (points.some((x) => p.points.has(x))) k.guardedBy.add(p.id);
  }
  return [...byName].map(([name, k]) => ({ name, rules: k.rules, guardedBy: [...k.guardedBy] }));
}
