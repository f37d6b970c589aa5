// The exact MQTT publishes for each core event (topic, payload, QoS, retain), the topic guards,
// the bounded outbox's drop order and the telemetry rate limit.
import { describe, expect, it } from "vitest";
import type { AlarmState, EvacuationTrigger, ZoneFaultChange, ZoneStageChange } from "../../src/events.js";
import { explainConnectionError } from "../../src/outputs/mqtt/connection-errors.js";
import { Outbox } from "../../src/outputs/mqtt/outbox.js";
import {
  alarmMessage,
  evacuateMessage,
  eventMessage,
  type OutMessage,
  pointMessage,
  stateMessage,
  statusMessage,
  zoneStageMessage,
} from "../../src/outputs/mqtt/payloads.js";
import { PointThrottle } from "../../src/outputs/mqtt/telemetry.js";
import { MqttTopicError, topics } from "../../src/outputs/mqtt/topics.js";
import { judgeRetained, parseRetainedTopic, type RetainedContext } from "../../src/outputs/mqtt/retained.js";
import { bad, good, type PointValue } from "../../src/points/point.js";
import { FakeClock } from "../../src/runtime/clock.js";

const T0 = Date.UTC(2026, 10, 25, 3, 12, 9, 400);
const NOW = T0 + 12;
const t = topics("dc1");
const pub = { instance: "hall-a", version: "0.1.0", startedAt: Date.UTC(2026, 10, 25, 3, 0, 0) };

const stage: ZoneStageChange = {
  type: "zone_stage",
  zone: "batt-a",
  stage: "evacuate",
  previous: "alarm",
  skipped: [],
  since: T0,
  fault: false,
  faults: [],
  evidence: [{ rule: "offgas-a", point: "offgas-1/ppm", value: 48.2, quality: "good" }],
};

const alarm: AlarmState = {
  id: "offgas-a",
  rule: "offgas-a",
  zone: "batt-a",
  class: "condition",
  priority: "critical",
  state: "unack",
  active: true,
  stage: "alarm",
  latched: true,
  since: T0,
  message: "off-gas 48 ppm above baseline",
  evidence: [{ rule: "offgas-a", point: "offgas-1/ppm", value: 48.2, quality: "good" }],
};

const trigger: EvacuationTrigger = {
  type: "evacuate",
  id: "dc1:batt-a:0007",
  zone: "batt-a",
  incident: 7,
  racks: ["R12", "R13"],
  hosts: ["k8s-node-31", "k8s-node-32"],
  reason: "offgas + cell temperature deviation",
  evidence: [],
  issuedAt: T0,
  ackBy: T0 + 60_000,
};

const json = (m: OutMessage): unknown => JSON.parse(m.payload);

describe("topics", () => {
  it("builds every topic under firebreak/v1/<site>/", () => {
    expect(t.status).toBe("firebreak/v1/dc1/status");
    expect(t.events).toBe("firebreak/v1/dc1/events");
    expect(t.alarm("offgas-a")).toBe("firebreak/v1/dc1/alarm/offgas-a");
    expect(t.zoneStage("batt-a")).toBe("firebreak/v1/dc1/zone/batt-a/stage");
    expect(t.evacuate("batt-a")).toBe("firebreak/v1/dc1/evacuate/batt-a");
    expect(t.evacuateAck("batt-a", "k8s")).toBe("firebreak/v1/dc1/evacuate/batt-a/ack/k8s");
    expect(t.cmd("ack")).toBe("firebreak/v1/dc1/cmd/ack");
    expect(t.cmdReply("r-1")).toBe("firebreak/v1/dc1/cmd/reply/r-1");
    expect(t.point("cab2", "s1/m3/c7/tempC")).toBe("firebreak/v1/dc1/point/cab2/s1/m3/c7/tempC");
  });

  it.each(["a/b", "a+", "#", "", "x\u0000"])("refuses the id %j where one topic level is expected", (id) => {
    expect(() => t.alarm(id)).toThrow(MqttTopicError);
    expect(() => t.zoneStage(id)).toThrow(MqttTopicError);
    expect(() => topics(id)).toThrow(MqttTopicError);
  });

  it("refuses wildcards and empty levels inside a multi-level point id", () => {
    expect(() => t.point("cab2", "s1/+/tempC")).toThrow(MqttTopicError);
    expect(() => t.point("cab2", "s1//tempC")).toThrow(MqttTopicError);
    expect(() => t.point("cab/2", "tempC")).toThrow(MqttTopicError);
  });

  it("recognises our own retained state topics, and nothing else", () => {
    expect(parseRetainedTopic(t, "firebreak/v1/dc1/alarm/offgas-a:fault")).toEqual({ kind: "alarm", id: "offgas-a:fault" });
    expect(parseRetainedTopic(t, "firebreak/v1/dc1/zone/batt-a/stage")).toEqual({ kind: "zone", id: "batt-a" });
    expect(parseRetainedTopic(t, "firebreak/v1/dc1/evacuate/batt-a")).toEqual({ kind: "evacuate", id: "batt-a" });
    expect(parseRetainedTopic(t, "firebreak/v1/dc1/evacuate/batt-a/ack/k8s")).toBeUndefined();
    expect(parseRetainedTopic(t, "firebreak/v1/dc2/alarm/x")).toBeUndefined();
    expect(parseRetainedTopic(t, "firebreak/v1/dc1/cmd/ack")).toBeUndefined();
  });
});

describe("retained reconciliation on connect", () => {
  const t = topics("dc1");
  const ctx = (over: Partial<RetainedContext> = {}): RetainedContext => ({
    instance: "room-1",
    pictureTopics: new Set([t.alarm("offgas-a"), t.zoneStage("batt-a")]),
    legacyOwned: (ref) => ref.id === "cell-dev",
    adoptTrigger: () => false,
    ...over,
  });
  const judge = (topic: string, body: unknown, c = ctx()) => judgeRetained(parseRetainedTopic(t, topic)!, topic, body === "" ? "" : JSON.stringify(body), c).action;

  it("removes only what is ours and no longer in the picture", () => {
    expect(judge(t.alarm("cell-dev"), { instance: "room-1", id: "cell-dev" })).toBe("remove");
    expect(judge(t.alarm("offgas-a"), { instance: "room-1", id: "offgas-a" })).toBe("keep"); // in the picture
    expect(judge(t.alarm("cell-dev"), { instance: "room-2", id: "cell-dev" })).toBe("keep"); // another daemon's
    expect(judge(t.alarm("other"), { id: "other" })).toBe("keep"); // no instance, not one of ours
    expect(judge(t.alarm("cell-dev"), { id: "cell-dev" })).toBe("remove"); // no instance (an older firebreak), one of ours
    expect(judge(t.alarm("cell-dev"), "")).toBe("keep"); // already empty
  });

  it("adopts a retained trigger the core accepts, and removes our own stale one it does not", () => {
    const adopting = ctx({ adoptTrigger: (zone, id) => zone === "batt-a" && id === "dc1:batt-a:0007" });
    expect(judge(t.evacuate("batt-a"), { id: "dc1:batt-a:0007", instance: "room-2" }, adopting)).toBe("adopted");
    expect(judge(t.evacuate("batt-a"), { id: "dc1:batt-a:0003", instance: "room-1" }, adopting)).toBe("remove");
    expect(judge(t.evacuate("batt-a"), { id: "dc1:batt-a:0003", instance: "room-2" }, adopting)).toBe("keep");
  });
});

describe("payloads", () => {
  it("status is retained QoS 1 with instance, version and start time", () => {
    const m = statusMessage(t, pub, "online", NOW);
    expect(m).toMatchObject({ topic: "firebreak/v1/dc1/status", qos: 1, retain: true });
    expect(json(m)).toEqual({ v: 1, ts: "2026-11-25T03:12:09.412Z", status: "online", instance: "hall-a", version: "0.1.0", startedAt: "2026-11-25T03:00:00.000Z" });
  });

  it("a zone stage change is retained QoS 1 on zone/<id>/stage with ISO times", () => {
    const m = zoneStageMessage(t, stage, NOW);
    expect(m).toMatchObject({ topic: "firebreak/v1/dc1/zone/batt-a/stage", qos: 1, retain: true, kind: "state" });
    expect(m.payload).toBe(
      '{"v":1,"ts":"2026-11-25T03:12:09.412Z","zone":"batt-a","stage":"evacuate","judged":true,"since":"2026-11-25T03:12:09.400Z","previous":"alarm","skipped":[],"fault":false,"faults":[],' +
        '"evidence":[{"rule":"offgas-a","point":"offgas-1/ppm","value":48.2,"quality":"good"}]}',
    );
  });

  it("an active alarm is retained QoS 1 with its full state", () => {
    const m = alarmMessage(t, alarm, NOW);
    expect(m).toMatchObject({ topic: "firebreak/v1/dc1/alarm/offgas-a", qos: 1, retain: true });
    expect(json(m)).toEqual({
      v: 1, ts: "2026-11-25T03:12:09.412Z", id: "offgas-a", rule: "offgas-a", zone: "batt-a", class: "condition", priority: "critical",
      state: "unack", active: true, stage: "alarm", latched: true, since: "2026-11-25T03:12:09.400Z", message: "off-gas 48 ppm above baseline",
      evidence: [{ rule: "offgas-a", point: "offgas-1/ppm", value: 48.2, quality: "good" }],
    });
  });

  it("an alarm back to normal and acknowledged is an empty retained message, which deletes it", () => {
    expect(alarmMessage(t, { ...alarm, state: "normal", active: false }, NOW)).toEqual({ topic: "firebreak/v1/dc1/alarm/offgas-a", payload: "", qos: 1, retain: true, kind: "state" });
  });

  it("an alarm returned to normal but unacknowledged stays retained", () => {
    const m = alarmMessage(t, { ...alarm, state: "rtn_unack", active: false }, NOW);
    expect(m.payload).not.toBe("");
    expect(json(m)).toMatchObject({ state: "rtn_unack", active: false });
  });

  it("an evacuation trigger is retained QoS 1 on evacuate/<zone>", () => {
    const m = evacuateMessage(t, trigger, NOW);
    expect(m).toMatchObject({ topic: "firebreak/v1/dc1/evacuate/batt-a", qos: 1, retain: true });
    expect(m.payload).toBe(
      '{"v":1,"id":"dc1:batt-a:0007","ts":"2026-11-25T03:12:09.412Z","zone":"batt-a","stage":"evacuate","incident":7,"racks":["R12","R13"],' +
        '"hosts":["k8s-node-31","k8s-node-32"],"reason":"offgas + cell temperature deviation","evidence":[],"issuedAt":"2026-11-25T03:12:09.400Z","ackBy":"2026-11-25T03:13:09.400Z"}',
    );
  });

  it("events are QoS 1, not retained, numbered, with instance and boot", () => {
    const m = eventMessage(t, pub, 42, { type: "alarm", alarm, previous: "normal", reason: "condition active: off-gas" }, NOW);
    expect(m).toMatchObject({ topic: "firebreak/v1/dc1/events", qos: 1, retain: false, kind: "event" });
    expect(json(m)).toMatchObject({ v: 1, ts: "2026-11-25T03:12:09.412Z", seq: 42, instance: "hall-a", boot: "2026-11-25T03:00:00.000Z", type: "alarm", id: "offgas-a", state: "unack", previous: "normal" });
    expect(json(eventMessage(t, pub, 1, stage, NOW))).toMatchObject({ seq: 1, type: "zone_stage", zone: "batt-a", stage: "evacuate", previous: "alarm" });
    expect(json(eventMessage(t, pub, 2, trigger, NOW))).toMatchObject({ seq: 2, type: "evacuate", id: "dc1:batt-a:0007", stage: "evacuate", incident: 7 });
  });

  it("a fault change updates the zone's retained stage without inventing a transition", () => {
    const fault: ZoneFaultChange = { type: "zone_fault", zone: "batt-a", stage: "evacuate", fault: true, since: T0 + 5000, faults: [{ rule: "cab2-comm", reason: "timeout" }] };
    const m = stateMessage(t, fault, NOW, stage)!;
    expect(m.topic).toBe("firebreak/v1/dc1/zone/batt-a/stage");
    expect(json(m)).toMatchObject({ stage: "evacuate", previous: "alarm", since: "2026-11-25T03:12:09.400Z", fault: true, faults: [{ rule: "cab2-comm", reason: "timeout" }] });
    expect(json(stateMessage(t, fault, NOW)!)).toMatchObject({ stage: "evacuate", previous: "evacuate", fault: true, since: "2026-11-25T03:12:14.400Z" });
    expect(json(eventMessage(t, pub, 3, fault, NOW))).toMatchObject({ type: "zone_fault", zone: "batt-a", fault: true });
  });

  it("point telemetry is QoS 0, not retained, and carries quality and reason", () => {
    const m = pointMessage(t, "cab2/s1/m3/c7/tempC", bad("sentinel", T0, "raw 0x7FFF"), NOW);
    expect(m).toMatchObject({ topic: "firebreak/v1/dc1/point/cab2/s1/m3/c7/tempC", qos: 0, retain: false, kind: "telemetry" });
    expect(json(m)).toEqual({ v: 1, ts: "2026-11-25T03:12:09.412Z", value: null, quality: "bad", reason: "sentinel", detail: "raw 0x7FFF", sourceTs: "2026-11-25T03:12:09.400Z" });
  });
});

const msg = (kind: OutMessage["kind"], topic: string, payload = topic): OutMessage => ({ topic, payload, qos: kind === "telemetry" ? 0 : 1, retain: kind === "state", kind });

describe("outbox", () => {
  it("drains in the order messages were queued", () => {
    const o = new Outbox(10);
    o.push(msg("event", "e", "1"));
    o.push(msg("state", "s"));
    o.push(msg("telemetry", "p"));
    o.push(msg("event", "e", "2"));
    expect(o.drain().map((m) => m.payload)).toEqual(["1", "s", "p", "2"]);
    expect(o.size).toBe(0);
  });

  it("when full, drops the oldest telemetry first, then the oldest events, and counts both", () => {
    const o = new Outbox(4);
    o.push(msg("event", "e", "e1"));
    o.push(msg("telemetry", "p", "p1"));
    o.push(msg("event", "e", "e2"));
    o.push(msg("telemetry", "p", "p2"));
    o.push(msg("event", "e", "e3")); // drops p1
    expect(o.droppedTelemetry).toBe(1);
    o.push(msg("event", "e", "e4")); // drops p2
    o.push(msg("event", "e", "e5")); // no telemetry left: drops e1
    expect(o).toMatchObject({ droppedTelemetry: 2, droppedEvents: 1, dropped: 3, size: 4 });
    expect(o.drain().map((m) => m.payload)).toEqual(["e2", "e3", "e4", "e5"]);
  });

  it("never drops retained state; a newer state message for a topic replaces the older", () => {
    const o = new Outbox(2);
    o.push(msg("state", "zone/a", "a1"));
    o.push(msg("state", "zone/b", "b1"));
    o.push(msg("event", "e", "e1")); // over the limit: the event goes, the states stay
    o.push(msg("state", "zone/a", "a2"));
    expect(o.droppedEvents).toBe(1);
    expect(o.drain().map((m) => m.payload)).toEqual(["b1", "a2"]);
  });

  it("telemetry arriving at a queue full of events is the one dropped", () => {
    const o = new Outbox(2);
    o.push(msg("event", "e", "e1"));
    o.push(msg("event", "e", "e2"));
    o.push(msg("telemetry", "p", "p1"));
    expect(o).toMatchObject({ droppedTelemetry: 1, droppedEvents: 0 });
    expect(o.drain().map((m) => m.payload)).toEqual(["e1", "e2"]);
  });
});

describe("point telemetry throttle", () => {
  function setup(minIntervalMs: number) {
    const clock = new FakeClock(T0);
    const sent: [string, PointValue][] = [];
    const th = new PointThrottle(clock, minIntervalMs, (k, v) => sent.push([k, v]));
    return { clock, sent, th };
  }

  it("sends on change only", () => {
    const { clock, sent, th } = setup(1000);
    th.offer("d/p", good(1, T0));
    clock.advance(2000);
    th.offer("d/p", good(1, T0 + 2000));
    expect(sent).toHaveLength(1);
    th.offer("d/p", bad("timeout", T0 + 2000));
    expect(sent.map(([, v]) => v.quality)).toEqual(["good", "bad"]);
  });

  it("holds changes inside the interval and sends the latest when it ends", () => {
    const { clock, sent, th } = setup(1000);
    th.offer("d/p", good(1, T0));
    clock.advance(100);
    th.offer("d/p", good(2, T0 + 100));
    th.offer("d/p", good(3, T0 + 100));
    expect(sent).toHaveLength(1);
    clock.advance(899);
    expect(sent).toHaveLength(1);
    clock.advance(1);
    expect(sent.map(([, v]) => v.value)).toEqual([1, 3]);
  });

  it("sends nothing at the interval's end when the value went back to what was sent", () => {
    const { clock, sent, th } = setup(1000);
    th.offer("d/p", good(1, T0));
    th.offer("d/p", good(2, T0));
    th.offer("d/p", good(1, T0));
    clock.advance(5000);
    expect(sent).toHaveLength(1);
  });

  it("limits each point on its own", () => {
    const { sent, th } = setup(1000);
    th.offer("d/a", good(1, T0));
    th.offer("d/b", good(1, T0));
    expect(sent.map(([k]) => k)).toEqual(["d/a", "d/b"]);
  });
});

describe("connection errors", () => {
  it.each([
    [{ message: "self-signed certificate in certificate chain", code: "SELF_SIGNED_CERT_IN_CHAIN" }, /not signed by the CA in mqtt.ca_file/],
    [{ message: "80DC:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../ssl.c:1601:", code: "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED" }, /^tlsv13 alert certificate required \(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\): the broker requires a client certificate/],
    [{ message: "connect ECONNREFUSED 127.0.0.1:1883", code: "ECONNREFUSED" }, /is the broker running\?/],
    [{ message: "Connection refused: Not authorized", code: 5 }, /check mqtt.username and password_file/],
  ])("says what to check for %j", (err, want) => {
    expect(explainConnectionError(err)).toMatch(want);
  });

  it("passes an unknown error through unchanged", () => {
    expect(explainConnectionError({ message: "something odd" })).toBe("something odd");
  });
});

describe("status names the daemon's zones", () => {
  it("in online and in the Last Will, when the publisher has them", () => {
    const withZones = { ...pub, zones: ["batt-a", "batt-b"] };
    expect(json(statusMessage(t, withZones, "online", NOW))).toMatchObject({ status: "online", zones: ["batt-a", "batt-b"] });
    expect(json(statusMessage(t, withZones, "offline", NOW))).toMatchObject({ status: "offline", zones: ["batt-a", "batt-b"] });
  });
});
