// Pipelined Modbus TCP (`max_in_flight`) and the read plan over real sockets on 127.0.0.1: the
// client with several requests on one connection against a server that answers them out of order
// and loses one; and the poller reading a whole SunSpec cabinet from the simulator, whose bank
// defines only the SunSpec map (any register outside it is exception 02), pipelined and not.
import { readFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { RegisterBank, startModbusTcpServer, type ModbusTcpServer } from "../../simulators/modbus-server.js";
import { expandPoints } from "../../src/config/expand.js";
import { loadProfile, shippedProfilesDir } from "../../src/config/load.js";
import type { Device, Layout } from "../../src/config/types.js";
import { ModbusConnection } from "../../src/drivers/modbus/connection.js";
import { ModbusPoller, type PollResult } from "../../src/drivers/modbus/poller.js";
import { writeSunspecImage } from "../../src/drivers/modbus/sunspec-image.js";
import { RequestTimeout } from "../../src/drivers/modbus/tcp-client.js";
import { pointKey } from "../../src/points/point.js";
import { PointStore } from "../../src/points/store.js";
import { systemClock } from "../../src/runtime/clock.js";

interface Req {
  readonly tid: number;
  readonly start: number;
  readonly count: number;
}

function answer(r: Req, unit = 1): Buffer {
  const out = Buffer.alloc(9 + 2 * r.count);
  out.writeUInt16BE(r.tid, 0);
  out.writeUInt16BE(3 + 2 * r.count, 4);
  out[6] = unit;
  out[7] = 3;
  out[8] = 2 * r.count;
  for (let i = 0; i < r.count; i++) out.writeUInt16BE((r.start + i) & 0xffff, 9 + 2 * i);
  return out;
}

/** Collects requests until `batch` have arrived, then answers them as `order` says (indices into the batch; missing ones are lost). */
function batchingServer(batch: number, order: readonly number[]): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => socket.destroy());
    let rx = Buffer.alloc(0);
    let got: Req[] = [];
    socket.on("data", (chunk: Buffer) => {
      rx = Buffer.concat([rx, chunk]);
      while (rx.length >= 12) {
        got.push({ tid: rx.readUInt16BE(0), start: rx.readUInt16BE(8), count: rx.readUInt16BE(10) });
        rx = rx.subarray(12);
      }
      if (got.length < batch) return;
      // One write per answer, in the order given: the client must match them by transaction id.
      for (const i of order) socket.write(answer(got[i]!));
      got = [];
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      }),
    ),
  );
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("pipelined Modbus TCP (max_in_flight)", () => {
  it("four requests on one connection, answered in reverse order: each gets its own registers", async () => {
    const server = await batchingServer(4, [3, 2, 1, 0]);
    cleanups.push(() => server.close());
    const conn = await ModbusConnection.open({ device: "d", host: "127.0.0.1", port: server.port, unitId: 1, timeoutMs: 5000, maxInFlight: 4 });
    cleanups.push(() => conn.close());
    // The server answers nothing before it holds all four: with one request in flight this would time out.
    const got = await Promise.all([100, 300, 500, 700].map((s) => conn.read("holding", s, 3)));
    expect(got).toEqual([[100, 101, 102], [300, 301, 302], [500, 501, 502], [700, 701, 702]]);
    expect(conn.counters).toMatchObject({ requests: 4, timeouts: 0, malformed: 0 });
  });

  it("requests sent in one turn of the event loop leave in one write system call, not one each", async () => {
    const server = await batchingServer(4, [0, 1, 2, 3]);
    cleanups.push(() => server.close());
    const conn = await ModbusConnection.open({ device: "d", host: "127.0.0.1", port: server.port, unitId: 1, timeoutMs: 5000, maxInFlight: 4 });
    cleanups.push(() => conn.close());
    // This process's write system calls (Linux /proc/self/io): the server cannot answer before the
    // next turn of the loop, so between the two readings only the client writes.
    const writes = (): number => Number(/^syscw: (\d+)$/m.exec(readFileSync("/proc/self/io", "utf8"))?.[1]);
    const before = writes();
    const pending = Promise.all([100, 300, 500, 700].map((s) => conn.read("holding", s, 3)));
    await new Promise<void>((r) => process.nextTick(r));
    const sent = writes() - before;
    expect((await pending).map((g) => g[0])).toEqual([100, 300, 500, 700]);
    expect(sent).toBeLessThanOrEqual(2); // 1, with room for a stray write of the test runner; one per request is 4
  });

  it("a lost answer times out only its own request; the others, answered out of order, succeed", async () => {
    const server = await batchingServer(3, [2, 0]); // the second request's answer is lost
    cleanups.push(() => server.close());
    const conn = await ModbusConnection.open({ device: "d", host: "127.0.0.1", port: server.port, unitId: 1, timeoutMs: 1500, maxInFlight: 3 });
    cleanups.push(() => conn.close());
    const results = await Promise.allSettled([10, 20, 30].map((s) => conn.read("holding", s, 2)));
    expect(results[0]).toEqual({ status: "fulfilled", value: [10, 11] });
    expect(results[2]).toEqual({ status: "fulfilled", value: [30, 31] });
    expect(results[1]!.status).toBe("rejected");
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(RequestTimeout);
    expect(conn.counters).toMatchObject({ requests: 3, timeouts: 1, malformed: 0 });
    expect(conn.open).toBe(true);
  });
});

describe("a whole SunSpec cabinet from the simulator, the bank defining the map only", () => {
  const layout: Layout = { strings: 4, modulesPerString: 14, cellsPerModule: 24 };

  for (const maxInFlight of [1, 4]) {
    it(`max_in_flight ${maxInFlight}: every planned request is answered (no exception 02), every point good`, async () => {
      const bank = new RegisterBank();
      const map = writeSunspecImage(bank.holding, 40000, layout);
      bank.define("holding", 40000, map.end + 2 - 40000); // marker to end model: nothing else exists
      for (const at of map.modules.values()) for (const off of [41, 42, 43]) bank.holding[at + off] = 0xffff; // scale factors -1
      const server: ModbusTcpServer = await startModbusTcpServer({ port: 0, units: new Map([[1, bank]]) });
      cleanups.push(() => server.close());
      const profile = await loadProfile(join(shippedProfilesDir(), "li-ion-cabinet.yaml"));
      const device: Device = {
        id: "cab",
        zone: "z",
        profile,
        modbus: { host: "127.0.0.1", port: server.port, unitId: 1, maxInFlight },
        pollIntervalMs: 1000,
        timeoutMs: 900,
        staleAfterMs: 3000,
        layout,
        points: expandPoints(profile, layout),
      };
      const store = new PointStore();
      for (const p of device.points) store.declare({ key: pointKey(device.id, p.pointId), deviceId: device.id, pointId: p.pointId, unit: p.def.unit }, device.staleAfterMs);
      const polls: PollResult[] = [];
      let polled: () => void = () => undefined;
      const twoPolls = new Promise<void>((resolve) => (polled = resolve));
      const poller = new ModbusPoller({
        device,
        clock: systemClock,
        store,
        log: pino({ level: "silent" }),
        onPoll: (r) => {
          polls.push(r);
          if (polls.length >= 2) polled();
        },
      });
      poller.start();
      cleanups.push(() => poller.stop());
      await Promise.race([twoPolls, new Promise((_, reject) => setTimeout(() => reject(new Error(`2 polls not done within 20 s (${polls.length})`)), 20_000))]);
      const s = poller.status();
      expect(polls.every((p) => p.error === undefined && p.failedRequests === 0)).toBe(true);
      expect(s.exceptionResponses).toBe(0);
      expect(s.requestsPerPoll).toBe(61);
      const cell = store.read(pointKey("cab", "s4/m14/c24/tempC"), Date.now());
      expect(cell.quality).toBe("good");
      expect(device.points.filter((p) => p.source !== "layout").every((p) => store.read(pointKey("cab", p.pointId), Date.now()).quality !== "bad" || store.read(pointKey("cab", p.pointId), Date.now()).reason === "sentinel")).toBe(true);
    }, 30_000);
  }
});
