// An OPC UA device's values and alarms reach MQTT exactly as a Modbus device's do: one daemon,
// in-process, watches the same simulated clean-agent panel model twice (once over Modbus TCP,
// once over OPC UA with SignAndEncrypt and a password) and both publish the same messages.
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSiteConfig } from "../../src/config/load.js";
import type { SiteConfig } from "../../src/config/types.js";
import { Daemon } from "../../src/runtime/daemon.js";
import { systemClock } from "../../src/runtime/clock.js";
import { startOpcuaRoom, type OpcuaRoom } from "../../simulators/opcua/room.js";
import { startMosquitto, type Broker } from "../support/mosquitto.js";
import { MqttRecorder, type Recorded } from "../support/mqtt-recorder.js";
import { freePort } from "../support/ports.js";

const prefix = "firebreak/v1/dc9";
let dir: string;
let broker: Broker;
let room: OpcuaRoom;
let daemon: Daemon;
let rec: MqttRecorder;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fb-opcua-mqtt-"));
  broker = await startMosquitto();
  const port = await freePort();
  await writeFile(join(dir, "opcua.pw"), "correct horse\n");
  const rules = (zone: string, dev: string) => `
  - { id: prerelease-${zone}, kind: threshold, zone: ${zone}, points: [${dev}/preRelease], levels: [{ name: high, value: 0.5, stage: alarm }] }
  - { id: released-${zone}, kind: threshold, zone: ${zone}, points: [${dev}/released], levels: [{ name: high, value: 0.5, stage: evacuate }] }`;
  await writeFile(
    join(dir, "site.yaml"),
    `site: dc9
profiles_dir: ${resolve("config/profiles")}
rooms: [{ id: r1, zones: [{ id: zm, racks: [{ id: R1, hosts: [h1] }] }, { id: zo, racks: [{ id: R1, hosts: [h1] }] }] }]
devices:
  - { id: panel-m, profile: clean-agent-panel, zone: zm, modbus: { host: 127.0.0.1, port: 1502 }, poll_interval_ms: 200 }
  - { id: panel-o, profile: clean-agent-panel-opcua, zone: zo, opcua: { endpoint: "opc.tcp://127.0.0.1:${port}", publishing_interval_ms: 200, user: { type: username, username: firebreak, password_file: opcua.pw } } }
rules:${rules("zm", "panel-m")}${rules("zo", "panel-o")}
mqtt: { url: "${broker.url}", point_telemetry: { enabled: true, min_interval_ms: 0 } }
`,
  );
  const loaded = await loadSiteConfig(join(dir, "site.yaml"));
  room = await startOpcuaRoom({ site: loaded, clock: systemClock, port, pkiDir: join(dir, "sim-pki"), users: [{ username: "firebreak", password: "correct horse" }], refreshMs: 100 });
  const trusted = join(dir, "pki", "opcua", "trusted", "certs");
  await mkdir(trusted, { recursive: true });
  await copyFile(room.certificateFile, join(trusted, basename(room.certificateFile)));
  // The Modbus twin of the panel listens on an ephemeral port: point the daemon at it.
  const site: SiteConfig = { ...loaded, stateDir: join(dir, "state"), devices: loaded.devices.map((d) => ({ ...d, modbus: { ...d.modbus, port: room.sim.ports.get(d.id)! } })) };
  rec = await MqttRecorder.start(broker.url, `${prefix}/#`);
  daemon = new Daemon({ config: site, clock: systemClock, log: pino({ level: "silent" }), evaluateEveryMs: 100 });
  daemon.start();
  await rec.waitFor((m) => m.topic === `${prefix}/status` && m.json?.status === "online", 10_000, "status online");
}, 40_000);

afterAll(async () => {
  await daemon?.stop();
  await rec?.stop();
  await room?.stop();
  await broker?.destroy();
  await rm(dir, { recursive: true, force: true });
});

/** A message with what legitimately differs between the two devices (names, times, sequence) taken out. */
function normalised(m: Recorded): unknown {
  const text = JSON.stringify(m.json)
    .replaceAll(/panel-[mo]/g, "panel")
    .replaceAll(/\b(prerelease|released)-z[mo]\b/g, "$1")
    .replaceAll(/"z[mo]"/g, '"zone"')
    .replaceAll(/dc9:z[mo]:/g, "dc9:zone:");
  return JSON.parse(text, (k, v: unknown) => (["ts", "since", "sourceTs", "seq", "issuedAt", "ackBy", "sig"].includes(k) ? "<t>" : v));
}

describe("OPC UA and Modbus devices on MQTT", () => {
  it("point telemetry of the same panel state is the same message from both protocols", async () => {
    // The first good reading of each: a device still connecting may first publish a bad one.
    const latest = async (dev: string) => rec.waitFor((m) => m.topic === `${prefix}/point/${dev}/armed` && m.json?.quality === "good", 15_000, `good telemetry of ${dev}/armed`);
    const [m, o] = await Promise.all([latest("panel-m"), latest("panel-o")]);
    expect(m.json).toMatchObject({ value: 1, quality: "good" });
    expect(normalised(o)).toEqual(normalised(m));
    expect([o.retain, o.qos]).toEqual([m.retain, m.qos]);
  });

  it("a pre-release countdown raises the same alarm and zone stage from both protocols", async () => {
    room.sim.inject({ kind: "panel", device: "panel-m", state: "pre_release" });
    room.sim.inject({ kind: "panel", device: "panel-o", state: "pre_release" });
    const alarm = (zone: string) => rec.waitFor((m) => m.topic === `${prefix}/alarm/prerelease-${zone}` && m.json?.active === true, 10_000, `alarm prerelease-${zone}`);
    const stage = (zone: string) => rec.waitFor((m) => m.topic === `${prefix}/zone/${zone}/stage` && m.json?.stage === "alarm", 10_000, `zone ${zone} at alarm`);
    const [am, ao, sm, so] = await Promise.all([alarm("zm"), alarm("zo"), stage("zm"), stage("zo")]);
    expect(normalised(ao)).toEqual(normalised(am));
    expect([ao.retain, ao.qos]).toEqual([am.retain, am.qos]);
    expect(normalised(so)).toEqual(normalised(sm));
    expect(so.json).toMatchObject({ stage: "alarm" });
  });

  it("an agent release evacuates both zones with the same trigger", async () => {
    room.sim.inject({ kind: "panel", device: "panel-m", state: "released" });
    room.sim.inject({ kind: "panel", device: "panel-o", state: "released" });
    const trigger = (zone: string) => rec.waitFor((m) => m.topic === `${prefix}/evacuate/${zone}` && m.json !== undefined, 10_000, `evacuate ${zone}`);
    const [tm, to] = await Promise.all([trigger("zm"), trigger("zo")]);
    expect(normalised(to)).toEqual(normalised(tm));
    expect(to.json).toMatchObject({ hosts: ["h1"] });
  });
});
