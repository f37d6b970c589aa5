// Who has acknowledged which evacuation trigger, and what follows from it: re-announcement of a
// trigger not yet accepted by every required consumer, and the escalation alarms
// `evacuation-unacknowledged:<zone>` (ackBy passed) and `evacuation-failed:<zone>` (a consumer
// reported failed hosts). Pure: state, input and `now` (the daemon's clock) in, state and decisions
// out; the state is plain JSON, so the state store keeps it and a restart continues it.
import type { AlarmInput } from "../alarms/lifecycle.js";
import type { ConsumerAckState, EvacuationStatus, EvacuationTrigger } from "../events.js";
import type { Ack } from "./ack-wire.js";

export const UNACKNOWLEDGED_ALARM = "evacuation-unacknowledged";
export const FAILED_ALARM = "evacuation-failed";

/** One open trigger of one zone and its consumers' acknowledgments. */
export interface Tracking {
  readonly trigger: EvacuationTrigger;
  /** Consumers that must acknowledge this zone's triggers, in config order. */
  readonly required: readonly string[];
  readonly announcements: number;
  readonly lastAnnouncedAt: number;
  readonly acks: Readonly<Record<string, ConsumerAckState>>;
}

/** Per zone; at most one open trigger per zone (the ledger's open incident). */
export type TrackerState = Readonly<Record<string, Tracking>>;

const ACCEPTED = new Set(["accepted", "progress", "done", "failed"]);

export function missingOf(t: Tracking): string[] {
  return t.required.filter((c) => !ACCEPTED.has(t.acks[c]?.state ?? ""));
}

function failedHostsOf(t: Tracking): string[] {
  const hosts = new Set<string>();
  for (const a of Object.values(t.acks)) for (const h of a.failed) hosts.add(h);
  return [...hosts];
}

/** The aggregate, as `evacuate/<zone>/status` carries it. */
export function statusOf(t: Tracking, now: number): EvacuationStatus {
  const missing = missingOf(t);
  const failedHosts = failedHostsOf(t);
  const req = t.required.map((c) => t.acks[c]?.state);
  let state: EvacuationStatus["state"];
  if (t.required.length === 0) state = failedHosts.length > 0 ? "failed" : "no_consumers";
  else if (failedHosts.length > 0 || req.includes("failed")) state = "failed";
  else if (missing.length > 0) state = now >= t.trigger.ackBy ? "unacknowledged" : "waiting";
  else if (req.every((s) => s === "done")) state = "done";
  else if (req.some((s) => s === "progress" || s === "done")) state = "progress";
  else state = "accepted";
  return {
    type: "evacuation_status",
    zone: t.trigger.zone,
    id: t.trigger.id,
    state,
    issuedAt: t.trigger.issuedAt,
    ackBy: t.trigger.ackBy,
    announcements: t.announcements,
    required: t.required,
    missing,
    consumers: t.acks,
    failedHosts,
    since: now,
  };
}

/** A new trigger (or the first announcement of an incident restored without tracking) is tracked. */
export function openTracking(state: TrackerState, trigger: EvacuationTrigger, required: readonly string[], now: number): TrackerState {
  const prev = state[trigger.zone];
  if (prev !== undefined && prev.trigger.id === trigger.id) return state;
  return { ...state, [trigger.zone]: { trigger, required: [...required], announcements: trigger.announcement ?? 1, lastAnnouncedAt: now, acks: {} } };
}

export function closeTracking(state: TrackerState, zone: string): TrackerState {
  if (state[zone] === undefined) return state;
  const { [zone]: _gone, ...rest } = state;
  return rest;
}

export type AckOutcome = { readonly applied: true; readonly state: TrackerState } | { readonly applied: false; readonly why: string };

/**
 * One verified acknowledgment. Ignored (with why) when it is not for the zone's open trigger, or
 * not newer than the consumer's last one (a QoS 1 duplicate or a replay changes nothing).
 */
export function applyAck(state: TrackerState, zone: string, consumer: string, ack: Ack, now: number): AckOutcome {
  const t = state[zone];
  if (t === undefined) return { applied: false, why: `zone ${zone} has no open trigger tracked here` };
  if (ack.id !== t.trigger.id) return { applied: false, why: `it is for ${ack.id}; the open trigger of ${zone} is ${t.trigger.id}` };
  const last = t.acks[consumer];
  if (last !== undefined && ack.tsMs <= last.ts) return { applied: false, why: `not newer than ${consumer}'s last acknowledgment (${new Date(last.ts).toISOString()})` };
  const hosts = new Set(t.trigger.hosts);
  const rec: ConsumerAckState = {
    state: ack.state,
    done: ack.hosts.done.filter((h) => hosts.has(h)),
    failed: ack.hosts.failed.filter((h) => hosts.has(h)),
    ...(ack.reason === undefined ? {} : { reason: ack.reason }),
    ts: ack.tsMs,
    receivedAt: now,
  };
  return { applied: true, state: { ...state, [zone]: { ...t, acks: { ...t.acks, [consumer]: rec } } } };
}

/** Triggers due for re-announcement at `now`: not accepted by every required consumer, interval passed. */
export function dueAnnouncements(state: TrackerState, now: number, intervalMs: number): { state: TrackerState; triggers: EvacuationTrigger[] } {
  const triggers: EvacuationTrigger[] = [];
  let next: Record<string, Tracking> | undefined;
  for (const [zone, t] of Object.entries(state)) {
    if (missingOf(t).length === 0 || now - t.lastAnnouncedAt < intervalMs) continue;
    const announcement = t.announcements + 1;
    next ??= { ...state };
    next[zone] = { ...t, announcements: announcement, lastAnnouncedAt: now };
    triggers.push({ ...t.trigger, announcement });
  }
  return { state: next ?? state, triggers };
}

/** The escalation alarms of one zone's evacuation, as annunciator inputs (critical: they latch). */
export function escalationInputs(zone: string, t: Tracking | undefined, now: number): AlarmInput[] {
  const missing = t === undefined ? [] : missingOf(t);
  const overdue = t !== undefined && now >= t.trigger.ackBy && missing.length > 0;
  const failed = t === undefined ? [] : failedHostsOf(t);
  const id = t?.trigger.id ?? "";
  const reasons = t === undefined ? "" : Object.entries(t.acks).filter(([, a]) => a.state === "failed" && a.reason !== undefined).map(([c, a]) => `${c}: ${a.reason}`).join("; ");
  return [
    {
      id: `${UNACKNOWLEDGED_ALARM}:${zone}`,
      rule: UNACKNOWLEDGED_ALARM,
      zone,
      class: "condition",
      priority: "critical",
      active: overdue,
      message: overdue ? `evacuation ${id} of zone ${zone} not acknowledged by ${missing.join(", ")} by its ackBy ${new Date(t.trigger.ackBy).toISOString()}` : `evacuation of zone ${zone}: every required consumer acknowledged`,
      evidence: overdue ? [{ rule: UNACKNOWLEDGED_ALARM, trigger: id, missing }] : [],
    },
    {
      id: `${FAILED_ALARM}:${zone}`,
      rule: FAILED_ALARM,
      zone,
      class: "condition",
      priority: "critical",
      active: failed.length > 0,
      message: failed.length > 0 ? `evacuation ${id} of zone ${zone} failed for hosts ${failed.join(", ")}${reasons === "" ? "" : ` (${reasons})`}` : `evacuation of zone ${zone}: no host failed`,
      evidence: failed.length > 0 ? [{ rule: FAILED_ALARM, trigger: id, hosts: failed }] : [],
    },
  ];
}

/** Consumers that must acknowledge triggers of `zone`. */
export function requiredFor(zone: string, consumers: readonly { readonly id: string; readonly zones?: readonly string[] }[]): string[] {
  return consumers.filter((c) => c.zones === undefined || c.zones.includes(zone)).map((c) => c.id);
}
