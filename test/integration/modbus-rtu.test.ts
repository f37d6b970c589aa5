// Modbus RTU against the simulator's RTU transport: eight units on one serial line (a real socat
// PTY pair, the simulator's answers paced by the wire time at the line's baud rate), and units
// behind an RTU-over-TCP gateway. One request on the wire at a time, a dead unit costing its
// neighbours no more than its own timeout, and a missing serial port reported with its path.
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expandPoints } from "../../src/config/expand.js";
import { loadProfile, shippedProfilesDir } from "../../src/config/load.js";
import type { Device, ModbusTransport, SerialLine } from "../../src/config/types.js";
import type { Driver, PollResult } from "../../src/drivers/driver.js";
import { DriverFactory } from "../../src/drivers/factory.js";
import type { ModbusDriver } from "../../src/drivers/modbus/driver.js";
import { pointKey, type PointValue } from "../../src/points/point.js";
import { PointStore } from "../../src/points/store.js";
import { systemClock } from "../../src/runtime/clock.js";
import { RegisterBank } from "../../simulators/modbus-server.js";
import { startRtuGatewayServer, startRtuSerialServer, type RtuGatewayServer, type RtuServer } from "../../simulators/rtu-server.js";
import { startPtyPair, type PtyPair } from "../support/socat.js";

// A timeout long enough that a loaded CI machine (2 cores shared with other work) does not miss a
// live unit's answer: the test is about what a dead unit costs its neighbours, not about a tight bound.
const POLL_MS = 500;
const TIMEOUT_MS = 300;
const UNITS = [1, 2, 3, 4, 5, 6, 7, 8];

function bank(unit: number): RegisterBank {
  const b = new RegisterBank();
  b.input[0] = 200 + unit; // 20.x degC: each unit tells itself apart
  b.input[1] = 455;
  return b;
}

async function devices(prefix: string, units: readonly number[], modbus: (unit: number) => ModbusTransport): Promise<Device[]> {
  const profile = await loadProfile(join(shippedProfilesDir(), "room-sensor.yaml"));
  return units.map((u) => ({ protocol: "modbus", id: `${prefix}${u}`, zone: "z", profile, modbus: modbus(u), pollIntervalMs: POLL_MS, timeoutMs: TIMEOUT_MS, staleAfterMs: 3 * POLL_MS, points: expandPoints(profile, undefined) }));
}

interface Rig {
  readonly store: PointStore;
  readonly drivers: Driver[];
  readonly factory: DriverFactory;
  readonly polls: PollResult[];
}

function rig(devs: readonly Device[]): Rig {
  const store = new PointStore();
  for (const d of devs) for (const p of d.points) store.declare({ key: pointKey(d.id, p.pointId), deviceId: d.id, pointId: p.pointId, unit: p.def.unit }, d.staleAfterMs);
  const polls: PollResult[] = [];
  const factory = new DriverFactory({ clock: systemClock, store, log: pino({ level: "silent" }), onPoll: (r) => void polls.push(r) });
  const drivers = factory.createAll(devs);
  for (const d of drivers) d.start();
  return { store, drivers, factory, polls };
}

function until(store: PointStore, what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => ((done = true), reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))), timeoutMs);
    store.onChange(() => {
      if (done || !check()) return;
      done = true;
      clearTimeout(timer);
      resolve();
    });
  });
}

const read = (store: PointStore, device: string, point: string): PointValue => store.read(pointKey(device, point), Date.now());

describe("Modbus RTU: eight units on one serial line", () => {
  let pty: PtyPair;
  let server: RtuServer;
  let r: Rig;
  let devs: Device[];
  const line = (path: string): SerialLine => ({ id: "rs485-a", path, baud: 115200, parity: "even", dataBits: 8, stopBits: 1, timeoutMs: TIMEOUT_MS });

  beforeAll(async () => {
    pty = await startPtyPair();
    const format = { baud: 115200, dataBits: 8, parity: "even", stopBits: 1 } as const;
    server = await startRtuSerialServer(pty.b, format, { units: new Map(UNITS.map((u) => [u, bank(u)])), wire: format });
    devs = await devices("room-", UNITS, (u) => ({ transport: "rtu", line: line(pty.a), unitId: u }));
    r = rig(devs);
  }, 20_000);

  afterAll(async () => {
    await Promise.all(r?.drivers.map((d) => d.stop()) ?? []);
    await r?.factory.close();
    await server?.close();
    await pty?.destroy();
  });

  it("reads every unit good, each its own registers, never two requests on the wire at once", async () => {
    const allGood = (): boolean => devs.every((d) => d.points.every((p) => read(r.store, d.id, p.pointId).quality === "good"));
    await until(r.store, "every unit's points good", allGood, 10_000);
    for (const u of UNITS) expect(read(r.store, `room-${u}`, "tempC").value).toBeCloseTo(20 + u / 10, 5);
    // Let a few rounds of all eight go by, then check the bus.
    const seen = server.requests();
    await until(r.store, "40 more answers", () => server.requests() >= seen + 40, 10_000);
    expect(server.overlaps()).toBe(0);
    expect(r.drivers.every((d) => d.status().transport === "rtu" && d.status().state === "ok")).toBe(true);
  });

  it("a dead unit goes bad/timeout and costs its neighbours no more than its own timeout", async () => {
    server.setSilent(4, true);
    await until(r.store, "unit 4 bad/timeout", () => read(r.store, "room-4", "tempC").reason === "timeout", 5_000);
    const from = r.polls.length;
    const neighbourBad: string[] = [];
    r.store.onChange((key, v) => {
      if (!key.startsWith("room-4/") && v.quality === "bad") neighbourBad.push(`${key}: ${v.reason} ${v.detail ?? ""}`);
    });
    // Eight polls of every neighbour while unit 4 times out on every one of its polls.
    await until(r.store, "8 polls of each neighbour", () => UNITS.filter((u) => u !== 4).every((u) => r.polls.slice(from).filter((p) => p.device === `room-${u}`).length >= 8), 30_000);
    const neighbours = r.polls.slice(from).filter((p) => p.device !== "room-4");
    expect(neighbourBad).toEqual([]);
    expect(neighbours.every((p) => p.error === undefined)).toBe(true);
    // One request of a neighbour waits at most behind one timed-out request, plus the wire time and
    // gaps of a few frames; behind two it would take 2 x TIMEOUT_MS or more. The margin is the
    // scheduling slack of a loaded 2-core machine.
    const longest = Math.max(...neighbours.map((p) => p.durationMs));
    expect(longest, `longest neighbour poll ${longest} ms`).toBeLessThan(2 * TIMEOUT_MS);
    server.setSilent(4, false);
    await until(r.store, "unit 4 good again", () => read(r.store, "room-4", "tempC").quality === "good", 40_000);
  }, 60_000);
});

describe("Modbus RTU through a TCP gateway", () => {
  let gw: RtuGatewayServer;
  let r: Rig;
  let devs: Device[];

  beforeAll(async () => {
    gw = await startRtuGatewayServer(0, { units: new Map([1, 2, 3].map((u) => [u, bank(u)])) });
    devs = await devices("gw-", [1, 2, 3], (u) => ({ transport: "rtu_over_tcp", host: "127.0.0.1", port: gw.port, unitId: u }));
    r = rig(devs);
  });

  afterAll(async () => {
    await Promise.all(r?.drivers.map((d) => d.stop()) ?? []);
    await r?.factory.close();
    await gw?.close();
  });

  it("reads three units over one shared connection", async () => {
    await until(r.store, "every gateway unit good", () => devs.every((d) => read(r.store, d.id, "tempC").quality === "good"), 10_000);
    for (const u of [1, 2, 3]) expect(read(r.store, `gw-${u}`, "tempC").value).toBeCloseTo(20 + u / 10, 5);
    expect(gw.connections()).toBe(1);
    expect(r.drivers.map((d) => d.status().transport)).toEqual(["rtu_over_tcp", "rtu_over_tcp", "rtu_over_tcp"]);
  });
});

describe("Modbus RTU: a unit that answers after its timeout", () => {
  it("its late answers are dropped and counted, never taken for its neighbour's", async () => {
    const gw = await startRtuGatewayServer(0, { units: new Map([1, 2].map((u) => [u, bank(u)])) });
    const devs = await devices("late-", [1, 2], (u) => ({ transport: "rtu_over_tcp", host: "127.0.0.1", port: gw.port, unitId: u }));
    const r = rig(devs);
    try {
      await until(r.store, "both units good", () => devs.every((d) => read(r.store, d.id, "tempC").quality === "good"), 10_000);
      const neighbourBad: string[] = [];
      r.store.onChange((key, v) => void (key.startsWith("late-1/") && v.quality === "bad" && neighbourBad.push(`${key}: ${v.reason} ${v.detail ?? ""}`)));
      gw.setDelay(2, TIMEOUT_MS + 60); // arrives while unit 1's next request waits
      await until(r.store, "unit 2 bad/timeout", () => read(r.store, "late-2", "tempC").reason === "timeout", 5_000);
      const slow = (r.drivers[1] as ModbusDriver).poller;
      await until(r.store, "a late answer counted", () => slow.status().lateAnswers > 0, 5_000);
      const from = r.polls.length;
      await until(r.store, "5 more polls of unit 1", () => r.polls.slice(from).filter((p) => p.device === "late-1").length >= 5, 10_000);
      expect(neighbourBad).toEqual([]);
      expect((r.drivers[0] as ModbusDriver).poller.status().malformedResponses).toBe(0);
      expect(slow.status().malformedResponses).toBe(0);
    } finally {
      await Promise.all(r.drivers.map((d) => d.stop()));
      await r.factory.close();
      await gw.close();
    }
  }, 30_000);
});

describe("Modbus RTU on a serial port that is not there", () => {
  it("every point bad/comm_fail naming the port, retried with backoff", async () => {
    const path = "/dev/firebreak-no-such-tty";
    const devs = await devices("ghost-", [1], (u) => ({ transport: "rtu", line: { id: "ghost", path, baud: 9600, parity: "even", dataBits: 8, stopBits: 1, timeoutMs: 100 }, unitId: u }));
    const r = rig(devs);
    try {
      await until(r.store, "bad/comm_fail", () => read(r.store, "ghost-1", "tempC").reason === "comm_fail", 5_000);
      expect(read(r.store, "ghost-1", "tempC").detail).toContain(path);
      expect(r.drivers[0]!.status()).toMatchObject({ connected: false, state: "failing" });
    } finally {
      await r.drivers[0]!.stop();
      await r.factory.close();
    }
  });
});
