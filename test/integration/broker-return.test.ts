// The broker comes and goes; the daemon must keep up (issue 9): back within a few seconds of the
// broker with every event decided meanwhile, an `online` status that a broker restored from old
// persistence cannot serve past its expiry, and a fight over our client id that raises trouble and
// backs off. Real Mosquitto, the simulated room over Modbus TCP, the daemon as its own process.
import { copyFile } from "node:fs/promises";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { loadSiteConfig } from "../../src/config/load.js";
import { acceleratedClock } from "../../src/runtime/clock.js";
import { loadScenario, startSimulation, type Simulation } from "../../simulators/simulation.js";
import { startDaemon, type DaemonProcess } from "../support/daemon-process.js";
import { type Broker, startMosquitto } from "../support/mosquitto.js";
import { MqttRecorder, type Recorded } from "../support/mqtt-recorder.js";
import { writeSiteFile } from "../support/site-file.js";

const SPEED = 20;
const prefix = "firebreak/v1/dc1";
const CLIENT_ID = "firebreak-dc1-ups-room-1"; // config/example-site.yaml

interface Rig {
  broker: Broker;
  sim: Simulation;
  daemon?: DaemonProcess;
  recs: MqttRecorder[];
}
let rig: Rig | undefined;

afterEach(async () => {
  const r = rig;
  rig = undefined;
  if (r === undefined) return;
  await r.daemon?.stop();
  for (const rec of r.recs) await rec.stop();
  await r.sim.stop();
  await r.broker.destroy();
});

async function startRig(scenario: string, mqttKeys: Record<string, unknown> = {}, brokerConfig: readonly string[] = []): Promise<{ r: Rig; file: string; epoch: number }> {
  const broker = await startMosquitto({ extraConfig: brokerConfig });
  const site = await loadSiteConfig("config/example-site.yaml");
  const epoch = Date.now();
  const sim = await startSimulation({ site, clock: acceleratedClock(SPEED, epoch), scenario: await loadScenario(scenario), portOverride: () => 0 });
  rig = { broker, sim, recs: [] };
  const file = await writeSiteFile({ ports: sim.ports, mqttUrl: broker.url, staleAfterMs: 10_000, mqtt: mqttKeys });
  return { r: rig, file, epoch };
}

async function recorder(r: Rig, topics: string | readonly string[], opts: mqtt.IClientOptions = {}): Promise<MqttRecorder> {
  const rec = await MqttRecorder.start(r.broker.url, topics, opts);
  r.recs.push(rec);
  return rec;
}

/** Real time of the first daemon log line with this `msg` at or after `from` (pino's ISO `time`). */
function logTime(d: DaemonProcess, msg: string, from: number): number | undefined {
  for (const line of d.output().split("\n")) {
    if (!line.includes(`"msg":"${msg}"`)) continue;
    const t = Date.parse((JSON.parse(line) as { time: string }).time);
    if (t >= from) return t;
  }
  return undefined;
}

const mqttLines = (d: DaemonProcess): string =>
  d
    .output()
    .split("\n")
    .filter((l) => l.includes('"component":"mqtt"'))
    .join("\n");

async function waitUntil(cond: () => boolean, what: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

const seqs = (msgs: readonly Recorded[]) => msgs.filter((m) => m.topic === `${prefix}/events` && m.json !== undefined).map((m) => m.json!.seq as number);

describe("the broker goes away and comes back", () => {
  it("returns within 5 s of the broker listening again, and a persistent subscriber gets every event decided meanwhile, once", async () => {
    const { r, file, epoch } = await startRig("cell-runaway");
    // As a pager gateway would be: a persistent session that must miss nothing.
    const rec = await recorder(r, `${prefix}/#`, { clientId: `broker-return-${process.pid}`, clean: false });
    const d = startDaemon(file, { speed: SPEED, epoch });
    r.daemon = d;
    await rec.waitFor((m) => m.topic === `${prefix}/status` && m.json?.status === "online", 20_000, "the daemon online");

    // Events before the outage too, so the check spans before, during and after it.
    await rec.waitFor((m) => m.topic === `${prefix}/events`, 30_000, "a first event");
    const lastBeforeStop = Math.max(...seqs(rec.messages));
    await r.broker.stop();
    const downAt = Date.now();
    // The room goes on: the daemon decides the incident while nobody can hear it.
    await d.waitForOutput("evacuation trigger", 45_000);
    const outageMs = Math.max(20_000, Date.now() - downAt);
    await new Promise((res) => setTimeout(res, downAt + outageMs - Date.now())); // the outage's length is the test's input
    const seqBeforeReturn = seqs(rec.messages).length;
    const restartAt = Date.now();
    await r.broker.restart();
    // When the test saw the port accept (polled every 50 ms): the daemon's own probe may beat it, so
    // the return delay can come out slightly negative.
    const listeningAt = Date.now();

    await waitUntil(() => logTime(d, "mqtt connected", restartAt) !== undefined, () => `the daemon to reconnect; its mqtt lines:\n${mqttLines(d)}`, 10_000);
    const returnMs = logTime(d, "mqtt connected", restartAt)! - listeningAt;
    const trigger = await rec.waitFor((m) => m.at >= listeningAt && m.topic === `${prefix}/events` && m.json?.type === "evacuate", 10_000, "the evacuate event");
    // Let the rest of the incident play a little, then a clean stop flushes what is in flight.
    await new Promise((res) => setTimeout(res, 1500));
    await d.stop();
    r.daemon = undefined;
    await rec.waitFor((m) => m.topic === `${prefix}/status` && m.json?.status === "offline", 5000, "the offline status");

    const got = seqs(rec.messages);
    const max = Math.max(...got);
    // A copy the broker flags `dup` is its own redelivery to this subscriber (its acknowledgment was
    // lost in the shutdown): QoS 1 at work on the consumer's leg, which the consumer de-duplicates by
    // seq. A second copy without the flag would be the daemon publishing an event twice.
    const evs = rec.messages.filter((m) => m.topic === `${prefix}/events` && m.json !== undefined);
    const redelivered = evs.filter((m) => m.dup).map((m) => m.json!.seq as number);
    const firsts = evs.filter((m) => !m.dup).map((m) => m.json!.seq as number);
    const duplicates = firsts.filter((s, i) => firsts.indexOf(s) !== i);
    // QoS 1 is at least once on the daemon's leg too: a message the broker took but whose PUBACK its
    // shutdown cut off is sent again after the return, and the broker cannot tell. That may only
    // concern what was in flight when the broker went down, never what the daemon decided meanwhile.
    const decidedAt = new Map(evs.map((m) => [m.json!.seq as number, Date.parse(m.json!.ts as string)]));
    const clockAtStop = epoch + (downAt - epoch) * SPEED; // the daemon's timeline, on which `ts` is
    const inFlightAtStop = (s: number) => (decidedAt.get(s) ?? Infinity) <= clockAtStop;
    const missing = Array.from({ length: max }, (_, i) => i + 1).filter((s) => !got.includes(s));
    console.info(
      `broker return: outage ${(outageMs / 1000).toFixed(1)} s; daemon reconnected ${returnMs} ms after the broker listened; ` +
        `the evacuate event (decided during the outage) reached the subscriber ${trigger.at - listeningAt} ms after; ` +
        `seq 1..${max}: ${got.length} received (${got.length - seqBeforeReturn} after the return), missing [${missing.join(",")}], published twice [${duplicates.join(",")}] (last seq received before the stop: ${lastBeforeStop}), redelivered by the broker (dup flag) [${redelivered.join(",")}]`,
    );
    expect(returnMs).toBeLessThan(5000);
    expect(seqBeforeReturn).toBeGreaterThan(0);
    expect(got.length - seqBeforeReturn).toBeGreaterThan(0);
    expect(missing).toEqual([]);
    expect(duplicates.filter((s) => !inFlightAtStop(s))).toEqual([]);
    expect(firsts).toEqual([...firsts].sort((a, b) => a - b));
  }, 120_000);

  it("a broker restored from old persistence serves the daemon's online status no longer than its expiry (MQTT v5)", async () => {
    // Mosquitto saves its picture every second: a copy of that file is the "old persistence".
    const { r, file, epoch } = await startRig("normal", { heartbeat_s: 2 }, ["autosave_interval 1"]);
    const live = await recorder(r, `${prefix}/status`);
    const d = startDaemon(file, { speed: SPEED, epoch });
    r.daemon = d;
    await live.waitFor((m) => m.json?.status === "online", 20_000, "the daemon online");
    // A marker retained after our status: a late subscriber that sees it has seen the status too.
    const marker = await mqtt.connectAsync(r.broker.url, { reconnectPeriod: 0 });
    await marker.publishAsync("test/marker", "here", { qos: 1, retain: true });
    await marker.endAsync();
    await live.waitForCount((m) => m.json?.status === "online", 2, 10_000); // a heartbeat: proof it is re-published
    await new Promise((res) => setTimeout(res, 1200)); // one autosave after the heartbeat (a bound, not a wait for an event)
    const lastOnline = live.on(`${prefix}/status`).filter((m) => m.json?.status === "online").at(-1)!;
    expect(lastOnline.json).toMatchObject({ heartbeatS: 2 });
    const old = join(r.broker.dir, "old.db");
    await copyFile(join(r.broker.dir, "mosquitto.db"), old);

    await d.kill(); // SIGKILL: the broker publishes the Last Will, offline
    r.daemon = undefined;
    await live.waitFor((m) => m.json?.status === "offline", 10_000, "the Last Will");
    await r.broker.crash(); // and the broker dies too, before it saves the offline
    await copyFile(old, join(r.broker.dir, "mosquitto.db"));
    await r.broker.restart();

    const look = async (): Promise<Recorded | undefined> => {
      const late = await MqttRecorder.start(r.broker.url, `${prefix}/status`, { reconnectPeriod: 0 });
      try {
        await late.subscribe("test/marker");
        await late.waitFor((m) => m.topic === "test/marker", 5000, "the marker");
        return late.on(`${prefix}/status`)[0];
      } finally {
        await late.stop();
      }
    };
    // Right after the restart the old picture is there: this is the situation the expiry is for.
    // expiresAt is on the daemon's (accelerated) timeline, like ts: 3 heartbeats of real time after ts.
    expect(Date.parse(lastOnline.json!.expiresAt as string) - Date.parse(lastOnline.json!.ts as string)).toBe(3 * 2000 * SPEED);
    const expiresAt = lastOnline.at + 3 * 2000; // in real time, as the broker counts it
    const early = await look();
    const earlyAt = Date.now();
    // The newest saved status may be a heartbeat or two older than lastOnline; it expires no later.
    await new Promise((res) => setTimeout(res, Math.max(0, expiresAt + 1000 - Date.now())));
    const after = await look();
    console.info(`status expiry: right after the restart a late subscriber got ${early?.json?.status ?? "nothing"} (${expiresAt - earlyAt} ms before expiresAt); after expiresAt: ${after?.json?.status ?? "nothing"}`);
    if (expiresAt - earlyAt > 1000) expect(early?.json?.status).toBe("online");
    expect(after?.json?.status).not.toBe("online");
  }, 60_000);

  it("another client taking our session over again and again raises mqtt-session-takeover, once, and the daemon backs off", async () => {
    const { r, file, epoch } = await startRig("normal", { heartbeat_s: 300 }); // no heartbeat inside the test: every online is a return
    const rec = await recorder(r, [`${prefix}/status`, `${prefix}/alarm/+`]);
    const d = startDaemon(file, { speed: SPEED, epoch });
    r.daemon = d;
    const onlines = () => rec.on(`${prefix}/status`).filter((m) => m.json?.status === "online" && m.retain === false).length;
    await rec.waitFor((m) => m.topic === `${prefix}/status` && m.json?.status === "online", 20_000, "the daemon online");
    const gaps: number[] = [];
    for (let i = 0; i < 4; i++) {
      const before = onlines();
      const intruder = await mqtt.connectAsync(r.broker.url, { clientId: CLIENT_ID, protocolVersion: 5, clean: true, reconnectPeriod: 0 });
      const at = Date.now();
      await intruder.endAsync();
      await rec.waitForCount((m) => m.topic === `${prefix}/status` && m.json?.status === "online" && m.retain === false, before + 1, 20_000);
      gaps.push(rec.on(`${prefix}/status`).filter((m) => m.json?.status === "online" && m.retain === false).at(-1)!.at - at);
    }
    const alarm = await rec.waitFor((m) => m.topic === `${prefix}/alarm/mqtt-session-takeover` && m.json !== undefined, 20_000, "the takeover alarm").catch((err: unknown) => {
      throw new Error(`${String(err)}\ndaemon's mqtt lines:\n${mqttLines(d)}`);
    });
    console.info(`takeover: the daemon came back ${gaps.join(", ")} ms after each of 4 takeovers`);
    expect(alarm).toMatchObject({ json: { id: "mqtt-session-takeover", zone: "site", class: "trouble", state: "unack", active: true } });
    expect(gaps[3]).toBeGreaterThan(3000); // backing off, not flapping: 1, 2, 4, 8 s
    expect(gaps[0]).toBeLessThan(gaps[3]!);
    expect(d.output().match(/mqtt session taken over \d+ times/g)).toHaveLength(1);
  }, 90_000);
});
