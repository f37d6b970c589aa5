// The history's shape in InfluxDB (README "History in InfluxDB"): one row per point value written
// and per core event, as the `influx` package's IPoint with a millisecond timestamp. Pure.
// Measurements: point, zone_stage, zone_fault, alarm, trigger. Tags are what a query groups by
// (few values each); everything else is a field.
import { stages } from "../../config/site-schema.js";
import type { AlarmPriority, CoreEvent } from "../../events.js";
import { describeEvidenceList } from "../../alarms/describe.js";
import type { PointInfo, PointValue } from "../../points/point.js";

/** One row: the influx package's IPoint with a number timestamp in ms (written with precision "ms"). */
export interface Row {
  readonly measurement: "point" | "zone_stage" | "zone_fault" | "alarm" | "trigger";
  readonly tags: Readonly<Record<string, string>>;
  readonly fields: Readonly<Record<string, number | string | boolean>>;
  /** ms since the epoch. */
  readonly timestamp: number;
}

export interface RowSite {
  readonly site: string;
  readonly instance: string;
}

/** Stage as a number for graphs (normal 0 … evacuate 4); a stage-over-time panel plots this. */
export function stageLevel(stage: string): number {
  const i = (stages as readonly string[]).indexOf(stage);
  return i < 0 ? -1 : i;
}

const PRIORITY_LEVEL: Record<AlarmPriority, number> = { low: 1, medium: 2, high: 3, critical: 4 };

/** A point value: quality as a tag (panels group and colour by it), the reason as a field (it varies with the failure). */
export function pointRow(s: RowSite, info: PointInfo, v: PointValue): Row {
  const fields: Record<string, number | string> = {};
  if (v.value !== null && Number.isFinite(v.value)) fields.value = v.value;
  if (v.reason !== undefined) fields.reason = v.reason;
  if (v.detail !== undefined) fields.detail = v.detail;
  // A good value with no number cannot happen (src/points/point.ts); a row needs a field all the same.
  if (Object.keys(fields).length === 0) fields.reason = "no_value";
  // Line protocol has no empty tag value: a point without zone or unit leaves the tag out.
  const tags: Record<string, string> = { site: s.site, instance: s.instance, device: info.deviceId, point: info.pointId, quality: v.quality };
  if (info.zone !== undefined && info.zone !== "") tags.zone = info.zone;
  if (info.unit !== "") tags.unit = info.unit;
  return {
    measurement: "point",
    tags,
    fields,
    timestamp: v.sourceTs,
  };
}

/** The rows for one core event; commands and consumers' acknowledgments leave none (they are in the audit and on MQTT). */
export function eventRows(s: RowSite, e: CoreEvent): Row[] {
  const base = { site: s.site, instance: s.instance };
  switch (e.type) {
    case "zone_stage":
      return [
        {
          measurement: "zone_stage",
          tags: { ...base, zone: e.zone },
          fields: {
            stage: e.stage,
            level: stageLevel(e.stage),
            previous: e.previous,
            skipped: e.skipped.join(","),
            fault: e.fault,
            evidence: describeEvidenceList(e.evidence),
            ...(e.unjudged === true ? { unjudged: true } : {}),
          },
          timestamp: e.since,
        },
      ];
    case "zone_fault":
      return [{ measurement: "zone_fault", tags: { ...base, zone: e.zone }, fields: { fault: e.fault, stage: e.stage, faults: describeEvidenceList(e.faults) }, timestamp: e.since }];
    case "alarm": {
      const a = e.alarm;
      return [
        {
          measurement: "alarm",
          tags: { ...base, zone: a.zone, alarm: a.id, class: a.class, priority: a.priority },
          fields: {
            state: a.state,
            previous: e.previous,
            active: a.active,
            // 0 when clear, else the priority (1 low … 4 critical): a panel can sum or colour it.
            level: a.active ? PRIORITY_LEVEL[a.priority] : 0,
            reason: e.reason,
            message: a.message,
          },
          timestamp: a.since,
        },
      ];
    }
    case "evacuate":
      return [
        {
          measurement: "trigger",
          tags: { ...base, zone: e.zone, event: "issued" },
          fields: { id: e.id, incident: e.incident, racks: e.racks.join(","), hosts: e.hosts.join(","), reason: e.reason, ack_by: new Date(e.ackBy).toISOString(), ...(e.deadline === undefined ? {} : { deadline: new Date(e.deadline).toISOString() }), count: 1 },
          timestamp: e.issuedAt,
        },
      ];
    case "incident_closed":
      return [{ measurement: "trigger", tags: { ...base, zone: e.zone, event: "closed" }, fields: { id: e.id, incident: e.incident, by: e.by, count: 1 }, timestamp: e.since }];
    case "command":
    case "evacuation_status":
    case "action":
      return [];
  }
}
