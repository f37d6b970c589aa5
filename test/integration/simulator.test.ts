// The simulator over real sockets on 127.0.0.1: the Modbus TCP server against a modbus-serial
// client and raw frames, then the whole simulation (SunSpec map, silent device, stuck point).
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import ModbusSerial from "modbus-serial";
import type { ModbusRTU } from "modbus-serial/ModbusRTU.js";
import { RegisterBank, startModbusTcpServer, type ModbusTcpServer } from "../../simulators/modbus-server.js";

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

async function client(port: number, unitId = 1, timeoutMs = 1000): Promise<ModbusRTU> {
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
function raw(port: number, send: Buffer[], bytes: number, timeoutMs = 1000): Promise<{ data: Buffer; closed: boolean }> {
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

  it("answers exception 02 for a range past 65535 or more than 125 registers, 0x0B for an unknown unit", async () => {
    const srv = await serve(new Map([[1, new RegisterBank()]]));
    const c = await client(srv.port);
    await expect(c.readHoldingRegisters(65530, 10)).rejects.toSatisfy((e: unknown) => modbusCode(e) === 2);
    await expect(c.readHoldingRegisters(0, 126)).rejects.toSatisfy((e: unknown) => modbusCode(e) === 2);
    await expect(c.readCoils(0, 2001)).rejects.toSatisfy((e: unknown) => modbusCode(e) === 2);
    c.setID(9);
    await expect(c.readHoldingRegisters(0, 1)).rejects.toSatisfy((e: unknown) => modbusCode(e) === 0x0b);
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
    const c2 = await client(srv.port, 1, 1000);
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
