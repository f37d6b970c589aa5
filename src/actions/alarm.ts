// The critical alarm of a protective action the device did not carry out: `action-unconfirmed:<id>`,
// in the action's zone, naming the device and the point. Raised through the annunciator like the
// evacuation escalations (src/alarms/annunciator.ts raise()); critical, so it latches until acknowledged.
import type { AlarmInput } from "../alarms/lifecycle.js";
import type { ProtectiveAction } from "../config/types.js";

export const UNCONFIRMED_ALARM = "action-unconfirmed";

export function unconfirmedAlarm(a: ProtectiveAction, active: boolean, detail: string): AlarmInput {
  return {
    id: `${UNCONFIRMED_ALARM}:${a.id}`,
    rule: UNCONFIRMED_ALARM,
    zone: a.on.zone,
    class: "condition",
    priority: "critical",
    active,
    message: active ? `protective action ${a.id} not confirmed: ${a.device}/${a.write.point} (${a.kind}): ${detail}` : `protective action ${a.id}: zone ${a.on.zone} below ${a.on.stage} again, the action is re-armed`,
    evidence: active ? [{ rule: UNCONFIRMED_ALARM, action: a.id, device: a.device, point: a.write.point, value: a.write.value, detail }] : [],
  };
}
