// The history output against a real InfluxDB 1.x (Debian's influxd on free loopback ports, temp
// data dir): rows written while InfluxDB is away wait in the disk buffer and arrive when it is
// back; rows buffered when the daemon stops arrive after its next start; a full buffer drops the
// oldest point values first and counts them; rows reach the disk in slices, never inside a poll.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InfluxConfig } from "../../src/config/types.js";
import type { PointInfo, PointValue } from "../../src/points/point.js";
import { systemClock } from "../../src/runtime/clock.js";
import { InfluxHistory } from "../../src/outputs/influx/history.js";
import { startInfluxd, type Influxd } from "../support/influxd.js";
import { freePort } from "../support/ports.js";

let influx: Influxd;
let dir: string;

beforeAll(async () => {
  influx = await startInfluxd();
  dir = await mkdtemp(join(tmpdir(), "fb-history-"));
}, 30_000);

afterAll(async () => {
  await influx?.destroy();
  await rm(dir, { recursive: true, force: true });
});

const info = (key: string): PointInfo => {
  const [deviceId, ...rest] = key.split("/");
  return { key, deviceId: deviceId!, pointId: rest.join("/"), unit: "ppm", zone: "batt-a" };
};

function history(db: string, stateDir: string, over: Partial<InfluxConfig> = {}): InfluxHistory {
  const config: InfluxConfig = { url: influx.url, database: db, createDatabase: true, batchSize: 500, flushIntervalMs: 100, bufferLimit: 100_000, pointHeartbeatMs: 0, timeoutMs: 2000, retryMinMs: 100, retryMaxMs: 400, ...over };
  return new InfluxHistory({ config, site: "dc1", instance: "room-1", stateDir, clock: systemClock, log: pino({ level: "silent" }), pointInfo: info });
}

async function count(db: string, where = ""): Promise<number> {
  const r = await influx.query(db, `SELECT count("value") FROM "point"${where}`);
  const v = r[0]?.series?.[0]?.values[0]?.[1];
  return typeof v === "number" ? v : 0;
}

async function waitCount(db: string, want: number, timeoutMs = 15_000, where = ""): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const n = await count(db, where);
    if (n >= want) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`InfluxDB ${db} holds ${n} point values, not ${want}, after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50)); // poll interval
  }
}

const T0 = Date.UTC(2026, 10, 25, 3, 0, 0);
const ppm = (v: number, i: number): PointValue => ({ value: v, quality: "good", sourceTs: T0 + i * 1000 });

describe("history in a real InfluxDB", () => {
  it("values written during an InfluxDB outage arrive after it returns", async () => {
    const h = history("outage", join(dir, "outage"));
    h.start();
    try {
      for (let i = 0; i < 50; i++) h.point("offgas-a/ppm", ppm(i, i));
      await waitCount("outage", 50);
      // The rows are in InfluxDB before its answer reaches us: wait for the answer, or the outage
      // would catch the batch in flight and it would (rightly, at least once) be written again.
      const deadline0 = Date.now() + 5000;
      while (h.stats().buffered > 0 && Date.now() < deadline0) await new Promise((r) => setTimeout(r, 20));
      await influx.service.stop();
      for (let i = 50; i < 250; i++) h.point("offgas-a/ppm", ppm(i, i));
      h.point("offgas-a/ppm", { value: null, quality: "bad", reason: "comm_fail", sourceTs: T0 + 250_000 });
      const deadline = Date.now() + 5000;
      while (h.stats().failures < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(h.stats()).toMatchObject({ failing: true, buffered: 201, dropped: 0 });
      const down = performance.now();
      await influx.service.start();
      const ms = await waitCount("outage", 250);
      console.log(`[figures] InfluxDB outage: 201 rows buffered on disk during the outage; all arrived ${ms.toFixed(0)} ms after influxd answered again (${(performance.now() - down).toFixed(0)} ms after its restart began)`);
      const bad = await influx.query("outage", `SELECT "reason" FROM "point" WHERE "quality" = 'bad'`);
      expect(bad[0]?.series?.[0]?.values).toEqual([[T0 + 250_000, "comm_fail"]]);
      await new Promise((r) => setTimeout(r, 300)); // let the last flush settle before reading stats
      expect(h.stats()).toMatchObject({ failing: false, buffered: 0, dropped: 0, rejected: 0, written: 251 });
    } finally {
      await h.stop();
    }
  }, 60_000);

  it("rows buffered when the daemon stops are written after its next start", async () => {
    const stateDir = join(dir, "restart");
    await influx.service.stop();
    const first = history("restart", stateDir);
    first.start();
    try {
      for (let i = 0; i < 100; i++) first.point("offgas-b/ppm", ppm(i, i));
    } finally {
      await first.stop(); // InfluxDB is away: the 100 rows stay on disk
    }
    await influx.service.start();
    const second = history("restart", stateDir);
    second.start();
    try {
      await waitCount("restart", 100);
      expect(await count("restart", ` WHERE "device" = 'offgas-b' AND "zone" = 'batt-a'`)).toBe(100);
    } finally {
      await second.stop();
    }
  }, 60_000);

  it("a full buffer drops the oldest point values first and counts every drop", async () => {
    await influx.service.stop();
    const h = history("full", join(dir, "full"), { bufferLimit: 100 });
    h.start();
    try {
      h.accept([{ type: "zone_stage", zone: "batt-a", stage: "alarm", previous: "pre_alarm", skipped: [], since: T0, fault: false, faults: [], evidence: [] }]);
      for (let i = 0; i < 150; i++) h.point("offgas-a/ppm", ppm(i, i + 1));
      h.flush();
      expect(h.stats()).toMatchObject({ buffered: 100, dropped: 51 });
    } finally {
      await influx.service.start();
    }
    try {
      await waitCount("full", 99);
      const stage = await influx.query("full", `SELECT "stage" FROM "zone_stage"`);
      expect(stage[0]?.series?.[0]?.values).toEqual([[T0, "alarm"]]); // the event outlived the older point values
      const oldest = await influx.query("full", `SELECT first("value") FROM "point"`);
      expect(oldest[0]?.series?.[0]?.values[0]?.[1]).toBe(51);
    } finally {
      await h.stop();
    }
  }, 60_000);

  it("moves staged rows to the disk buffer 1000 at a time, a turn of the event loop apart, and never inside a poll", async () => {
    // Nothing listens on this port: every write fails, so what reached the disk stays countable.
    const h = history("slices", join(dir, "slices"), { url: `http://127.0.0.1:${await freePort()}`, batchSize: 500, flushIntervalMs: 60_000, retryMinMs: 60_000, retryMaxMs: 60_000 });
    h.start();
    const turn = () => new Promise((r) => setImmediate(r));
    try {
      // A full batch (500) staged from inside a poll is flushed after it, on the next turn.
      for (let i = 0; i < 500; i++) h.point(`cab1/cell_${i}`, ppm(20, i));
      expect(h.stats()).toMatchObject({ staged: 500, buffered: 0 });
      await turn();
      expect(h.stats()).toMatchObject({ staged: 0, buffered: 500 });
      // 2500 staged without reaching the batch size in between (the flush timer's case).
      await h.stop();
      const big = history("slices", join(dir, "slices"), { url: `http://127.0.0.1:${await freePort()}`, batchSize: 100_000, flushIntervalMs: 60_000, retryMinMs: 60_000, retryMaxMs: 60_000 });
      big.start();
      try {
        for (let i = 0; i < 2500; i++) big.point(`cab2/cell_${i}`, ppm(20, i));
        big.flush();
        expect(big.stats()).toMatchObject({ staged: 1500, buffered: 1500 }); // 500 from before the restart + one slice
        await turn();
        expect(big.stats()).toMatchObject({ staged: 500, buffered: 2500 });
        await turn();
        expect(big.stats()).toMatchObject({ staged: 0, buffered: 3000, dropped: 0 });
      } finally {
        await big.stop();
      }
    } finally {
      await h.stop();
    }
  }, 30_000);
});
