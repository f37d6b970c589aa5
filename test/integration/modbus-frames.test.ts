// firebreak's Modbus TCP client against crafted servers on 127.0.0.1: every malformed response field
// is refused with a detail naming it and the connection reset; exceptions name their code; a late
// answer is dropped, not taken for the next request; and a device that accepts TCP and then sends
// garbage is retried with backoff and logged once, not stormed.
import net from "node:net";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { expandPoints } from "../../src/config/expand.js";
import { loadProfile, shippedProfilesDir } from "../../src/config/load.js";
import type { Device } from "../../src/config/types.js";
import { classifyFailure, ModbusConnection } from "../../src/drivers/modbus/connection.js";
import { ModbusPoller } from "../../src/drivers/modbus/poller.js";
import { pointKey } from "../../src/points/point.js";
import { PointStore } from "../../src/points/store.js";
import { systemClock } from "../../src/runtime/clock.js";

interface Req {
  readonly tid: number;
  readonly unit: number;
  readonly fc: number;
  readonly start: number;
  readonly count: number;
}

interface Crafted {
  readonly port: number;
  connections(): number;
  /** Resolves when the n-th connection (1-based) has been accepted; rejects after timeoutMs. */
  accepted(n: number, timeoutMs: number): Promise<void>;
  /** Resolves when the n-th connection (1-based) has been closed. */
  closed(n: number): Promise<void>;
  close(): Promise<void>;
}

/** A server that answers every Modbus request with what `reply` gives (nothing for undefined), or raw bytes on connect. */
function craftedServer(reply: (r: Req, socket: net.Socket) => Buffer | undefined, onConnect?: (socket: net.Socket) => void): Promise<Crafted> {
  const sockets = new Set<net.Socket>();
  const closes: Promise<void>[] = [];
  const waiters: (() => void)[] = [];
  const server = net.createServer((socket) => {
    sockets.add(socket);
    closes.push(new Promise((resolve) => socket.once("close", () => resolve())));
    for (const w of waiters.splice(0)) w();
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    onConnect?.(socket);
    let rx = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      rx = Buffer.concat([rx, chunk]);
      while (rx.length >= 12) {
        const r: Req = { tid: rx.readUInt16BE(0), unit: rx[6]!, fc: rx[7]!, start: rx.readUInt16BE(8), count: rx.readUInt16BE(10) };
        rx = rx.subarray(12);
        const out = reply(r, socket);
        if (out !== undefined && !socket.destroyed) socket.write(out);
      }
    });
  });
  const accepted = (n: number, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (closes.length >= n) return resolve();
        if (Date.now() > deadline) return reject(new Error(`connection ${n} not accepted within ${timeoutMs} ms (${closes.length} so far)`));
        waiters.push(check);
      };
      const timer = setTimeout(() => {
        const i = waiters.indexOf(check);
        if (i < 0) return;
        waiters.splice(i, 1);
        check();
      }, timeoutMs + 1);
      timer.unref();
      check();
    });
  };
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        port,
        connections: () => closes.length,
        accepted,
        async closed(n) {
          await accepted(n, 5000);
          await closes[n - 1];
        },
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** A valid answer to `r`: register i holds start + i (bits: alternate 1, 0). */
function valid(r: Req): Buffer {
  const bitsFc = r.fc === 1 || r.fc === 2;
  const data = bitsFc ? Math.ceil(r.count / 8) : 2 * r.count;
  const b = Buffer.alloc(9 + data);
  b.writeUInt16BE(r.tid, 0);
  b.writeUInt16BE(3 + data, 4);
  b[6] = r.unit;
  b[7] = r.fc;
  b[8] = data;
  if (bitsFc) b.fill(0x55, 9);
  else for (let i = 0; i < r.count; i++) b.writeUInt16BE((r.start + i) & 0xffff, 9 + 2 * i);
  return b;
}

const withEdit = (edit: (b: Buffer, r: Req) => Buffer | void) => (r: Req) => {
  const b = valid(r);
  return edit(b, r) ?? b;
};

const servers: Crafted[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(reply: (r: Req, socket: net.Socket) => Buffer | undefined, onConnect?: (socket: net.Socket) => void): Promise<Crafted> {
  const s = await craftedServer(reply, onConnect);
  servers.push(s);
  return s;
}

async function connect(port: number, timeoutMs = 500): Promise<ModbusConnection> {
  const conn = await ModbusConnection.open({ device: "dev1", host: "127.0.0.1", port, unitId: 1, timeoutMs });
  cleanups.push(() => conn.close());
  return conn;
}

describe("Modbus TCP responses are checked field by field", () => {
  it("a valid answer reads as its registers, on one connection request after request", async () => {
    const srv = await serve(valid);
    const conn = await connect(srv.port);
    expect(await conn.read("holding", 100, 3)).toEqual([100, 101, 102]);
    expect(await conn.read("input", 7, 1)).toEqual([7]);
    expect(await conn.read("coil", 0, 10)).toEqual([1, 0, 1, 0, 1, 0, 1, 0, 1, 0]);
    expect(conn.open).toBe(true);
    expect(srv.connections()).toBe(1);
  });

  it.each([
    ["transaction id", withEdit((b, r) => void b.writeUInt16BE((r.tid + 1) & 0xffff, 0)), /transaction id \d+, expected \d+/],
    ["protocol id", withEdit((b) => void b.writeUInt16BE(1, 2)), /protocol id 1, expected 0/],
    ["length (out of range)", withEdit((b) => void b.writeUInt16BE(300, 4)), /length field 300, outside 3\.\.254/],
    ["length (disagrees with the byte count)", withEdit((b) => void b.writeUInt16BE(24, 4)), /length field 24, expected 23/],
    ["unit id", withEdit((b) => void (b[6] = 2)), /unit id 2, expected 1/],
    ["function code", withEdit((b) => void (b[7] = 4)), /function code 4, expected 3 \(or 131 with an exception\)/],
    // An odd byte count with a length field and data that agree with it: only the quantity tells.
    ["byte count (odd 7)", withEdit((b) => (b.writeUInt16BE(10, 4), (b[8] = 7), b.subarray(0, 16))), /byte count 7, expected 20 for 10 registers/],
    ["byte count (2)", withEdit((b) => (b.writeUInt16BE(5, 4), (b[8] = 2), b.subarray(0, 11))), /byte count 2, expected 20 for 10 registers/],
  ] as const)("a wrong %s: comm_fail naming the field, connection reset", async (_field, reply, detail) => {
    const srv = await serve(reply);
    const conn = await connect(srv.port);
    const err = await conn.read("holding", 0, 10).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeDefined();
    const f = classifyFailure(err, 500);
    expect(f).toMatchObject({ reason: "comm_fail", malformed: true });
    expect(f.detail).toMatch(/^malformed response: /);
    expect(f.detail).toMatch(detail);
    expect(conn.open).toBe(false);
    await srv.closed(1); // the server sees the reset
    expect(conn.counters.malformed).toBe(1);
  });

  it("a wrong byte count for coils is refused too (ceil(bits / 8))", async () => {
    const srv = await serve(withEdit((b) => (b.writeUInt16BE(4, 4), (b[8] = 1), b.subarray(0, 10))));
    const conn = await connect(srv.port);
    const f = classifyFailure(await conn.read("coil", 0, 10).catch((e: unknown) => e), 500);
    expect(f.detail).toMatch(/byte count 1, expected 2 for 10 bits/);
  });

  it("an exception answer is device_exception naming the code, and the connection stays up", async () => {
    let n = 0;
    const srv = await serve((r) => (n++ === 0 ? Buffer.from([r.tid >> 8, r.tid & 0xff, 0, 0, 0, 3, r.unit, r.fc | 0x80, 2]) : valid(r)));
    const conn = await connect(srv.port);
    const f = classifyFailure(await conn.read("holding", 0, 10).catch((e: unknown) => e), 500);
    expect(f).toEqual({ reason: "device_exception", detail: "Modbus exception 2 (illegal data address)" });
    expect(await conn.read("holding", 5, 2)).toEqual([5, 6]);
    expect(conn.counters).toMatchObject({ exceptions: 1, malformed: 0 });
  });

  it("garbage while no request is in flight resets the connection and says so", async () => {
    let sock: net.Socket | undefined;
    const srv = await serve(valid, (s) => (sock = s));
    const conn = await connect(srv.port);
    expect(await conn.read("holding", 0, 1)).toEqual([0]);
    const lost = new Promise<string>((resolve) => conn.onLost(resolve));
    sock!.write(Buffer.from("HTTP/1.1 400 Bad Request\r\n\r\n"));
    expect(await lost).toMatch(/^malformed response: \d+ byte\(s\) with transaction id 18516 while no request is in flight/);
    expect(conn.open).toBe(false);
  });

  it("an answer that comes after its request timed out is dropped, never taken for the next request", async () => {
    let first = true;
    let lateSent: () => void = () => undefined;
    const late = new Promise<void>((resolve) => (lateSent = resolve));
    const srv = await serve((r, socket) => {
      if (!first) return valid(r);
      first = false;
      setTimeout(() => (socket.write(valid(r)), lateSent()), 300);
      return undefined;
    });
    const conn = await connect(srv.port, 100);
    const f = classifyFailure(await conn.read("holding", 1000, 2).catch((e: unknown) => e), 100);
    expect(f.reason).toBe("timeout");
    expect(await conn.read("holding", 0, 2)).toEqual([0, 1]);
    await late;
    expect(await conn.read("holding", 50, 2)).toEqual([50, 51]); // its answer follows the late one on the wire
    expect(conn.counters).toMatchObject({ timeouts: 1, lateAnswers: 1, malformed: 0 });
    expect(conn.open).toBe(true);
  });
});

describe("the poller over a device that sends malformed frames", () => {
  const logs: { msg: string; device?: string }[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line) as { msg: string; device?: string }) });

  async function roomDevice(id: string, port: number): Promise<{ device: Device; store: PointStore }> {
    const profile = await loadProfile(join(shippedProfilesDir(), "room-sensor.yaml"));
    const device: Device = { id, zone: "z", profile, modbus: { host: "127.0.0.1", port, unitId: 1 }, pollIntervalMs: 100, timeoutMs: 50, staleAfterMs: 300, points: expandPoints(profile, undefined) };
    const store = new PointStore();
    for (const p of device.points) store.declare({ key: pointKey(id, p.pointId), deviceId: id, pointId: p.pointId, unit: p.def.unit }, device.staleAfterMs);
    return { device, store };
  }

  function start(device: Device, store: PointStore): ModbusPoller {
    const poller = new ModbusPoller({ device, clock: systemClock, store, log });
    cleanups.push(() => poller.stop());
    poller.start();
    return poller;
  }

  it("a wrong byte count turns every point bad/comm_fail naming it, never good", async () => {
    // The room sensor's one request is 3 registers: 6 data bytes. This answer has 7, and says so consistently.
    const srv = await serve(withEdit((b) => (b.writeUInt16BE(3 + 7, 4), (b[8] = 7), Buffer.concat([b.subarray(0, 9), Buffer.alloc(7)]))));
    const { device, store } = await roomDevice("room-bc", srv.port);
    let good = 0;
    store.onChange((_k, v) => void (v.quality === "good" && good++));
    const poller = start(device, store);
    await srv.closed(1);
    const v = store.read(pointKey("room-bc", "tempC"), Date.now());
    expect(v).toMatchObject({ quality: "bad", reason: "comm_fail" });
    expect(v.detail).toMatch(/input 0\+3: malformed response: byte count 7, expected 6 for 3 registers/);
    expect(good).toBe(0);
    expect(poller.status()).toMatchObject({ state: "failing", connected: false });
    expect(poller.status().malformedResponses).toBeGreaterThanOrEqual(1);
  });

  it.each([
    ["sends garbage", (s: net.Socket): void => void s.on("data", () => s.write("HTTP/1.1 400 Bad Request\r\n\r\n"))],
    ["closes at once", (s: net.Socket): void => s.destroy() && undefined],
  ] as const)("a device that accepts TCP and %s is retried with backoff and logged once", async (what, onConnect) => {
    const srv = await serve(() => undefined, onConnect);
    const { device, store } = await roomDevice(`room-storm-${what.split(" ")[0]}`, srv.port);
    const from = logs.length;
    const t0 = Date.now();
    const poller = start(device, store);
    // Five attempts wait out 250 + 500 + 1000 + 2000 ms of backoff, at least 3000 ms with -20 %
    // jitter. Without backoff (reset on every connect, as fault injection found) they took ~1 s.
    await srv.accepted(5, 8000);
    const elapsed = Date.now() - t0;
    await poller.stop();
    const attempts = srv.connections();
    expect(elapsed).toBeGreaterThanOrEqual(2950);
    expect(attempts).toBe(5);
    const lines = logs.slice(from).filter((l) => l.device === device.id);
    expect(lines.map((l) => l.msg)).toEqual([expect.stringMatching(/not answering correctly/)]);
    const st = poller.status();
    expect(st.connectAttempts).toBe(attempts);
    expect(st.failedAttempts).toBeGreaterThanOrEqual(attempts - 1); // the last attempt may not have failed yet when stopped
    expect(st).toMatchObject({ state: "stopped", stateChanges: 1 }); // connecting -> failing, once
    if (what === "sends garbage") expect(st.malformedResponses).toBeGreaterThanOrEqual(attempts - 1);
    expect(store.read(pointKey(device.id, "tempC"), Date.now())).toMatchObject({ quality: "bad", reason: "comm_fail" });
  });
});
