// Numbers in MQTT payloads are rounded to their point's resolution where the payload is built, and
// nowhere else: `"value":14.2`, never `14.200000000000001`.
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadSiteConfig, packageRoot } from "../../src/config/load.js";
import type { SiteConfig } from "../../src/config/types.js";
import type { AlarmState, EvacuationTrigger, ZoneStageChange } from "../../src/events.js";
import { alarmMessage, evacuateMessage, eventMessage, pointMessage, zoneStageMessage } from "../../src/outputs/mqtt/payloads.js";
import { decimalsOf, type PointDecimals, pointDecimals, roundToSignificant, tidyEvidence, unknownDecimals } from "../../src/outputs/mqtt/rounding.js";
import { topics } from "../../src/outputs/mqtt/topics.js";
import { good } from "../../src/points/point.js";

const T0 = Date.UTC(2026, 10, 25, 3, 12, 9, 400);
const t = topics("dc1");
const oneDecimal: PointDecimals = (k) => (k === "offgas-a/ppm" || k === "cab2/s1/m3/c7/tempC" ? 1 : undefined);

// What the rules build today: float noise from raw × 0.1 and from differences.
const offgas = { rule: "offgas-a", point: "offgas-a/ppm", value: 14.200000000000001, quality: "good" as const, baseline: 0, baselineSource: "fixed", ppmAboveBaseline: 14.200000000000001, threshold: 10 };
const deviation = { rule: "cell-dev-a", point: "cab2/s1/m3/c7/tempC", value: 40.800000000000004, quality: "good" as const, groupMedian: 24.000000000000004, deviation: 16.799999999999997, threshold: 15 };
const rate = { rule: "cell-ror-a", point: "cab2/s1/m3/c7/tempC", value: 26.1, quality: "good" as const, ratePerMin: 2.0345678912, threshold: 2 };

describe("the resolution of a point", () => {
  it.each([
    [1, 0], [0.1, 1], [0.01, 2], [0.25, 2], [0.5, 1], [10, 0], [0.001, 3], [1 / 3, undefined],
  ])("a scale of %s resolves %s decimal places", (scale, d) => {
    expect(decimalsOf(scale)).toBe(d);
  });

  describe("from the shipped profiles of the example site", () => {
    let site: SiteConfig;
    let d: PointDecimals;
    beforeAll(async () => {
      site = await loadSiteConfig(join(packageRoot(), "config", "example-site.yaml"));
      d = pointDecimals(site);
    });
    it("an integer register with scale 0.1 resolves 1 place; bits and unscaled registers 0", () => {
      expect(d("offgas-a/ppm")).toBe(1);
      expect(d("room-a/tempC")).toBe(1);
      expect(d("offgas-a/sensorFault")).toBe(0);
      expect(d("panel-1/preRelease")).toBe(0);
    });
    it("a divisor counts like a scale (divide by 1000 resolves 3 places), and packed bytes like integers", async () => {
      const rack = pointDecimals(await loadSiteConfig("test/interop/commissioning-site.yaml"));
      expect(rack("rack/voltV")).toBe(3);
      expect(rack("rack/soc")).toBe(1);
      expect(rack("rack/mod2TempC")).toBe(0);
    });
    it("a SunSpec point has none: its scale factor is the device's, read at every poll", () => {
      expect(d("cab2/s1/m3/c7/tempC")).toBeUndefined();
      expect(d("no-such/point")).toBeUndefined();
    });
  });
});

describe("rounding", () => {
  it.each([
    [16.799999999999997, 16.8], [14.200000000000001, 14.2], [2.0345678912, 2.03457], [123456789, 123456789],
    [1234567.89, 1234568], [0.000012345678, 0.0000123457], [-0.30000000000000004, -0.3], [0, 0],
  ])("without a known resolution %s keeps 6 significant digits: %s", (x, want) => {
    expect(roundToSignificant(x)).toBe(want);
  });

  it("figures in the point's unit go to its resolution; rates and thresholds keep their digits", () => {
    expect(tidyEvidence(deviation, oneDecimal)).toEqual({ ...deviation, value: 40.8, groupMedian: 24, deviation: 16.8 });
    expect(tidyEvidence({ ...deviation, deviation: 16.75 }, () => 0)).toMatchObject({ deviation: 17 });
    expect(tidyEvidence(rate, oneDecimal)).toEqual({ ...rate, ratePerMin: 2.03457 });
    expect(tidyEvidence(offgas, oneDecimal)).toEqual({ ...offgas, value: 14.2, ppmAboveBaseline: 14.2 });
  });

  it("a fault entry without numbers is unchanged", () => {
    const fault = { rule: "cell-dev-a", point: "cab1/s1/m1/c1/tempC", quality: "bad" as const, reason: "sentinel", detail: "raw 0x8000" };
    expect(tidyEvidence(fault, oneDecimal)).toEqual(fault);
  });
});

describe("payloads carry rounded numbers", () => {
  const stage: ZoneStageChange = { type: "zone_stage", zone: "batt-a", stage: "alarm", previous: "pre_alarm", skipped: [], since: T0, fault: false, faults: [], evidence: [offgas, deviation] };

  it("zone/<id>/stage: the exact evidence text", () => {
    const m = zoneStageMessage(t, stage, T0, oneDecimal);
    expect(m.payload).toContain('{"rule":"offgas-a","point":"offgas-a/ppm","value":14.2,"quality":"good","baseline":0,"baselineSource":"fixed","ppmAboveBaseline":14.2,"threshold":10}');
    expect(m.payload).toContain('"value":40.8,"quality":"good","groupMedian":24,"deviation":16.8,"threshold":15}');
    expect(m.payload).not.toMatch(/\d\.\d{7,}/);
  });

  it("alarm, evacuate and events round the same way; the event in memory keeps full precision", () => {
    const alarm: AlarmState = { id: "cell-dev-a", rule: "cell-dev-a", zone: "batt-a", class: "condition", priority: "high", state: "unack", active: true, stage: "alarm", latched: true, since: T0, message: "m", evidence: [deviation] };
    const trigger: EvacuationTrigger = { type: "evacuate", id: "dc1:batt-a:0001", zone: "batt-a", incident: 1, racks: ["R12"], hosts: ["h1"], reason: "r", evidence: [offgas, deviation], issuedAt: T0, ackBy: T0 + 60_000 };
    const pub = { instance: "i", version: "0", startedAt: T0 };
    for (const m of [alarmMessage(t, alarm, T0, oneDecimal), evacuateMessage(t, trigger, T0, oneDecimal), eventMessage(t, pub, 1, stage, T0, oneDecimal), eventMessage(t, pub, 2, { type: "alarm", alarm, previous: "normal", reason: "condition active" }, T0, oneDecimal)]) {
      expect(m.payload).toContain('"deviation":16.8');
      expect(m.payload).not.toMatch(/\d\.\d{7,}/);
    }
    expect(stage.evidence[1]!.deviation).toBe(16.799999999999997);
  });

  it("without a resolution lookup, float noise still never reaches a consumer", () => {
    expect(zoneStageMessage(t, stage, T0).payload).toContain('"deviation":16.8');
    expect(zoneStageMessage(t, stage, T0, unknownDecimals).payload).toContain('"value":14.2');
  });

  it("point/<device>/<point>: the value at the point's resolution", () => {
    expect(JSON.parse(pointMessage(t, "offgas-a/ppm", good(14.200000000000001, T0), T0, oneDecimal).payload)).toMatchObject({ value: 14.2 });
    expect(JSON.parse(pointMessage(t, "offgas-a/ppm", good(14.25, T0), T0, () => 0).payload)).toMatchObject({ value: 14 });
    expect(JSON.parse(pointMessage(t, "offgas-a/ppm", { value: null, quality: "bad", reason: "stale", sourceTs: T0 }, T0, oneDecimal).payload)).toMatchObject({ value: null });
  });
});
