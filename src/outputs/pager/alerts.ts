// What one alarm looks like to Alertmanager (its v2 API's postableAlert): labels that identify it,
// annotations that describe it, and whether it fires. Pure: the alarm and `now` in, the alert out.
// README "Pager through Alertmanager" is the contract for these labels.
import { describeEvidenceList } from "../../alarms/describe.js";
import type { AlarmState, AlarmStateName } from "../../events.js";

/** The body of one alert in POST /api/v2/alerts (Alertmanager's openapi: postableAlert). */
export interface PostableAlert {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** RFC 3339. */
  readonly startsAt: string;
  /** RFC 3339; at or before now: resolved. */
  readonly endsAt: string;
}

/**
 * The `state` label: why an alarm that fires is or is not in front of the operator. `active` for
 * unack, ack and rtn_unack (ack is an operator's note, not a mute: it goes in the `alarm_state`
 * annotation so acknowledging does not change the alert's identity); the hidden states name
 * themselves, so an Alertmanager route or silence can match `state="shelved"`.
 */
export type StateLabel = "active" | "shelved" | "suppressed" | "out_of_service";

export function stateLabel(state: AlarmStateName): StateLabel {
  switch (state) {
    case "shelved":
    case "suppressed":
    case "out_of_service":
      return state;
    case "normal":
    case "unack":
    case "ack":
    case "rtn_unack":
      return "active";
  }
}

/**
 * Whether the alarm fires in Alertmanager: its condition is active (in every state, hidden ones
 * included), or it is a latched life-safety alarm still standing (unack/ack with the condition
 * gone: it stays until acknowledged and clear). rtn_unack does not fire: the condition is over,
 * only the acknowledgment is owed, and that is the console's business, not the pager's.
 */
export function fires(a: AlarmState): boolean {
  return a.active || (a.latched && (a.state === "unack" || a.state === "ack"));
}

export interface AlertIdentity {
  readonly site: string;
  readonly instance: string;
}

/** Labels: Alertmanager identifies an alert by its whole label set, so only what never changes while it fires, plus `state`. */
export function labelsOf(a: AlarmState, id: AlertIdentity): Record<string, string> {
  return {
    alertname: "FirebreakAlarm",
    site: id.site,
    instance: id.instance,
    zone: a.zone,
    alarm: a.id,
    priority: a.priority,
    class: a.class,
    state: stateLabel(a.state),
  };
}

function hiddenWhy(a: AlarmState): string | undefined {
  if (a.shelved !== undefined) return `shelved by ${a.shelved.by} until ${new Date(a.shelved.until).toISOString()}: ${a.shelved.reason}`;
  if (a.suppressed !== undefined) return `suppressed: zone ${a.suppressed.zone} in maintenance (${a.suppressed.by}: ${a.suppressed.reason})`;
  if (a.outOfService !== undefined) return `out of service (${a.outOfService.by}: ${a.outOfService.reason})`;
  return undefined;
}

/** Annotations (free to change while the alert fires): message, evidence in words, the ISA-18.2 state and why. */
export function annotationsOf(a: AlarmState): Record<string, string> {
  const hidden = hiddenWhy(a);
  return {
    summary: a.message,
    message: a.message,
    evidence: describeEvidenceList(a.evidence),
    alarm_state: a.state,
    ...(a.reason !== undefined ? { reason: a.reason } : {}),
    ...(a.ackedBy !== undefined ? { acked_by: a.ackedBy } : {}),
    ...(hidden !== undefined ? { hidden: hidden } : {}),
  };
}

/** The key Alertmanager would tell two alerts apart by: the sorted label set. */
export function labelKey(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
}
