// The MQTT output against a real Mosquitto: retained picture, numbered events, broker loss and
// return, Last Will, queue overflow, TLS with client certificates. Every wait is bounded.
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { MqttConfig } from "../../src/config/types.js";
import type { AlarmState, EvacuationTrigger, ZoneStageChange } from "../../src/events.js";
import { MqttOutput, type RetainedState } from "../../src/outputs/mqtt/publisher.js";
import { good } from "../../src/points/point.js";
import { systemClock } from "../../src/runtime/clock.js";
import { type Broker, startMosquitto } from "../support/mosquitto.js";
import { MqttRecorder } from "../support/mqtt-recorder.js";
import { freePort } from "../support/ports.js";

let n = 0;
const site = () => `it${process.pid}x${++n}`;

function stage(zone: string, s: ZoneStageChange["stage"], previous: ZoneStageChange["stage"], since = Date.now()): ZoneStageChange {
  return { type: "zone_stage", zone, stage: s, previous, skipped: [], since, fault: false, faults: [], evidence: [{ rule: "offgas-a", point: "offgas-1/ppm", value: 40, quality: "good" }] };
}
const alarm = (id: string, state: AlarmState["state"]): AlarmState => ({
  id, rule: id, zone: "batt-a", class: "condition", priority: "critical", state, active: state === "unack" || state === "ack",
  stage: "alarm", latched: true, since: Date.now(), message: "off-gas above baseline", evidence: [],
});
const trigger = (s: string): EvacuationTrigger => ({
  type: "evacuate", id: `${s}:batt-a:0001`, zone: "batt-a", incident: 1, racks: ["R12"], hosts: ["k8s-node-31"],
  reason: "offgas + cell temperature deviation", evidence: [], issuedAt: Date.now(), ackBy: Date.now() + 60_000,
});

interface Harness {
  out: MqttOutput;
  logs: string[];
  retained: { current: RetainedState };
}
const outputs: MqttOutput[] = [];

function output(url: string, s: string, cfg: Partial<MqttConfig> = {}): Harness {
  const logs: string[] = [];
  const retained = { current: { zones: [], alarms: [], triggers: [] } as RetainedState };
  const config: MqttConfig = {
    url, clientId: `firebreak-${s}`, cleanSession: false, keepaliveS: 5, queueLimit: 1000,
    reconnectMinMs: 50, reconnectMaxMs: 400, pointTelemetry: { enabled: false, minIntervalMs: 0 }, ...cfg,
  };
  const out = new MqttOutput({
    config, site: s, instance: "hall-a", version: "0.1.0-test", clock: systemClock,
    log: pino({ level: "debug" }, { write: (line: string) => void logs.push(line) }),
    retained: () => retained.current,
  });
  outputs.push(out);
  return { out, logs, retained };
}

/**
 * Bounded poll for a condition on stats or logs (the output offers no event for these); the bound
 * leaves a loaded 2-core machine room. Connection changes have an event: see `connected`.
 */
async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolve on the output's connect event (or at once if connected); reject after timeoutMs. */
function connected(o: MqttOutput, timeoutMs = 10_000): Promise<void> {
  if (o.stats().connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for the output to connect; last error: ${o.stats().lastError ?? "none"}`));
    }, timeoutMs);
    const off = o.onConnectedChange((c) => {
      if (!c) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

describe("MQTT output on a real Mosquitto", () => {
  let broker: Broker;
  const recorders: MqttRecorder[] = [];
  const rec = async (s: string, topics = `firebreak/v1/${s}/#`, opts = {}) => {
    const r = await MqttRecorder.start(broker.url, topics, opts);
    recorders.push(r);
    return r;
  };

  beforeAll(async () => {
    broker = await startMosquitto({ extraConfig: ["queue_qos0_messages true"] });
  });
  afterEach(async () => {
    await Promise.all(outputs.splice(0).map((o) => o.stop()));
    await Promise.all(recorders.splice(0).map((r) => r.stop()));
  });
  afterAll(async () => {
    await broker.destroy();
  });

  it("announces online as retained status on connect, and offline on stop", async () => {
    const s = site();
    const { out } = output(broker.url, s);
    out.start();
    await connected(out);
    const late = await rec(s, `firebreak/v1/${s}/status`);
    const m = await late.waitFor((x) => x.topic.endsWith("/status"));
    expect(m).toMatchObject({ retain: true, qos: 1, json: { v: 1, status: "online", instance: "hall-a", version: "0.1.0-test" } });
    await out.stop();
    const after = await rec(s, `firebreak/v1/${s}/status`);
    expect((await after.waitFor((x) => x.topic.endsWith("/status"))).json).toMatchObject({ status: "offline" });
  });

  it("numbers events consecutively on QoS 1, not retained", async () => {
    const s = site();
    const live = await rec(s, `firebreak/v1/${s}/events`);
    const { out } = output(broker.url, s);
    out.start();
    await connected(out);
    out.publish(stage("batt-a", "watch", "normal"));
    out.publish(stage("batt-a", "pre_alarm", "watch"));
    out.publish({ type: "alarm", alarm: alarm("offgas-a", "unack"), previous: "normal", reason: "condition active: test" });
    const evs = await live.waitForCount((m) => m.topic.endsWith("/events"), 3);
    expect(evs.map((e) => e.json?.seq)).toEqual([1, 2, 3]);
    expect(evs.map((e) => e.json?.type)).toEqual(["zone_stage", "zone_stage", "alarm"]);
    for (const e of evs) expect(e).toMatchObject({ qos: 1, retain: false });
  });

  it("keeps zone stage, alarm and evacuation trigger retained at QoS 1 for a late subscriber", async () => {
    const s = site();
    const { out } = output(broker.url, s);
    out.start();
    await connected(out);
    out.publish(stage("batt-a", "evacuate", "alarm"));
    out.publish({ type: "alarm", alarm: alarm("offgas-a", "unack"), previous: "normal", reason: "condition active: test" });
    out.publish(trigger(s));
    await until(() => out.stats().published >= 7 && out.stats().inFlight === 0, "the broker to acknowledge");
    const late = await rec(s);
    const want = [`zone/batt-a/stage`, `alarm/offgas-a`, `evacuate/batt-a`].map((t) => `firebreak/v1/${s}/${t}`);
    for (const topic of want) {
      const m = await late.waitFor((x) => x.topic === topic, 5000, topic);
      expect(m).toMatchObject({ retain: true, qos: 1 });
    }
    expect(late.on(want[0]!)[0]?.json).toMatchObject({ zone: "batt-a", stage: "evacuate", previous: "alarm" });
    expect(late.on(want[2]!)[0]?.json).toMatchObject({ id: `${s}:batt-a:0001`, stage: "evacuate", hosts: ["k8s-node-31"] });
    expect(late.on(`firebreak/v1/${s}/events`)).toEqual([]);
  });

  it("removes an alarm's retained message once it is normal and acknowledged", async () => {
    const s = site();
    const live = await rec(s, `firebreak/v1/${s}/alarm/+`);
    const { out } = output(broker.url, s);
    out.start();
    await connected(out);
    out.publish({ type: "alarm", alarm: alarm("offgas-a", "unack"), previous: "normal", reason: "condition active: test" });
    out.publish({ type: "alarm", alarm: alarm("offgas-a", "normal"), previous: "ack", reason: "condition cleared" });
    const cleared = await live.waitFor((m) => m.topic.endsWith("/alarm/offgas-a") && m.payload === "");
    expect(cleared.qos).toBe(1);
    await until(() => out.stats().inFlight === 0, "acknowledgments");
    // Retained messages come in SUBSCRIBE order on one connection: once status is in, the alarm would have been.
    const late = await rec(s, `firebreak/v1/${s}/alarm/offgas-a`);
    await late.subscribe(`firebreak/v1/${s}/status`);
    await late.waitFor((m) => m.topic.endsWith("/status"));
    expect(late.on(`firebreak/v1/${s}/alarm/offgas-a`)).toEqual([]);
  });

  it("queues what happens while the broker is away and delivers it in order, then republishes the retained picture", async () => {
    const s = site();
    const live = await rec(s, `firebreak/v1/${s}/#`, { clientId: `rec-${s}`, clean: false });
    const h = output(broker.url, s);
    h.out.start();
    await connected(h.out);
    await live.waitFor((m) => m.topic.endsWith("/status") && m.json?.status === "online");
    const changes: boolean[] = [];
    h.out.onConnectedChange((c) => changes.push(c));

    await broker.stop();
    await until(() => !h.out.stats().connected, "the output to notice the broker left");
    const seq: ZoneStageChange["stage"][] = ["watch", "pre_alarm", "alarm", "evacuate", "alarm"];
    seq.forEach((st, i) => h.out.publish(stage("batt-a", st, i === 0 ? "normal" : seq[i - 1]!)));
    expect(h.out.stats()).toMatchObject({ connected: false, queued: 6, dropped: 0 }); // 5 events + the zone's latest stage
    h.retained.current = { zones: [stage("batt-a", "alarm", "evacuate")], alarms: [alarm("offgas-a", "unack")], triggers: [trigger(s)] };
    live.clear();

    await broker.restart();
    const evs = await live.waitForCount((m) => m.topic.endsWith("/events"), 5, 15_000);
    expect(evs.map((e) => e.json?.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(evs.map((e) => e.json?.stage)).toEqual(seq);
    await live.waitFor((m) => m.topic.endsWith("/status") && m.json?.status === "online");
    await live.waitFor((m) => m.topic.endsWith("/alarm/offgas-a"));
    await live.waitFor((m) => m.topic.endsWith("/evacuate/batt-a"));
    await until(() => h.out.stats().queued === 0 && h.out.stats().inFlight === 0, "the queue to drain");
    expect(h.out.stats()).toMatchObject({ connected: true, reconnects: 1, dropped: 0 });
    expect(changes).toEqual([false, true]);
    const last = live.on(`firebreak/v1/${s}/zone/batt-a/stage`).at(-1);
    expect(last?.json).toMatchObject({ stage: "alarm", previous: "evacuate" });
    expect(h.logs.some((l) => l.includes('"mqtt disconnected"'))).toBe(true);
    expect(h.logs.filter((l) => l.includes('"mqtt reconnecting, with backoff"'))).toHaveLength(1);
  }, 30_000);

  it("when the queue overflows, drops the oldest telemetry first and counts it", async () => {
    const s = site();
    const live = await rec(s, `firebreak/v1/${s}/#`, { clientId: `rec-${s}`, clean: false });
    await broker.stop();
    const { out } = output(broker.url, s, { queueLimit: 10, pointTelemetry: { enabled: true, minIntervalMs: 0 } });
    out.start();
    for (let v = 0; v < 10; v++) out.publishPoint("cab2/s1/m3/c7/tempC", good(25 + v, Date.now()));
    out.publish(stage("batt-a", "watch", "normal"));
    out.publish(stage("batt-a", "pre_alarm", "watch"));
    out.publish(stage("batt-a", "alarm", "pre_alarm")); // 3 events + 1 stage: the 4 oldest readings go
    expect(out.stats()).toMatchObject({ queued: 10, dropped: 4, droppedTelemetry: 4, droppedEvents: 0 });
    await broker.restart();
    await live.waitForCount((m) => m.topic.endsWith("/events"), 3, 15_000);
    const temps = await live.waitForCount((m) => m.topic.includes("/point/"), 6);
    expect(temps.map((m) => m.json?.value)).toEqual([29, 30, 31, 32, 33, 34]);
    expect(temps[0]).toMatchObject({ topic: `firebreak/v1/${s}/point/cab2/s1/m3/c7/tempC`, qos: 0, retain: false });
  }, 30_000);

  it("a client that dies without disconnecting leaves its Last Will: retained offline status", async () => {
    const s = site();
    // A TCP relay in front of the broker: cutting it is, to the broker, exactly a crashed client.
    const relayPort = await freePort();
    const sockets = new Set<Socket>();
    const relay: Server = createServer((c) => {
      const b = tcpConnect(broker.port, "127.0.0.1");
      sockets.add(c).add(b);
      c.pipe(b).pipe(c);
      c.on("error", () => b.destroy());
      b.on("error", () => c.destroy());
    });
    await new Promise<void>((r) => relay.listen(relayPort, "127.0.0.1", r));
    try {
      const live = await rec(s, `firebreak/v1/${s}/status`);
      const { out } = output(`mqtt://127.0.0.1:${relayPort}`, s);
      out.start();
      await connected(out);
      await live.waitFor((m) => m.json?.status === "online");
      relay.close();
      for (const sock of sockets) sock.destroy();
      const will = await live.waitFor((m) => m.json?.status === "offline", 10_000, "the Last Will");
      expect(will.json).toMatchObject({ v: 1, instance: "hall-a", version: "0.1.0-test" });
      const late = await rec(s, `firebreak/v1/${s}/status`);
      expect(await late.waitFor(() => true)).toMatchObject({ retain: true, json: { status: "offline" } });
    } finally {
      relay.close();
      for (const sock of sockets) sock.destroy();
    }
  }, 20_000);
});

describe("MQTT output over TLS with client certificates", () => {
  let dir: string;
  let broker: Broker;
  const pem = (f: string) => readFile(join(dir, f), "utf8");
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });

  function issue(name: string, cn: string, ca: string): void {
    ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
    ssl("x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-out", `${name}.crt`, "-days", "1", "-extfile", "san.ext");
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "firebreak-tls-"));
    await writeFile(join(dir, "san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    for (const ca of ["ca", "other-ca"]) {
      ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${ca}.key`, "-out", `${ca}.crt`, "-days", "1", "-subj", `/CN=firebreak test ${ca}`);
    }
    issue("server", "localhost", "ca");
    issue("client", "firebreak-test", "ca");
    broker = await startMosquitto({ tls: { cafile: join(dir, "ca.crt"), certfile: join(dir, "server.crt"), keyfile: join(dir, "server.key") } });
  }, 30_000);
  afterEach(async () => {
    await Promise.all(outputs.splice(0).map((o) => o.stop()));
  });
  afterAll(async () => {
    await broker?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it("connects with mqtts://, the CA and a client certificate, and delivers", async () => {
    const s = site();
    const tls = { ca: await pem("ca.crt"), cert: await pem("client.crt"), key: await pem("client.key") };
    const r = await MqttRecorder.start(broker.url, `firebreak/v1/${s}/#`, tls);
    try {
      const { out } = output(broker.url, s, tls);
      out.start();
      await connected(out);
      out.publish(stage("batt-a", "watch", "normal"));
      expect((await r.waitFor((m) => m.topic.endsWith("/events"))).json).toMatchObject({ seq: 1, stage: "watch" });
      expect((await r.waitFor((m) => m.topic.endsWith("/status"))).json).toMatchObject({ status: "online" });
    } finally {
      await r.stop();
    }
  });

  it("a wrong CA is a clear connection error in stats and logs, not a crash", async () => {
    const s = site();
    const { out, logs } = output(broker.url, s, { ca: await pem("other-ca.crt"), cert: await pem("client.crt"), key: await pem("client.key") });
    out.start();
    await until(() => out.stats().lastError !== undefined, "a connection error");
    expect(out.stats().connected).toBe(false);
    expect(out.stats().lastError).toMatch(/SELF_SIGNED_CERT_IN_CHAIN.*not signed by the CA in mqtt.ca_file/);
    expect(logs.some((l) => l.includes("mqtt connection error") && /certificate/i.test(l))).toBe(true);
    out.publish(stage("batt-a", "watch", "normal"));
    expect(out.stats().queued).toBe(2);
  });

  it("a client without a certificate is refused, and keeps retrying quietly", async () => {
    const s = site();
    const { out, logs } = output(broker.url, s, { ca: await pem("ca.crt") });
    out.start();
    await until(() => out.stats().lastError !== undefined, "a connection error");
    expect(out.stats().lastError).toMatch(/requires a client certificate/);
    await until(() => out.stats().connectFailures >= 3, "three failed attempts");
    expect(out.stats().connected).toBe(false);
    expect(logs.filter((l) => l.includes("mqtt connection error"))).toHaveLength(1); // logged once, not per attempt
  });
});
