// The history's pure parts: rows per point value and event (rows.ts) and which values are written (change-filter.ts).
import { describe, expect, it } from "vitest";
import { ChangeFilter } from "../../src/outputs/influx/change-filter.js";
import { eventRows, pointRow, stageLevel } from "../../src/outputs/influx/rows.js";
import type { PointInfo, PointValue } from "../../src/points/point.js";

const T0 = Date.UTC(2026, 10, 25, 3, 0, 0);
const site = { site: "dc1", instance: "room-1" };
const info: PointInfo = { key: "cab2/s1/m3/c7/tempC", deviceId: "cab2", pointId: "s1/m3/c7/tempC", unit: "degC", zone: "batt-a" };

describe("history rows", () => {
  it("a good value: quality as a tag, the number as field value", () => {
    expect(pointRow(site, info, { value: 71.5, quality: "good", sourceTs: T0 })).toEqual({
      measurement: "point",
      tags: { site: "dc1", instance: "room-1", device: "cab2", point: "s1/m3/c7/tempC", quality: "good", zone: "batt-a", unit: "degC" },
      fields: { value: 71.5 },
      timestamp: T0,
    });
  });

  it("a bad value: no number, the reason and detail as fields", () => {
    const r = pointRow(site, { ...info, unit: "" }, { value: null, quality: "bad", reason: "sentinel", detail: "raw 0x8000", sourceTs: T0 });
    expect(r.fields).toEqual({ reason: "sentinel", detail: "raw 0x8000" });
    expect(r.tags.quality).toBe("bad");
    expect("unit" in r.tags).toBe(false); // line protocol has no empty tag value
  });

  it("a zone stage change: stage and its level, previous, fault", () => {
    const [r] = eventRows(site, { type: "zone_stage", zone: "batt-a", stage: "evacuate", previous: "pre_alarm", skipped: ["alarm"], since: T0, fault: false, faults: [], evidence: [{ rule: "offgas-a", point: "offgas-a/ppm", value: 60 }] });
    expect(r).toMatchObject({ measurement: "zone_stage", tags: { zone: "batt-a" }, fields: { stage: "evacuate", level: 4, previous: "pre_alarm", skipped: "alarm", fault: false, evidence: "offgas-a: offgas-a/ppm = 60.0" }, timestamp: T0 });
    expect(stageLevel("normal")).toBe(0);
  });

  it("an alarm transition: level 0 when clear, else its priority", () => {
    const alarm = { id: "og", rule: "og", zone: "batt-a", class: "condition", priority: "critical", state: "unack", active: true, latched: true, since: T0, message: "m", evidence: [] } as const;
    expect(eventRows(site, { type: "alarm", alarm, previous: "normal", reason: "condition active" })[0]).toMatchObject({ tags: { alarm: "og", priority: "critical", class: "condition" }, fields: { state: "unack", level: 4, active: true } });
    expect(eventRows(site, { type: "alarm", alarm: { ...alarm, active: false, state: "ack" }, previous: "unack", reason: "r" })[0]!.fields.level).toBe(0);
  });

  it("a trigger and the incident's close are rows of trigger; commands leave none", () => {
    const [t] = eventRows(site, { type: "evacuate", id: "dc1:batt-a:0001", zone: "batt-a", incident: 1, racks: ["R12"], hosts: ["h1", "h2"], reason: "off-gas", evidence: [], issuedAt: T0, ackBy: T0 + 60_000 });
    expect(t).toMatchObject({ measurement: "trigger", tags: { event: "issued" }, fields: { id: "dc1:batt-a:0001", hosts: "h1,h2" } });
    expect(eventRows(site, { type: "command", verb: "ack", ok: true, detail: "", since: T0 })).toEqual([]);
  });
});

describe("which point values are written", () => {
  const v = (value: number | null, at: number, quality: PointValue["quality"] = "good"): PointValue => (quality === "good" ? { value, quality, sourceTs: at } : { value, quality, reason: "stale", sourceTs: at });

  it("a change is written, a repeat is not, a repeat after the heartbeat is", () => {
    const f = new ChangeFilter(300_000);
    expect(f.offer("p", v(1, T0))).toBe(true);
    expect(f.offer("p", v(1, T0 + 1000))).toBe(false);
    expect(f.offer("p", v(2, T0 + 2000))).toBe(true);
    expect(f.offer("p", v(2, T0 + 301_999))).toBe(false);
    expect(f.offer("p", v(2, T0 + 302_000))).toBe(true);
  });

  it("the same number with another quality is a change", () => {
    const f = new ChangeFilter(0);
    expect(f.offer("p", v(null, T0, "bad"))).toBe(true);
    expect(f.offer("p", v(null, T0 + 1, "bad"))).toBe(false);
    expect(f.offer("p", v(null, T0 + 2, "uncertain"))).toBe(true);
  });
});
