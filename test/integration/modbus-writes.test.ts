// Protective-action writes over real TCP against the simulated SunSpec cabinet: the poller resolves
// the SunSpec address it discovered and writes through its own connection (FC 6), the cabinet opens
// the string's contactor and the next poll reads it; a write to a register the cabinet does not own
// is refused with exception 02; FC 5 and FC 16 round-trip through the client's frame checks.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { RegisterBank, startModbusTcpServer, type ModbusTcpServer } from "../../simulators/modbus-server.js";
import { startSimulation, type Simulation } from "../../simulators/simulation.js";
import { loadSiteConfig } from "../../src/config/load.js";
import type { Device, SiteConfig } from "../../src/config/types.js";
import { ModbusPoller } from "../../src/drivers/modbus/poller.js";
import { ModbusTcpClient } from "../../src/drivers/modbus/tcp-client.js";
import { ActionWriteError, ModbusExceptionError } from "../../src/errors.js";
import { PointStore } from "../../src/points/store.js";
import { systemClock } from "../../src/runtime/clock.js";

let site: SiteConfig;
let sim: Simulation;
let server: ModbusTcpServer | undefined;
const pollers: ModbusPoller[] = [];

beforeAll(async () => {
  site = await loadSiteConfig("config/example-site.yaml");
  sim = await startSimulation({ site, clock: systemClock, portOverride: () => 0, noise: { enabled: false } });
});
afterAll(async () => {
  for (const p of pollers) await p.stop();
  await server?.close();
  await sim?.stop();
});

function poller(id: string): { poller: ModbusPoller; store: PointStore; polled: () => Promise<void> } {
  const base = site.devices.find((d) => d.id === id)!;
  const device: Device = { ...base, modbus: { host: "127.0.0.1", port: sim.ports.get(id)!, unitId: 1 }, pollIntervalMs: 200, timeoutMs: 1000, staleAfterMs: 5000 };
  const store = new PointStore();
  for (const p of device.points) store.declare({ key: `${id}/${p.pointId}`, deviceId: id, pointId: p.pointId, unit: p.def.unit, zone: device.zone }, device.staleAfterMs);
  const waiters: (() => void)[] = [];
  const poller = new ModbusPoller({ device, clock: systemClock, store, log: pino({ level: "silent" }), onPoll: () => waiters.splice(0).forEach((w) => w()) });
  pollers.push(poller);
  return { poller, store, polled: () => new Promise<void>((resolve, reject) => { const t = setTimeout(() => reject(new Error(`no poll of ${id} within 10 s`)), 10_000); waiters.push(() => { clearTimeout(t); resolve(); }); }) };
}

describe("Modbus writes of protective actions", () => {
  it("the poller writes SetCon at the address it discovered; the cabinet opens the string and the next poll shows it", async () => {
    const { poller: p, store, polled } = poller("cab1");
    await expect(p.write("s1/setCon", 2)).rejects.toThrow(/not connected/); // before the first connect
    p.start();
    await polled();
    const read = (k: string) => store.read(`cab1/${k}`, Date.now()).value;
    expect([read("s1/contactorClosed"), read("s1/currentA")]).toEqual([1, 0.4]);
    await p.write("s1/setCon", 2);
    expect(sim.writes().filter((w) => w.device === "cab1")).toEqual([expect.objectContaining({ table: "holding", values: [2], effect: "opened the contactor of string 1" })]);
    await polled();
    await polled(); // a poll that started after the write
    expect([read("s1/contactorClosed"), read("s1/contactor0Closed"), read("s1/currentA"), read("s1/setCon")]).toEqual([0, 0, 0, 2]);
    expect([read("s2/contactorClosed"), read("s2/currentA")]).toEqual([1, 0.4]);
    // Not a writable point of the profile: refused before anything goes on the wire.
    await expect(p.write("s1/contactorClosed", 0)).rejects.toThrow(ActionWriteError);
    expect(sim.writes().filter((w) => w.device === "cab1")).toHaveLength(1);
  });

  it("a register the cabinet does not own is refused with exception 02, named in the write's error", async () => {
    const client = await ModbusTcpClient.connect({ host: "127.0.0.1", port: sim.ports.get("cab2")!, unitId: 1, timeoutMs: 1000, device: "cab2" });
    try {
      const err = await client.write({ fc: 6, address: 40000, values: [1] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModbusExceptionError);
      expect((err as ModbusExceptionError).message).toContain("Modbus exception 2 (illegal data address)");
      expect(client.open).toBe(true); // an exception is an answer: the connection stays
    } finally {
      await client.close();
    }
  });

  it("FC 5 and FC 16 round-trip: the bank holds what was written", async () => {
    const bank = new RegisterBank();
    server = await startModbusTcpServer({ port: 0, units: new Map([[1, bank]]) });
    const client = await ModbusTcpClient.connect({ host: "127.0.0.1", port: server.port, unitId: 1, timeoutMs: 1000, device: "open-bank" });
    try {
      await client.write({ fc: 5, address: 7, values: [1] });
      await client.write({ fc: 16, address: 100, values: [0x0001, 0x86a0, 0xffff] });
      await client.write({ fc: 6, address: 200, values: [0xfffe] });
      expect([bank.coils[7], ...bank.holding.subarray(100, 103), bank.holding[200]]).toEqual([1, 0x0001, 0x86a0, 0xffff, 0xfffe]);
      expect(await client.read(1, 7, 1)).toEqual([1]);
    } finally {
      await client.close();
    }
  });
});
