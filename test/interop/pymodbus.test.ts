// firebreak against another Modbus implementation: pymodbus (Debian's python3-pymodbus) serves a
// register map written here by hand from the profiles' documented encodings (not by firebreak's
// simulators), and the daemon's poller and decoders, and the `firebreak modbus` commands, must
// read back exactly the values served. Over TCP, and RTU on a socat PTY pair.
import { join } from "node:path";
import ModbusSerial from "modbus-serial";
import type { ModbusRTU } from "modbus-serial/ModbusRTU.js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expandPoints } from "../../src/config/expand.js";
import { loadProfile, shippedProfilesDir } from "../../src/config/load.js";
import type { Profile } from "../../src/config/profile-schema.js";
import type { Device } from "../../src/config/types.js";
import { RegisterImage } from "../../src/drivers/modbus/decode.js";
import { planDevice } from "../../src/drivers/modbus/device-plan.js";
import { ModbusPoller, type PollResult } from "../../src/drivers/modbus/poller.js";
import { pointKey, type PointValue } from "../../src/points/point.js";
import { PointStore } from "../../src/points/store.js";
import { systemClock } from "../../src/runtime/clock.js";
import { spawnCli } from "../support/daemon-process.js";
import { LAYOUT, RACK_INPUT, RACK_WANT, SUNSPEC_BASE, cabinetHolding } from "./maps.js";
import { requireTools, startPymodbus, startPtyPair, type RegisterMap, type Started } from "./tools.js";

const ModbusClient = ModbusSerial as unknown as new () => ModbusRTU;

function device(id: string, profile: Profile, port: number, unitId: number): Device {
  const layout = profile.sunspec !== undefined ? LAYOUT : undefined;
  return { id, zone: "z", profile, modbus: { host: "127.0.0.1", port, unitId }, pollIntervalMs: 500, timeoutMs: 400, staleAfterMs: 5000, ...(layout ? { layout } : {}), points: expandPoints(profile, layout) };
}

function expectValues(got: (pointId: string) => PointValue, want: Record<string, number | "sentinel">): void {
  const diff: string[] = [];
  for (const [id, w] of Object.entries(want)) {
    const v = got(id);
    if (w === "sentinel" ? v.reason !== "sentinel" : v.quality !== "good" || Math.abs(v.value! - w) > 1e-9) diff.push(`${id}: want ${w}, got ${JSON.stringify(v)}`);
  }
  expect(diff).toEqual([]);
}

let rack: Profile;
let cabinet: Profile;
const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  while (stops.length > 0) await stops.pop()!();
});

beforeAll(async () => {
  requireTools();
  rack = await loadProfile(join(shippedProfilesDir(), "li-ion-rack-bms.yaml"));
  cabinet = await loadProfile(join(shippedProfilesDir(), "li-ion-cabinet.yaml"));
});

describe("pymodbus server over TCP", () => {
  let server: Started;
  let cab: { words: number[]; want: Record<string, number> };
  beforeAll(async () => {
    cab = cabinetHolding();
    const units = new Map<number, RegisterMap>([
      [1, { holding: { [SUNSPEC_BASE]: cab.words } }],
      [2, { input: { 0: RACK_INPUT }, holding: { 0: [0] } }],
    ]);
    server = await startPymodbus(units);
    stops.push(() => server.stop());
  });

  async function pollOnce(d: Device): Promise<PointStore> {
    const store = new PointStore({ historyCapacity: 10 });
    for (const p of d.points) store.declare({ key: pointKey(d.id, p.pointId), deviceId: d.id, pointId: p.pointId, unit: p.def.unit }, d.staleAfterMs);
    let first: (r: PollResult) => void = () => undefined;
    const polled = new Promise<PollResult>((r) => (first = r));
    const poller = new ModbusPoller({ device: d, clock: systemClock, store, log: pino({ level: "silent" }), onPoll: (r) => first(r) });
    poller.start();
    try {
      const r = await polled;
      expect(r.error).toBeUndefined();
      expect(r.failedRequests).toBe(0);
    } finally {
      await poller.stop();
    }
    return store;
  }

  it("the daemon's poller reads the vendor-style rack (low word first, divisors, packed signed bytes) as served", async () => {
    const d = device("rack", rack, Number(server.where), 2);
    const store = await pollOnce(d);
    expectValues((id) => store.read(pointKey(d.id, id), Date.now()), RACK_WANT);
  });

  it("the daemon's poller walks pymodbus's SunSpec chain and reads every point as served", async () => {
    const d = device("cab", cabinet, Number(server.where), 1);
    const store = await pollOnce(d);
    expectValues((id) => store.read(pointKey(d.id, id), Date.now()), cab.want);
    const notGood = d.points.filter((p) => store.read(pointKey(d.id, p.pointId), Date.now()).quality !== "good").map((p) => p.pointId);
    expect(notGood).toEqual([]);
  });

  it("firebreak modbus sunspec prints the layout of pymodbus's chain, and read decodes it", async () => {
    const run = async (args: string[]): Promise<{ code: number | null; out: string }> => {
      const child = spawnCli(["modbus", ...args, "--host", "127.0.0.1", "--port", server.where]);
      let out = "";
      child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
      child.stderr?.on("data", (b: Buffer) => (out += b.toString()));
      const code = await new Promise<number | null>((r) => child.once("exit", r));
      return { code, out };
    };
    const walk = await run(["sunspec", "--unit", "1"]);
    expect(walk.code).toBe(0);
    expect(walk.out).toContain("layout: { strings: 1, modules_per_string: 2, cells_per_module: 4 }");
    const read = await run(["read", "--unit", "1", "--profile", "li-ion-cabinet"]);
    expect(read.out).toMatch(/^s1\/m2\/c4\/tempC\s+-12\.6 degC\s+good$/m);
    expect(read.out).toMatch(/^soc\s+95\.5 %\s+good$/m);
    const scan = await run(["scan", "--units", "1-3", "--timeout", "300"]);
    expect(scan.out).toMatch(/^unit {3}1 {2}answers/m);
    expect(scan.out).toMatch(/^unit {3}2 {2}exception {2}Modbus exception 2/m);
    expect(scan.out).toMatch(/^unit {3}3 {2}(timeout|gateway|exception)/m);
  });
});

describe("pymodbus RTU server on a socat PTY", () => {
  it("answers modbus-serial's RTU client (the library for RTU), and firebreak's decoders read what it serves", async () => {
    const pty = await startPtyPair();
    stops.push(() => pty.stop());
    const server = await startPymodbus(new Map([[2, { input: { 0: RACK_INPUT }, holding: { 0: [0] } }]]), pty.a);
    stops.push(() => server.stop());
    const client = new ModbusClient();
    await client.connectRTUBuffered(pty.b, { baudRate: 19200, parity: "none", dataBits: 8, stopBits: 1 });
    stops.push(() => new Promise<void>((r) => (client.isOpen ? client.close(() => r()) : r())));
    client.setID(2);
    client.setTimeout(2000);
    const d = device("rack", rack, 0, 2);
    const plan = planDevice(d);
    const image = new RegisterImage();
    for (const req of plan.requests) {
      const res = req.table === "input" ? await client.readInputRegisters(req.start, req.count) : await client.readHoldingRegisters(req.start, req.count);
      image.add(req.table, req.start, res.data);
    }
    const values = new Map(plan.points.map((p) => [p.key, p.decoder.decode(image, Date.now())]));
    expectValues((id) => values.get(pointKey(d.id, id))!, RACK_WANT);
  });
});
