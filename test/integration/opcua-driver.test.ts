// The OPC UA driver against the OPC UA simulator over real sockets: every security mode, a wrong
// password, an untrusted server certificate, a server restart mid-scenario, a server down at start.
// Every wait is on an event (a store update, a log line) with a bound that leaves a loaded 2-core
// machine room: values of different monitored-item groups arrive in different publish responses, so
// a test waits for every point it reads, never for one and then reads another.
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { StatusCodes } from "node-opcua";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadSiteConfig } from "../../src/config/load.js";
import type { OpcuaClientConfig, OpcuaDevice, SiteConfig } from "../../src/config/types.js";
import { OpcuaSubscriber } from "../../src/drivers/opcua/subscriber.js";
import { pointKey, type PointValue } from "../../src/points/point.js";
import { PointStore } from "../../src/points/store.js";
import { systemClock } from "../../src/runtime/clock.js";
import { startOpcuaRoom, type OpcuaRoom } from "../../simulators/opcua/room.js";
import { LogSink } from "../support/log-sink.js";
import { freePort } from "../support/ports.js";

let dir: string;
let site: SiteConfig;
let room: OpcuaRoom;
let panel: OpcuaDevice;
let cab: OpcuaDevice;
const subscribers: OpcuaSubscriber[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fb-opcua-driver-"));
  const port = await freePort();
  await writeFile(join(dir, "opcua.pw"), "correct horse\n");
  await writeFile(
    join(dir, "site.yaml"),
    `site: dc1
profiles_dir: ${resolve("config/profiles")}
rooms: [{ id: r1, zones: [{ id: batt-a }] }]
devices:
  - { id: panel-1, profile: clean-agent-panel-opcua, zone: batt-a, opcua: { endpoint: "opc.tcp://127.0.0.1:${port}", publishing_interval_ms: 100, user: { type: username, username: firebreak, password_file: opcua.pw } } }
  - { id: cab1, profile: li-ion-bms-opcua, zone: batt-a, layout: { strings: 1, modules_per_string: 2, cells_per_module: 4 }, opcua: { endpoint: "opc.tcp://127.0.0.1:${port}", publishing_interval_ms: 100 } }
rules:
  - { id: prerelease, kind: threshold, zone: batt-a, points: [panel-1/preRelease], levels: [{ name: high, value: 0.5, stage: alarm }] }
`,
  );
  site = await loadSiteConfig(join(dir, "site.yaml"));
  panel = site.opcuaDevices!.find((d) => d.id === "panel-1")!;
  cab = site.opcuaDevices!.find((d) => d.id === "cab1")!;
  room = await startOpcuaRoom({ site, clock: systemClock, port, pkiDir: join(dir, "sim-pki"), users: [{ username: "firebreak", password: "correct horse" }], refreshMs: 100 });
  // The daemon's PKI trusts the simulator's certificate, as an operator's `opcua trust` would.
  const trusted = join(panel.opcua.pkiDir, "trusted", "certs");
  await mkdir(trusted, { recursive: true });
  await copyFile(room.certificateFile, join(trusted, basename(room.certificateFile)));
}, 30_000);

afterEach(async () => {
  await Promise.all(subscribers.splice(0).map((s) => s.stop()));
});

afterAll(async () => {
  await room?.stop();
  await rm(dir, { recursive: true, force: true });
});

function withSecurity(d: OpcuaDevice, change: Partial<OpcuaClientConfig>): OpcuaDevice {
  return { ...d, opcua: { ...d.opcua, ...change } };
}

function subscribe(device: OpcuaDevice, store = new PointStore()): { store: PointStore; sub: OpcuaSubscriber; logs: LogSink } {
  for (const p of device.points) store.declare({ key: pointKey(device.id, p.pointId), deviceId: device.id, pointId: p.pointId, unit: p.def.unit }, device.staleAfterMs);
  const logs = new LogSink();
  const sub = new OpcuaSubscriber({ device, clock: systemClock, store, log: logs.log });
  subscribers.push(sub);
  sub.start();
  return { store, sub, logs };
}

/**
 * The subscriber logs its connection once every monitored-item group is created; values of the
 * first group can arrive before that, so a test that reads status() waits for this line.
 */
const connectedLine = (logs: LogSink, timeoutMs = 15_000) => logs.waitFor((l) => l.msg === "opcua device connected", timeoutMs, "the subscriber to log its connection");

/** Resolve when pred holds for every key (checked on each store update); reject after timeoutMs naming the keys still waited for. */
async function waitForAll(store: PointStore, keys: readonly string[], pred: (v: PointValue) => boolean, timeoutMs: number, what: string): Promise<PointValue[]> {
  return Promise.all(keys.map((k) => waitFor(store, k, pred, timeoutMs, `${what} (${k})`)));
}

/** Resolve when pred holds for the point, checking on every store update; reject after timeoutMs. */
function waitFor(store: PointStore, key: string, pred: (v: PointValue) => boolean, timeoutMs: number, what: string): Promise<PointValue> {
  return new Promise((res, rej) => {
    const now = store.read(key, Date.now());
    if (pred(now)) return res(now);
    let done = false;
    const t = setTimeout(() => {
      done = true;
      rej(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${key} is ${JSON.stringify(store.read(key, Date.now()))}`));
    }, timeoutMs);
    store.onChange((k, v) => {
      if (done || k !== key || !pred(v)) return;
      done = true;
      clearTimeout(t);
      res(v);
    });
  });
}

describe("OPC UA driver against the simulator", () => {
  it.each([
    ["None", "None"],
    ["Sign", "Basic256Sha256"],
    ["SignAndEncrypt", "Basic256Sha256"],
    ["SignAndEncrypt", "Aes128_Sha256_RsaOaep"],
  ] as const)("reads the panel over security %s/%s with a username and password", async (securityMode, securityPolicy) => {
    const { store, sub, logs } = subscribe(withSecurity(panel, { securityMode, securityPolicy }));
    const [armed, released] = await waitForAll(store, ["panel-1/armed", "panel-1/released"], (v) => v.quality === "good", 15_000, "good");
    expect(armed!.value).toBe(1);
    expect(released!.value).toBe(0);
    await connectedLine(logs);
    expect(sub.status()).toMatchObject({ connected: true, monitoredItems: panel.points.length });
  });

  it("keeps the source timestamp and sees a panel state change without polling", async () => {
    const { store } = subscribe(panel);
    await waitFor(store, "panel-1/preAlarm", (v) => v.quality === "good" && v.value === 0, 15_000, "preAlarm 0");
    const before = Date.now();
    room.sim.inject({ kind: "panel", device: "panel-1", state: "pre_alarm" });
    const v = await waitFor(store, "panel-1/preAlarm", (x) => x.value === 1, 5_000, "preAlarm 1");
    // The simulator stamps values with its clock when the model changes them: after the inject.
    expect(v.sourceTs).toBeGreaterThanOrEqual(before - 50);
    room.sim.inject({ kind: "panel", device: "panel-1", state: "normal" });
    await waitFor(store, "panel-1/preAlarm", (x) => x.value === 0, 5_000, "preAlarm back to 0");
  });

  it("reads every cell of the BMS under the SunSpec point ids, anonymous over SignAndEncrypt", async () => {
    const { store } = subscribe(cab);
    // Temperatures, voltages and the state are monitored with different parameters (separate groups,
    // separate publish responses): wait for each, never read one after waiting for another.
    const [t, v, state] = await waitForAll(store, ["cab1/s1/m2/c4/tempC", "cab1/s1/m2/c4/voltV", "cab1/state"], (x) => x.quality === "good", 15_000, "good");
    expect(t!.value).toBeGreaterThan(10);
    expect(t!.value).toBeLessThan(40);
    expect(v!.value).toBeGreaterThan(2);
    expect(v!.value).toBeLessThan(4.5);
    expect(state!.value).toBe(3);
  });

  it("maps a Bad status from the server to bad quality with the status name as the detail", async () => {
    const { store } = subscribe(panel);
    await waitFor(store, "panel-1/countdownS", (v) => v.quality === "good", 15_000, "countdown good");
    room.server!.setStatus("s=Panel.CountdownS", StatusCodes.BadSensorFailure, Date.now());
    const v = await waitFor(store, "panel-1/countdownS", (x) => x.quality === "bad", 5_000, "countdown bad");
    expect(v).toMatchObject({ quality: "bad", reason: "device_exception" });
    expect(v.detail).toContain("BadSensorFailure");
    room.server!.setStatus("s=Panel.CountdownS", StatusCodes.Good, Date.now());
    await waitFor(store, "panel-1/countdownS", (x) => x.quality === "good", 5_000, "countdown good again");
  });

  it("a wrong password gives bad/config naming the user and the password file", async () => {
    const { store, sub } = subscribe(withSecurity(panel, { user: { type: "username", username: "firebreak", password: "wrong" } }));
    const v = await waitFor(store, "panel-1/armed", (x) => x.reason === "config", 15_000, "armed bad/config");
    expect(v.quality).toBe("bad");
    expect(v.detail).toMatch(/refused user "firebreak" \(check the password file\)/);
    expect(sub.status().connected).toBe(false); // it never connected: no later event can make this true
  });

  it("an untrusted server certificate gives bad/config with the trust command and the thumbprint", async () => {
    const pkiDir = join(dir, "fresh-pki");
    const { store } = subscribe(withSecurity(panel, { pkiDir }));
    const v = await waitFor(store, "panel-1/armed", (x) => x.quality === "bad" && x.reason === "config", 15_000, "armed bad/config");
    expect(v.detail).toContain("not trusted");
    expect(v.detail).toContain(`firebreak opcua trust --pki ${pkiDir}`);
    expect(v.detail).toMatch(/rejected certificate: [0-9a-f]{40}/);
  });

  it("a server that is down at start gives bad/comm_fail and the subscriber keeps trying without throwing", async () => {
    const port = await freePort();
    const { store, sub } = subscribe(withSecurity(panel, { endpoint: `opc.tcp://127.0.0.1:${port}`, securityMode: "None", securityPolicy: "None" }));
    const v = await waitFor(store, "panel-1/armed", (x) => x.reason === "comm_fail", 15_000, "armed bad/comm_fail");
    expect(v.quality).toBe("bad");
    expect(sub.status().connected).toBe(false);
  });

  it("a server restart turns points bad/comm_fail, then good again without restarting the driver", async () => {
    const { store } = subscribe(panel);
    await waitFor(store, "panel-1/armed", (v) => v.quality === "good", 15_000, "armed good");
    await room.stopServer();
    const down = await waitFor(store, "panel-1/armed", (v) => v.quality === "bad" && v.reason !== "stale", 15_000, "armed bad after the server stopped");
    expect(down.reason).toBe("comm_fail");
    room.sim.inject({ kind: "panel", device: "panel-1", state: "pre_alarm" });
    await room.startServer();
    await waitFor(store, "panel-1/armed", (v) => v.quality === "good", 30_000, "armed good after the restart");
    // A change made while the server was down is there after the restart, and changes flow again.
    await waitFor(store, "panel-1/preAlarm", (v) => v.quality === "good" && v.value === 1, 10_000, "preAlarm 1 after restart");
    room.sim.inject({ kind: "panel", device: "panel-1", state: "normal" });
    await waitFor(store, "panel-1/preAlarm", (v) => v.value === 0, 10_000, "preAlarm 0 after restart");
  }, 90_000); // the sum of the bounds above (80 s), so a slow step fails with its own message
});
