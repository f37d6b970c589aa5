// Pure translation of core events into MQTT messages (topic, JSON payload, QoS, retain) per
// README.md#mqtt-topic-reference-schema-v1, which documents every field. No I/O, no clock: times are passed in.
// Numbers are rounded here, and only here, to their point's resolution (./rounding.ts).
import type { JsonValue } from "../../commands/canonical.js";
import { signPayload, type TriggerSigner } from "../../evacuation/trigger-wire.js";
import type { ActionEvent, AlarmChange, AlarmState, CoreEvent, EvacuationStatus, EvacuationTrigger, ZoneFaultChange, ZoneStageChange } from "../../events.js";
import type { PointValue } from "../../points/point.js";
import { type PointDecimals, tidy, tidyEvidence, unknownDecimals } from "./rounding.js";
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
  /**
   * MQTT v5 message expiry interval, s: the broker drops the message (retained copy included) this
   * long after it got it. Absent: never expires (zone stages, alarms and triggers must persist).
   */
  readonly expiryS?: number;
  /** Its row in the state store's journal, for QoS 1 messages decided by the core: removed once the broker has it. */
  readonly journalId?: number;
}

/** Who publishes: the daemon's identity, the same for all its messages. */
export interface Publisher {
  readonly instance: string;
  readonly version: string;
  /** Clock time the daemon started, ms; `boot` in events lets consumers see a restart (seq back to 1). */
  readonly startedAt: number;
  /**
   * The zones this daemon watches, in `status` (also in its Last Will): a daemon that sees another
   * instance go `offline` answers with its own `online` only when that instance watched its zones
   * (a redundant partner), never for another room's daemon (./reassert.ts).
   */
  readonly zones?: readonly string[];
}

export type Status = "online" | "offline";

export const iso = (ms: number): string => new Date(ms).toISOString();

/** The `online` heartbeat: re-published every `heartbeatS`, expiring (broker-side, MQTT v5) after `expiryS`. */
export interface Heartbeat {
  readonly heartbeatS: number;
  readonly expiryS: number;
  /** Clock ms per real ms: `expiresAt` is on the clock's timeline, like `ts` (1 on a real site). */
  readonly speed: number;
}

/** How many heartbeats an `online` status outlives: two may be missed before it expires [operational choice]. */
export const HEARTBEATS_TO_EXPIRY = 3;

export function heartbeatOf(heartbeatS: number, speed = 1): Heartbeat {
  return { heartbeatS, expiryS: HEARTBEATS_TO_EXPIRY * heartbeatS, speed };
}

/**
 * `status`, retained, QoS 1. `online` with a heartbeat carries `heartbeatS` and `expiresAt` (so that
 * consumers without MQTT v5 can judge freshness) and expires on the broker at the same moment;
 * `offline` (also the Last Will) never expires.
 */
export function statusMessage(t: Topics, p: Publisher, status: Status, nowMs: number, hb?: Heartbeat): OutMessage {
  const base = { v: SCHEMA_VERSION, ts: iso(nowMs), status, instance: p.instance, version: p.version, startedAt: iso(p.startedAt), ...(p.zones === undefined ? {} : { zones: p.zones }) };
  if (status === "offline" || hb === undefined) return { topic: t.status, payload: JSON.stringify(base), qos: 1, retain: true, kind: "status" };
  const body = { ...base, heartbeatS: hb.heartbeatS, expiresAt: iso(nowMs + hb.expiryS * 1000 * hb.speed) };
  return { topic: t.status, payload: JSON.stringify(body), qos: 1, retain: true, kind: "status", expiryS: hb.expiryS };
}

function zoneBody(z: ZoneStageChange, r: PointDecimals) {
  return {
    zone: z.zone,
    // Never `normal` for a zone nobody has judged yet: a consumer must not read "all clear" into it.
    stage: z.unjudged === true ? "unknown" : z.stage,
    judged: z.unjudged !== true,
    since: iso(z.since),
    previous: z.firstJudgement === true ? "unknown" : z.previous,
    skipped: z.skipped,
    fault: z.fault,
    faults: z.faults.map((e) => tidyEvidence(e, r)),
    evidence: z.evidence.map((e) => tidyEvidence(e, r)),
  };
}

function faultBody(f: ZoneFaultChange, r: PointDecimals) {
  return { zone: f.zone, stage: f.stage, fault: f.fault, since: iso(f.since), faults: f.faults.map((e) => tidyEvidence(e, r)) };
}

/** One alarm as `alarm/<id>` and the `status` command's reply carry it (without `v`, `ts`). */
export function alarmBody(a: AlarmState, r: PointDecimals = unknownDecimals) {
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
    evidence: a.evidence.map((e) => tidyEvidence(e, r)),
    // The lifecycle's audit (src/alarms/lifecycle.ts): why, who, until when. Absent fields do not apply.
    ...(a.reason === undefined ? {} : { reason: a.reason }),
    ...(a.ackedBy === undefined ? {} : { ackedBy: a.ackedBy }),
    ...(a.ackedAt === undefined ? {} : { ackedAt: iso(a.ackedAt) }),
    ...(a.shelved === undefined ? {} : { shelved: { by: a.shelved.by, at: iso(a.shelved.at), until: iso(a.shelved.until), reason: a.shelved.reason } }),
    ...(a.suppressed === undefined
      ? {}
      : { suppressed: { zone: a.suppressed.zone, by: a.suppressed.by, at: iso(a.suppressed.at), ...(a.suppressed.until === undefined ? {} : { until: iso(a.suppressed.until) }), reason: a.suppressed.reason } }),
    ...(a.outOfService === undefined
      ? {}
      : { outOfService: { by: a.outOfService.by, at: iso(a.outOfService.at), reason: a.outOfService.reason, ...(a.outOfService.devices === undefined ? {} : { devices: a.outOfService.devices }) } }),
    ...(a.chattering === undefined ? {} : { chattering: { count: a.chattering.count, since: iso(a.chattering.since) } }),
  };
}

export type AlarmBody = ReturnType<typeof alarmBody>;

function triggerBody(e: EvacuationTrigger, r: PointDecimals) {
  return {
    id: e.id,
    zone: e.zone,
    stage: "evacuate" as const,
    incident: e.incident,
    racks: e.racks,
    hosts: e.hosts,
    reason: e.reason,
    evidence: e.evidence.map((x) => tidyEvidence(x, r)),
    ...(e.rackOf === undefined ? {} : { rackOf: e.rackOf }),
    issuedAt: iso(e.issuedAt),
    ackBy: iso(e.ackBy),
    // The panel's pre-release deadline (src/evacuation/trigger.ts deadlineOf): signed with the rest.
    ...(e.deadline === undefined ? {} : { deadline: iso(e.deadline) }),
    ...(e.announcement === undefined ? {} : { announcement: e.announcement }),
  };
}

/** How triggers are signed: the site named in each, and the key (absent: unsigned, README "Evacuation"). */
export interface TriggerSigning {
  readonly site: string;
  readonly kid?: string;
  readonly signer?: TriggerSigner;
}

function statusBody(s: EvacuationStatus) {
  return {
    zone: s.zone,
    id: s.id,
    state: s.state,
    issuedAt: iso(s.issuedAt),
    ackBy: iso(s.ackBy),
    announcements: s.announcements,
    required: s.required,
    missing: s.missing,
    failedHosts: s.failedHosts,
    consumers: Object.fromEntries(
      Object.entries(s.consumers).map(([c, a]) => [c, { state: a.state, hosts: { done: a.done, failed: a.failed }, ...(a.reason === undefined ? {} : { reason: a.reason }), ts: iso(a.ts), receivedAt: iso(a.receivedAt) }]),
    ),
    ...(s.closed === true ? { closed: true } : {}),
  };
}

/** `evacuate/<zone>/status`, retained, QoS 1; removed (empty) once the incident is closed. */
export function evacuationStatusMessage(t: Topics, s: EvacuationStatus, nowMs: number, instance?: string): OutMessage {
  if (s.closed === true) return removeRetained(t.evacuateStatus(s.zone));
  const payload = JSON.stringify({ v: SCHEMA_VERSION, ts: iso(nowMs), ...by(instance), ...statusBody(s) });
  return { topic: t.evacuateStatus(s.zone), payload, qos: 1, retain: true, kind: "state" };
}

/** Who published a retained message: lets a restarted daemon find and remove only its own stale ones. */
const by = (instance: string | undefined) => (instance === undefined ? {} : { instance });

/** `zone/<id>/stage`, retained, QoS 1. */
export function zoneStageMessage(t: Topics, z: ZoneStageChange, nowMs: number, r: PointDecimals = unknownDecimals, instance?: string): OutMessage {
  const payload = JSON.stringify({ v: SCHEMA_VERSION, ts: iso(nowMs), ...by(instance), ...zoneBody(z, r) });
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
export function alarmMessage(t: Topics, a: AlarmState, nowMs: number, r: PointDecimals = unknownDecimals, instance?: string): OutMessage {
  const payload = a.state === "normal" ? "" : JSON.stringify({ v: SCHEMA_VERSION, ts: iso(nowMs), ...by(instance), ...alarmBody(a, r) });
  return { topic: t.alarm(a.id), payload, qos: 1, retain: true, kind: "state" };
}

/**
 * `evacuate/<zone>`, retained, QoS 1. Every announcement (first, re-announcement, republish on
 * reconnect) has its own `ts` and is signed anew over the canonical JSON of all its other fields.
 */
export function evacuateMessage(t: Topics, e: EvacuationTrigger, nowMs: number, r: PointDecimals = unknownDecimals, instance?: string, signing?: TriggerSigning): OutMessage {
  const { id, ...rest } = triggerBody(e, r);
  const body = { v: SCHEMA_VERSION, id, ts: iso(nowMs), ...by(instance), ...(signing === undefined ? {} : { site: signing.site }), ...rest };
  if (signing?.signer === undefined || signing.kid === undefined) return { topic: t.evacuate(e.zone), payload: JSON.stringify(body), qos: 1, retain: true, kind: "state" };
  // Signed as the consumer will parse it: JSON drops undefined fields, so sign the round trip.
  const plain = JSON.parse(JSON.stringify(body)) as Record<string, JsonValue>;
  return { topic: t.evacuate(e.zone), payload: JSON.stringify(signPayload(plain, signing.kid, signing.signer)), qos: 1, retain: true, kind: "state" };
}

function eventBody(e: CoreEvent, r: PointDecimals) {
  switch (e.type) {
    case "zone_stage":
      return zoneBody(e, r);
    case "zone_fault":
      return faultBody(e, r);
    case "alarm":
      return { ...alarmBody(e.alarm, r), previous: e.previous, reason: e.reason };
    case "evacuate":
      return triggerBody(e, r);
    case "evacuation_status":
      return statusBody(e);
    case "incident_closed":
      return { zone: e.zone, id: e.id, incident: e.incident, by: e.by, since: iso(e.since) };
    case "action":
      return actionBody(e);
    case "command":
      return {
        ...(e.requestId === undefined ? {} : { requestId: e.requestId }),
        verb: e.verb,
        ...(e.by === undefined ? {} : { by: e.by }),
        ok: e.ok,
        ...(e.code === undefined ? {} : { code: e.code }),
        detail: e.detail,
      };
  }
}

/** `events`, QoS 1, not retained: one numbered entry per transition. */
export function eventMessage(t: Topics, p: Publisher, seq: number, e: CoreEvent, nowMs: number, r: PointDecimals = unknownDecimals): OutMessage {
  const payload = JSON.stringify({ v: SCHEMA_VERSION, ts: iso(nowMs), seq, instance: p.instance, boot: iso(p.startedAt), type: e.type, ...eventBody(e, r) });
  return { topic: t.events, payload, qos: 1, retain: false, kind: "event" };
}

/** The retained state message an event changes, if any (`last` is the zone's last stage picture, for fault changes). */
export function stateMessage(t: Topics, e: CoreEvent, nowMs: number, last?: ZoneStageChange, r: PointDecimals = unknownDecimals, instance?: string, signing?: TriggerSigning): OutMessage | undefined {
  switch (e.type) {
    case "zone_stage":
      return zoneStageMessage(t, e, nowMs, r, instance);
    case "zone_fault":
      return zoneStageMessage(t, withFault(last, e), nowMs, r, instance);
    case "alarm":
      return alarmMessage(t, (e as AlarmChange).alarm, nowMs, r, instance);
    case "evacuate":
      return evacuateMessage(t, e, nowMs, r, instance, signing);
    case "evacuation_status":
      return evacuationStatusMessage(t, e, nowMs, instance);
    case "incident_closed":
      return removeRetained(t.evacuate(e.zone));
    case "command":
    case "action":
      return undefined;
  }
}

/** A protective action's step on `events` (README "Protective actions"): what, where, with what outcome and why. */
function actionBody(e: ActionEvent) {
  return {
    action: e.action,
    kind: e.kind,
    device: e.device,
    point: e.point,
    value: e.value,
    zone: e.zone,
    stage: e.stage,
    outcome: e.outcome,
    ...(e.code === undefined ? {} : { code: e.code }),
    detail: e.detail,
    dryRun: e.dryRun,
    ...(e.knocks === undefined ? {} : { knocks: e.knocks }),
    ...(e.readBack === undefined ? {} : { readBack: e.readBack }),
    ...(e.incident === undefined ? {} : { incident: e.incident }),
    since: iso(e.since),
  };
}

/** Remove a retained message (an empty retained payload), QoS 1. */
export function removeRetained(topic: string): OutMessage {
  return { topic, payload: "", qos: 1, retain: true, kind: "state" };
}

/** `point/<device>/<point>`, QoS 0, not retained: telemetry is best effort by design. */
export function pointMessage(t: Topics, key: string, value: PointValue, nowMs: number, r: PointDecimals = unknownDecimals): OutMessage {
  const slash = key.indexOf("/");
  const device = slash < 0 ? key : key.slice(0, slash);
  const point = slash < 0 ? "" : key.slice(slash + 1);
  const body = {
    v: SCHEMA_VERSION,
    ts: iso(nowMs),
    value: value.value === null ? null : tidy(value.value, r(key)),
    quality: value.quality,
    ...(value.reason === undefined ? {} : { reason: value.reason }),
    ...(value.detail === undefined ? {} : { detail: value.detail }),
    sourceTs: iso(value.sourceTs),
  };
  return { topic: t.point(device, point), payload: JSON.stringify(body), qos: 0, retain: false, kind: "telemetry" };
}
