// The simulator over real sockets on 127.0.0.1: the Modbus TCP server against a modbus-serial
// client and raw frames, then the whole simulation (SunSpec map, silent device, stuck point).
import net from "node:net";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import ModbusSerial from "modbus-serial";
import type { ModbusRTU } from "modbus-serial/ModbusRTU.js";
import { RegisterBank, startModbusTcpServer, type ModbusTcpServer } from "../../simulators/modbus-server.js";
import { loadScenario, startSimulation, type Scenario, type SimEvent, type SimState, type Simulation } from "../../simulators/simulation.js";
import { loadSiteConfig } from "../../src/config/load.js";
import type { SiteConfig } from "../../src/config/types.js";
import { FakeClock } from "../../src/runtime/clock.js";

// modbus-serial is CommonJS (`module.exports = ModbusRTU`); its typings declare an ES default export.
const ModbusClient = ModbusSerial as unknown as new () => ModbusRTU;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function serve(units: Map<number, RegisterBank>): Promise<ModbusTcpServer> {
  const srv = await startModbusTcpServer({ port: 0, units });
  cleanups.push(() => srv.close());
  return srv;
}

// Answers come from this process's own server; the bounds leave a loaded 2-core machine room. Tests
// that expect a timeout pass a short one explicitly.
async function client(port: number, unitId = 1, timeoutMs = 5000): Promise<ModbusRTU> {
  const c = new ModbusClient();
  await c.connectTCP("127.0.0.1", { port });
  c.setID(unitId);
  c.setTimeout(timeoutMs);
  cleanups.push(() => new Promise<void>((done) => (c.isOpen ? c.close(() => done()) : done())));
  return c;
}

function modbusCode(err: unknown): number | undefined {
  return typeof err === "object" && err !== null && "modbusCode" in err ? (err as { modbusCode: number }).modbusCode : undefined;
}

/** Send raw bytes, collect what comes back until `bytes` arrived or the socket closes (bounded). */
function raw(port: number, send: Buffer[], bytes: number, timeoutMs = 5000): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    const got: Buffer[] = [];
    let len = 0;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`got ${len} of ${bytes} bytes within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (closed: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve({ data: Buffer.concat(got), closed });
    };
    s.on("connect", () => {
      // Each buffer is written on its own tick so a split frame arrives in separate chunks.
      let i = 0;
      const next = (): void => {
        if (i < send.length) s.write(send[i++]!, () => setImmediate(next));
      };
      next();
    });
    s.on("data", (d: Buffer) => {
      got.push(d);
      len += d.length;
      if (len >= bytes) finish(false);
    });
    s.on("close", () => finish(true));
    s.on("error", () => undefined);
  });
}

function readHoldingFrame(tid: number, unit: number, addr: number, count: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(tid, 0);
  b.writeUInt16BE(0, 2);
  b.writeUInt16BE(6, 4);
  b[6] = unit;
  b[7] = 3;
  b.writeUInt16BE(addr, 8);
  b.writeUInt16BE(count, 10);
  return b;
}

describe("Modbus TCP server", () => {
  it("serves the four tables to a modbus-serial client", async () => {
    const bank = new RegisterBank();
    bank.holding.set([0x5375, 0x6e53], 40000);
    bank.input[7] = 1234;
    bank.coils[3] = 1;
    bank.discrete[0] = 1;
    bank.discrete[9] = 1;
    const srv = await serve(new Map([[1, bank]]));
    const c = await client(srv.port);
    expect((await c.readHoldingRegisters(40000, 2)).data).toEqual([0x5375, 0x6e53]);
    expect((await c.readInputRegisters(6, 3)).data).toEqual([0, 1234, 0]);
    expect((await c.readCoils(0, 5)).data.slice(0, 5)).toEqual([false, false, false, true, false]);
    expect((await c.readDiscreteInputs(0, 10)).data.slice(0, 10)).toEqual([true, false, false, false, false, false, false, false, false, true]);
  });

  it("writes holding registers with function codes 6 and 16", async () => {
    const bank = new RegisterBank();
    const srv = await serve(new Map([[1, bank]]));
    const c = await client(srv.port);
    await c.writeRegister(100, 0xbeef);
    await c.writeRegisters(200, [1, 2, 3]);
    expect(bank.holding[100]).toBe(0xbeef);
    expect(Array.from(bank.holding.subarray(200, 203))).toEqual([1, 2, 3]);
  });

  it("answers as the Application Protocol assigns: 03 for a quantity of 0 or past the limit, 02 past 65535, 0x0B for an unknown unit", async () => {
    const srv = await serve(new Map([[1, new RegisterBank()]]));
    const c = await client(srv.port);
    await expect(c.readHoldingRegisters(65530, 10)).rejects.toSatisfy((e: unknown) => modbusCode(e) === 2);
    await expect(c.readHoldingRegisters(0, 126)).rejects.toSatisfy((e: unknown) => modbusCode(e) === 3);
    await expect(c.readCoils(0, 2001)).rejects.toSatisfy((e: unknown) => modbusCode(e) === 3);
    const zero = await raw(srv.port, [readHoldingFrame(5, 1, 0, 0)], 9);
    expect(Array.from(zero.data)).toEqual([0, 5, 0, 0, 0, 3, 1, 0x83, 0x03]);
    c.setID(9);
    await expect(c.readHoldingRegisters(0, 1)).rejects.toSatisfy((e: unknown) => modbusCode(e) === 0x0b);
  });

  it("a device's bank answers 02 beyond its map instead of zeros, and refuses writes outside its writable registers", async () => {
    const bank = new RegisterBank();
    bank.define("holding", 100, 10);
    bank.holding[109] = 42;
    const srv = await serve(new Map([[1, bank]]));
    const c = await client(srv.port);
    expect((await c.readHoldingRegisters(108, 2)).data).toEqual([0, 42]);
    await expect(c.readHoldingRegisters(109, 2)).rejects.toSatisfy((e: unknown) => modbusCode(e) === 2);
    await expect(c.readHoldingRegisters(0, 1)).rejects.toSatisfy((e: unknown) => modbusCode(e) === 2);
    await expect(c.readInputRegisters(100, 1)).rejects.toSatisfy((e: unknown) => modbusCode(e) === 2);
    // No writable register at all: the device does not implement the write functions (01).
    await expect(c.writeRegister(100, 1)).rejects.toSatisfy((e: unknown) => modbusCode(e) === 1);
    await expect(c.writeRegisters(100, [1, 2])).rejects.toSatisfy((e: unknown) => modbusCode(e) === 1);
    await expect(c.writeCoil(0, true)).rejects.toSatisfy((e: unknown) => modbusCode(e) === 1);
    expect(bank.holding[100]).toBe(0);
    // One writable register: writes to it land, to its neighbours are 02.
    bank.allowWrite("holding", 105, 1);
    await c.writeRegister(105, 7);
    expect(bank.holding[105]).toBe(7);
    await expect(c.writeRegister(104, 1)).rejects.toSatisfy((e: unknown) => modbusCode(e) === 2);
    await expect(c.writeRegisters(105, [1, 2])).rejects.toSatisfy((e: unknown) => modbusCode(e) === 2);
    expect(bank.holding[106]).toBe(0);
  });

  it("a truncated PDU inside an honest MBAP length is answered with 03 and the connection stays open", async () => {
    const bank = new RegisterBank();
    bank.holding[0] = 7;
    const srv = await serve(new Map([[1, bank]]));
    const truncated = Buffer.from([0, 1, 0, 0, 0, 4, 1, 3, 0, 0]); // FC 3 with only the start address
    const fine = readHoldingFrame(2, 1, 0, 1);
    const { data, closed } = await raw(srv.port, [truncated, fine], 9 + 11);
    expect(closed).toBe(false);
    expect(Array.from(data.subarray(0, 9))).toEqual([0, 1, 0, 0, 0, 3, 1, 0x83, 0x03]);
    expect(data.readUInt16BE(9)).toBe(2);
    expect(data.readUInt16BE(9 + 9)).toBe(7);
  });

  it("a write hook sees accepted writes (where a simulated device acts on a command register)", async () => {
    const bank = new RegisterBank();
    bank.define("holding", 0, 4);
    bank.allowWrite("holding", 2, 2);
    const seen: string[] = [];
    const srv = await startModbusTcpServer({ port: 0, units: new Map([[1, bank]]), onWrite: (u, _b, t, a, n) => seen.push(`${u} ${t} ${a}+${n}`) });
    cleanups.push(() => srv.close());
    const c = await client(srv.port);
    await c.writeRegisters(2, [5, 6]);
    await expect(c.writeRegister(0, 1)).rejects.toSatisfy((e: unknown) => modbusCode(e) === 2);
    expect(seen).toEqual(["1 holding 2+2"]);
  });

  it("answers exception 01 for an unknown function code", async () => {
    const srv = await serve(new Map([[1, new RegisterBank()]]));
    const req = Buffer.from([0, 1, 0, 0, 0, 2, 1, 0x2b]);
    const { data } = await raw(srv.port, [req], 9);
    expect(Array.from(data)).toEqual([0, 1, 0, 0, 0, 3, 1, 0xab, 0x01]);
  });

  it("answers several requests in one chunk and a request split across chunks", async () => {
    const bank = new RegisterBank();
    bank.holding[5] = 55;
    bank.holding[6] = 66;
    const srv = await serve(new Map([[1, bank]]));
    const a = readHoldingFrame(1, 1, 5, 1);
    const b = readHoldingFrame(2, 1, 6, 1);
    const c = readHoldingFrame(3, 1, 5, 2);
    const { data } = await raw(srv.port, [Buffer.concat([a, b, c.subarray(0, 4)]), c.subarray(4, 9), c.subarray(9)], 11 + 11 + 13);
    expect(data.readUInt16BE(0)).toBe(1);
    expect(data.readUInt16BE(9)).toBe(55);
    expect(data.readUInt16BE(11)).toBe(2);
    expect(data.readUInt16BE(20)).toBe(66);
    expect(data.readUInt16BE(22)).toBe(3);
    expect([data.readUInt16BE(31), data.readUInt16BE(33)]).toEqual([55, 66]);
  });

  it("closes only the connection that sent a malformed frame", async () => {
    const bank = new RegisterBank();
    bank.holding[0] = 7;
    const srv = await serve(new Map([[1, bank]]));
    const good = await client(srv.port);
    const bad = Buffer.from([0, 1, 0, 9, 0, 6, 1, 3, 0, 0, 0, 1]); // protocol id 9
    const res = await raw(srv.port, [bad], 1);
    expect(res.closed).toBe(true);
    expect(res.data.length).toBe(0);
    expect((await good.readHoldingRegisters(0, 1)).data).toEqual([7]);
  });

  it("a silent server accepts the request and never answers, then answers again when told", async () => {
    const srv = await serve(new Map([[1, new RegisterBank()]]));
    const c = await client(srv.port, 1, 300);
    srv.setSilent(true);
    await expect(c.readHoldingRegisters(0, 1)).rejects.toThrow(/timed out/i);
    srv.setSilent(false);
    const c2 = await client(srv.port);
    expect((await c2.readHoldingRegisters(0, 1)).data).toEqual([0]);
  });

  it("close() ends open connections", async () => {
    const srv = await startModbusTcpServer({ port: 0, units: new Map([[1, new RegisterBank()]]) });
    const s = net.connect(srv.port, "127.0.0.1");
    await new Promise<void>((r) => s.once("connect", () => r()));
    const closed = new Promise<void>((r) => s.once("close", () => r()));
    s.on("error", () => undefined);
    await srv.close();
    await closed;
  });
});

describe("simulation of the example site", () => {
  let site: SiteConfig;
  beforeAll(async () => {
    site = await loadSiteConfig("config/example-site.yaml");
  });

  async function simulate(extra: { scenario?: Scenario; controlPort?: number } = {}): Promise<{ sim: Simulation; clock: FakeClock }> {
    const clock = new FakeClock();
    const sim = await startSimulation({ site, clock, portOverride: () => 0, ...extra });
    cleanups.push(() => sim.stop());
    return { sim, clock };
  }

  /** Walk the SunSpec chain from 40000 as a reader would: model id → start address. */
  async function sunspecModels(c: ModbusRTU): Promise<{ id: number; at: number; len: number }[]> {
    const marker = (await c.readHoldingRegisters(40000, 2)).data;
    expect(marker).toEqual([0x5375, 0x6e53]);
    const out: { id: number; at: number; len: number }[] = [];
    let at = 40002;
    for (;;) {
      const [id, len] = (await c.readHoldingRegisters(at, 2)).data as [number, number];
      if (id === 0xffff) break;
      out.push({ id, at, len });
      at += 2 + len;
    }
    return out;
  }

  async function cellTempC(c: ModbusRTU, s: number, m: number, cell: number): Promise<number> {
    const models = await sunspecModels(c);
    const m805 = models.filter((x) => x.id === 805)[(s - 1) * 4 + (m - 1)];
    const [strIdx, modIdx] = (await c.readHoldingRegisters(m805!.at + 2, 2)).data;
    expect([strIdx, modIdx]).toEqual([s, m]);
    const sf = ((await c.readHoldingRegisters(m805!.at + 43, 1)).data[0]! << 16) >> 16;
    const raw = ((await c.readHoldingRegisters(m805!.at + 44 + 4 * (cell - 1) + 1, 1)).data[0]! << 16) >> 16;
    return raw * 10 ** sf;
  }

  it("serves every device of the site, and a cabinet's SunSpec chain with a cell temperature", async () => {
    const { sim } = await simulate();
    expect([...sim.ports.keys()].sort()).toEqual(site.devices.map((d) => d.id).sort());
    const c = await client(sim.ports.get("cab2")!);
    const models = await sunspecModels(c);
    expect(models.map((m) => m.id)).toEqual([1, 802, 804, 804, ...Array<number>(8).fill(805)]);
    expect(models.map((m) => m.len)).toEqual([66, 62, 46 + 16 * 4, 46 + 16 * 4, ...Array<number>(8).fill(42 + 4 * 8)]);
    // Past the end marker the map ends: exception 02, not zeros.
    const end = models[models.length - 1]!;
    await expect(c.readHoldingRegisters(end.at + 2 + end.len + 2, 1)).rejects.toSatisfy((e: unknown) => modbusCode(e) === 2);
    // The cabinet takes writes to its command registers only (802 SetOp, 804 SetCon): the marker is 02.
    await expect(c.writeRegister(40000, 1)).rejects.toSatisfy((e: unknown) => modbusCode(e) === 2);
    expect(await cellTempC(c, 1, 3, 7)).toBeCloseTo(24, 0);
  });

  it("a heated cell warms on the registers as clock time passes, and vents with an event", async () => {
    const { sim, clock } = await simulate();
    const vents: SimEvent[] = [];
    sim.on("vent", (e) => vents.push(e));
    const start = clock.now();
    sim.inject({ kind: "heat", device: "cab2", string: 1, module: 3, cell: 7, watts: 300 });
    clock.advance(200_000);
    const c = await client(sim.ports.get("cab2")!);
    expect(await cellTempC(c, 1, 3, 7)).toBeGreaterThan(30);
    expect(await cellTempC(c, 2, 1, 1)).toBeCloseTo(24, 0);
    expect(vents).toHaveLength(1);
    expect(vents[0]!.cell).toEqual({ device: "cab2", string: 1, module: 3, cell: 7 });
    expect(vents[0]!.at - start).toBeGreaterThan(60_000);
    expect(vents[0]!.at - start).toBeLessThan(180_000);
    const gas = await client(sim.ports.get("offgas-a")!);
    expect((await gas.readInputRegisters(0, 1)).data[0]! / 10).toBeGreaterThan(10);
    const other = await client(sim.ports.get("offgas-b")!);
    // Clean air: zero plus the detector's noise, clipped at zero (at most 3 counts, 0.3 ppm).
    expect((await other.readInputRegisters(0, 1)).data[0]).toBeLessThanOrEqual(3);
  });

  it("a good sensor's reading flickers by about a count (sensor noise), reproducibly per seed", async () => {
    const read = async (noise?: { enabled?: boolean; seed?: number }): Promise<number[]> => {
      const clock = new FakeClock();
      const sim = await startSimulation({ site, clock, portOverride: () => 0, ...(noise !== undefined ? { noise } : {}) });
      cleanups.push(() => sim.stop());
      const c = await client(sim.ports.get("cab1")!);
      const out: number[] = [];
      for (let i = 0; i < 20; i++) {
        out.push(Math.round((await cellTempC(c, 1, 2, 4)) * 10));
        clock.advance(1000);
      }
      return out;
    };
    const a = await read();
    // A still room at 24 °C: the counts around 240 move (a good sensor is never exactly flat) but stay within 3 counts.
    expect(new Set(a).size).toBeGreaterThan(2);
    expect(a.every((x) => Math.abs(x - 240) <= 3)).toBe(true);
    expect(await read()).toEqual(a); // same seed, same clock: same readings
    expect(await read({ seed: 7 })).not.toEqual(a);
    expect(new Set(await read({ enabled: false }))).toEqual(new Set([240])); // no noise: the model's value
  });

  it("a silent device stops answering and answers again when released", async () => {
    const { sim } = await simulate();
    const c = await client(sim.ports.get("offgas-a")!, 1, 300);
    sim.inject({ kind: "silent", device: "offgas-a", on: true });
    await expect(c.readInputRegisters(0, 3)).rejects.toThrow(/timed out/i);
    sim.inject({ kind: "silent", device: "offgas-a", on: false });
    const c2 = await client(sim.ports.get("offgas-a")!);
    expect((await c2.readInputRegisters(0, 3)).data).toHaveLength(3);
  });

  it("a stuck point freezes at its last raw value while the cell keeps heating", async () => {
    const { sim, clock } = await simulate();
    const c = await client(sim.ports.get("cab2")!);
    const before = await cellTempC(c, 1, 3, 7);
    sim.inject({ kind: "stuck", device: "cab2", point: "s1/m3/c7/tempC", on: true });
    // Exactly its frozen raw value at every reading: no noise on a stuck sensor.
    for (let i = 0; i < 10; i++) {
      clock.advance(1000);
      expect(await cellTempC(c, 1, 3, 7)).toBe(before);
    }
    sim.inject({ kind: "heat", device: "cab2", string: 1, module: 3, cell: 7, watts: 300 });
    clock.advance(200_000);
    expect(await cellTempC(c, 1, 3, 7)).toBe(before);
    expect(sim.state().cells[0]!.surfaceC).toBeGreaterThan(30);
    sim.inject({ kind: "stuck", device: "cab2", point: "s1/m3/c7/tempC", on: false });
    clock.advance(250);
    expect(await cellTempC(c, 1, 3, 7)).toBeGreaterThan(30);
  });

  it("a sentinel fault writes the not-implemented value", async () => {
    const { sim, clock } = await simulate();
    sim.inject({ kind: "sentinel", device: "room-a", point: "tempC", on: true });
    sim.inject({ kind: "sentinel", device: "offgas-a", point: "ppm", on: true });
    clock.advance(1000);
    expect((await (await client(sim.ports.get("room-a")!)).readInputRegisters(0, 1)).data[0]).toBe(0x7fff); // the profile's first sentinel
    expect((await (await client(sim.ports.get("offgas-a")!)).readInputRegisters(0, 1)).data[0]).toBe(0xffff);
  });

  it("the panel counts down from pre_release and releases", async () => {
    const scenario = await loadScenario("panel-release");
    const { sim, clock } = await simulate({ scenario });
    const c = await client(sim.ports.get("panel-1")!);
    clock.advance(25_000);
    expect((await c.readDiscreteInputs(0, 9)).data.slice(0, 9)).toEqual([true, true, false, true, true, false, false, false, false]);
    expect((await c.readHoldingRegisters(0, 1)).data[0]).toBe(25);
    clock.advance(30_000);
    expect((await c.readDiscreteInputs(5, 1)).data[0]).toBe(true);
    expect((await c.readHoldingRegisters(0, 1)).data[0]).toBe(0);
  });

  it("play() runs a scenario's steps counted from the call, not from the start", async () => {
    const { sim, clock } = await simulate();
    const steps: SimEvent[] = [];
    sim.on("scenario-step", (e) => steps.push(e));
    clock.advance(30_000);
    const playedAt = clock.now();
    sim.play(await loadScenario("device-silent"));
    clock.advance(4_000);
    expect(steps).toEqual([]);
    clock.advance(2_000);
    expect(steps.map((s) => [s.message, s.at - playedAt >= 5_000])).toEqual([["offgas-a stops answering", true]]);
    expect(() => sim.play({ name: "x", description: "x", file: "x.yaml", steps: [{ atS: 1, command: { kind: "silent", device: "nope", on: true } }] })).toThrow(/x\.yaml: steps\[0\]: unknown device "nope"/);
  });

  it("plays a scenario's steps on the clock and reports them", async () => {
    const { sim, clock } = await simulate({ scenario: await loadScenario("device-silent") });
    const steps: SimEvent[] = [];
    sim.on("scenario-step", (e) => steps.push(e));
    clock.advance(4_000);
    expect(steps).toEqual([]);
    clock.advance(2_000);
    expect(steps.map((s) => s.message)).toEqual(["offgas-a stops answering"]);
    expect(sim.state().silent).toEqual(["offgas-a"]);
  });

  it("refuses an injection naming a device or cell the room does not have", async () => {
    const { sim } = await simulate();
    expect(() => sim.inject({ kind: "silent", device: "nope", on: true })).toThrow(/unknown device "nope"; devices: cab1/);
    expect(() => sim.inject({ kind: "heat", device: "cab2", string: 3, module: 1, cell: 1, watts: 1 })).toThrow(/no cell s3\/m1\/c1/);
    expect(() => sim.inject({ kind: "stuck", device: "cab1", point: "s1/m1/c99/tempC", on: true })).toThrow(/no point "s1\/m1\/c99\/tempC"/);
  });

  it("the HTTP control injects, reports state, and answers 400 naming what is wrong", async () => {
    const { sim, clock } = await simulate({ controlPort: 0 });
    const base = `http://127.0.0.1:${sim.controlPort!}`;
    const post = (body: string): Promise<Response> => fetch(`${base}/inject`, { method: "POST", body, headers: { "content-type": "application/json" } });
    const ok = await post(JSON.stringify({ kind: "heat", device: "cab2", string: 1, module: 3, cell: 7, watts: 300 }));
    expect(ok.status).toBe(200);
    clock.advance(60_000);
    const state = (await (await fetch(`${base}/state`)).json()) as SimState;
    expect(state.cells[0]!.cell).toBe("cab2/s1/m3/c7");
    expect(state.cells).toHaveLength(10);
    const badJson = await post("{kind:");
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { error: string }).error).toMatch(/not JSON/);
    const badDevice = await post(JSON.stringify({ kind: "silent", device: "cab9", on: true }));
    expect(badDevice.status).toBe(400);
    expect(((await badDevice.json()) as { error: string }).error).toMatch(/unknown device "cab9"/);
    const badKind = await post(JSON.stringify({ kind: "explode", device: "cab2" }));
    expect(((await badKind.json()) as { error: string }).error).toMatch(/kind: must be one of heat, silent/);
  });
});
