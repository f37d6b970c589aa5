// Whether a protective action's interlock holds now (README "Protective actions"): the bound zone at
// the interlock's stage or higher, with at least `minKnocks` independent knocks sounding at alarm
// (src/zones/knock-policy.ts). A blind knock that lets a zone evacuate under `evacuate_on_single`
// does not count here: an evacuation may go on one knock that can see, a device write may not.
// Pure: the zone's stage and rule results in, a verdict out.
import type { ProtectiveAction, Stage, Zone } from "../config/types.js";
import { stageRank, type RuleResult } from "../rules/result.js";
import { soundingKnocks } from "../zones/knock-policy.js";

export type InterlockVerdict =
  | { readonly holds: true; readonly knocks: readonly string[] }
  | { readonly holds: false; readonly knocks: readonly string[]; readonly reason: string };

export function judgeInterlock(action: ProtectiveAction, zone: Zone, stage: Stage | undefined, results: readonly RuleResult[]): InterlockVerdict {
  const lock = action.interlock;
  const knocks = soundingKnocks(zone, results);
  if (lock === undefined) return { holds: false, knocks, reason: "no interlock configured" };
  if (stage === undefined) return { holds: false, knocks, reason: `zone ${zone.id} not judged yet` };
  if (stageRank(stage) < stageRank(lock.zoneStage)) return { holds: false, knocks, reason: `zone ${zone.id} is at ${stage}, the interlock needs ${lock.zoneStage}` };
  if (knocks.length < lock.minKnocks) {
    const named = knocks.length === 0 ? "none" : knocks.join(", ");
    return { holds: false, knocks, reason: `zone ${zone.id} has ${knocks.length} knock(s) at alarm (${named}), the interlock needs ${lock.minKnocks}` };
  }
  return { holds: true, knocks };
}
