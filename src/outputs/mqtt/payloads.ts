// Pure translation of core events into MQTT messages (topic, JSON payload, QoS, retain) per
// DESIGN.md §7; docs/mqtt-topics.md documents every field. No I/O, no clock: times are passed in.
import type { AlarmChange, AlarmState, CoreEvent, EvacuationTrigger, ZoneFaultChange, ZoneStageChange } from "../../events.js";
import type { PointValue } from "../../points/point.js";
import { SCHEMA_VERSION, type Topics } from "./topics.js";

/**
 * `status`: our availability; `state`: a retained picture (zone stage, alarm, trigger) that
 * retained() can rebuild; `event`: the numbered history; `telemetry`: optional point values.
 */
export type MessageKind = "status" | "state" | "event" | "telemetry";

export interface OutMessage {
  readonly topic: string;
  /** JSON, or "" to delete a retained message. */
  readonly payload: string;
  readonly qos: 0 | 1;
  readonly retain: boolean;
  readonly kind: MessageKind;
}

/** Who publishes: the daemon's identity, the same for all its messages. */
export interface Publisher {
  readonly instance: string;
  readonly version: string;
  /** Clock time the daemon started, ms; `boot` in events lets consumers see a restart (seq back to 1). */
  readonly startedAt: number;
}

export type Status = "online" | "offline";

export const iso = (ms: number): string => new Date(ms).toISOString();

export function statusMessage(t: Topics, p: Publisher, status: Status, nowMs: number): OutMessage {
  const body = { v: SCHEMA_VERSION, ts: iso(nowMs), status, instance: p.instance, version: p.version, startedAt: iso(p.startedAt) };
  return { topic: t.status, payload: JSON.stringify(body), qos: 1, retain: true, kind: "status" };
}

function zoneBody(z: ZoneStageChange) {
  return {
    zone: z.zone,
    stage: z.stage,
    since: iso(z.since),
    previous: z.previous,
    skipped: z.skipped,
    fault: z.fault,
    faults: z.faults,
    evidence: z.evidence,
  };
}

function faultBody(f: ZoneFaultChange) {
  return { zone: f.zone, stage: f.stage, fault: f.fault, since: iso(f.since), faults: f.faults };
}

/** One alarm as `alarm/<id>` and the `status` command's reply carry it (without `v`, `ts`). */
export function alarmBody(a: AlarmState) {
  return {
    id: a.id,
    rule: a.rule,
    zone: a.zone,
    class: a.class,
    priority: a.priority,
    state: a.state,
    active: a.active,
    ...(a.stage === undefined ? {} : { stage: a.stage }),
    latched: a.latched,
    since: iso(a.since),
    message: a.message,
    evidence: a.evidence,
  };
}

export type AlarmBody = ReturnType<typeof alarmBody>;

function triggerBody(e: EvacuationTrigger) {
  return {
    id: e.id,
    zone: e.zone,
    stage: "evacuate" as const,
    incident: e.incident,
    racks: e.racks,
    hosts: e.hosts,
    reason: e.reason,
    evidence: e.evidence,
    issuedAt: iso(e.issuedAt),
    ackBy: iso(e.ackBy),
  };
}

/** `zone/<id>/stage`, retained, QoS 1. */
export function zoneStageMessage(t: Topics, z: ZoneStageChange, nowMs: number): OutMessage {
  const payload = JSON.stringify({ v: SCHEMA_VERSION, ts: iso(nowMs), ...zoneBody(z) });
  return { topic: t.zoneStage(z.zone), payload, qos: 1, retain: true, kind: "state" };
}

/**
 * A fault change updates the zone's retained stage picture without a stage transition: the last
 * known stage change with the new fault flag and faults. With no earlier change, the zone has been
 * in `f.stage` since the fault change as far as this publisher knows.
 */
export function withFault(last: ZoneStageChange | undefined, f: ZoneFaultChange): ZoneStageChange {
  if (last !== undefined && last.stage === f.stage) return { ...last, fault: f.fault, faults: f.faults };
  return { type: "zone_stage", zone: f.zone, stage: f.stage, previous: last?.stage ?? f.stage, skipped: [], since: f.since, fault: f.fault, faults: f.faults, evidence: last?.evidence ?? [] };
}

/** `alarm/<id>`, retained, QoS 1; an empty payload deletes it once the alarm is normal (inactive and acknowledged). */
export function alarmMessage(t: Topics, a: AlarmState, nowMs: number): OutMessage {
  const payload = a.state === "normal" ? "" : JSON.stringify({ v: SCHEMA_VERSION, ts: iso(nowMs), ...alarmBody(a) });
  return { topic: t.alarm(a.id), payload, qos: 1, retain: true, kind: "state" };
}

/** `evacuate/<zone>`, retained, QoS 1. */
export function evacuateMessage(t: Topics, e: EvacuationTrigger, nowMs: number): OutMessage {
  const { id, ...rest } = triggerBody(e);
  const payload = JSON.stringify({ v: SCHEMA_VERSION, id, ts: iso(nowMs), ...rest });
  return { topic: t.evacuate(e.zone), payload, qos: 1, retain: true, kind: "state" };
}

function eventBody(e: CoreEvent) {
  switch (e.type) {
    case "zone_stage":
      return zoneBody(e);
    case "zone_fault":
      return faultBody(e);
    case "alarm":
      return { ...alarmBody(e.alarm), previous: e.previous };
    case "evacuate":
      return triggerBody(e);
  }
}

/** `events`, QoS 1, not retained: one numbered entry per transition. */
export function eventMessage(t: Topics, p: Publisher, seq: number, e: CoreEvent, nowMs: number): OutMessage {
  const payload = JSON.stringify({ v: SCHEMA_VERSION, ts: iso(nowMs), seq, instance: p.instance, boot: iso(p.startedAt), type: e.type, ...eventBody(e) });
  return { topic: t.events, payload, qos: 1, retain: false, kind: "event" };
}

/** The retained state message an event changes, if any (`last` is the zone's last stage picture, for fault changes). */
export function stateMessage(t: Topics, e: CoreEvent, nowMs: number, last?: ZoneStageChange): OutMessage {
  switch (e.type) {
    case "zone_stage":
      return zoneStageMessage(t, e, nowMs);
    case "zone_fault":
      return zoneStageMessage(t, withFault(last, e), nowMs);
    case "alarm":
      return alarmMessage(t, (e as AlarmChange).alarm, nowMs);
    case "evacuate":
      return evacuateMessage(t, e, nowMs);
  }
}

/** `point/<device>/<point>`, QoS 0, not retained: telemetry is best effort by design. */
export function pointMessage(t: Topics, key: string, value: PointValue, nowMs: number): OutMessage {
  const slash = key.indexOf("/");
  const device = slash < 0 ? key : key.slice(0, slash);
  const point = slash < 0 ? "" : key.slice(slash + 1);
  const body = {
    v: SCHEMA_VERSION,
    ts: iso(nowMs),
    value: value.value,
    quality: value.quality,
    ...(value.reason === undefined ? {} : { reason: value.reason }),
    ...(value.detail === undefined ? {} : { detail: value.detail }),
    sourceTs: iso(value.sourceTs),
  };
  return { topic: t.point(device, point), payload: JSON.stringify(body), qos: 0, retain: false, kind: "telemetry" };
}
