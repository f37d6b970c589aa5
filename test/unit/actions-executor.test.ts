import { describe, expect, it } from "vitest";
import { ActionExecutor } from "../../src/actions/executor.js";
import type { ProtectiveAction } from "../../src/config/types.js";
import { ActionWriteError } from "../../src/errors.js";
import type { ActionEvent } from "../../src/events.js";
import { bad, good, type PointValue } from "../../src/points/point.js";
import { FakeClock } from "../../src/runtime/clock.js";

const action: ProtectiveAction = {
  id: "open-s1",
  description: "open string 1",
  kind: "open_string_contactor",
  device: "cab1",
  write: { point: "s1/setCon", value: 2 },
  expect: [
    { point: "s1/contactorClosed", value: 0, tolerance: 0 },
    { point: "s1/currentA", value: 0, tolerance: 0.05 },
  ],
  on: { zone: "batt-a", stage: "evacuate" },
  enabled: true,
  dryRun: false,
  interlock: { zoneStage: "evacuate", minKnocks: 2 },
  verify: { retries: 3, intervalMs: 1000, timeoutMs: 10_000 },
  rateLimit: { max: 1, perMs: 300_000 },
};
const ctx = { stage: "evacuate" as const, knocks: ["off-gas", "cell-temperature"], incident: 1 };
const flush = () => new Promise<void>((r) => setImmediate(r));

/** A device whose points the test sets; the write is recorded. */
function rig(opts: { failWrite?: Error } = {}) {
  const clock = new FakeClock();
  const points = new Map<string, PointValue>([
    ["cab1/s1/contactorClosed", good(1, clock.now())],
    ["cab1/s1/currentA", good(0.4, clock.now())],
  ]);
  const writes: [string, string, number][] = [];
  const events: ActionEvent[] = [];
  const ex = new ActionExecutor({
    clock,
    write: (d, p, v) => {
      writes.push([d, p, v]);
      return opts.failWrite === undefined ? Promise.resolve() : Promise.reject(opts.failWrite);
    },
    read: (k) => points.get(k) ?? bad("stale", 0, "never read"),
    emit: (e) => events.push(...e),
  });
  const tick = async (ms: number) => {
    await flush();
    clock.advance(ms);
    await flush();
  };
  return { clock, points, writes, events, ex, tick };
}

describe("executing a protective action", () => {
  it("writes, then confirms by read-back once the device shows the contactor open and no current", async () => {
    const r = rig();
    const done = r.ex.run(action, ctx);
    await r.tick(1000); // read-back 1: the old readings (taken before the write) prove nothing
    expect(r.events.map((e) => e.outcome)).toEqual(["written"]);
    r.points.set("cab1/s1/contactorClosed", good(0, r.clock.now()));
    r.points.set("cab1/s1/currentA", good(0, r.clock.now()));
    await r.tick(1000);
    await done;
    expect(r.writes).toEqual([["cab1", "s1/setCon", 2]]);
    expect(r.events.map((e) => e.outcome)).toEqual(["written", "confirmed"]);
    expect(r.events[1]).toMatchObject({ action: "open-s1", device: "cab1", point: "s1/setCon", value: 2, zone: "batt-a", incident: 1, knocks: ["off-gas", "cell-temperature"] });
    expect(r.events[1]!.readBack).toEqual([
      { point: "s1/contactorClosed", expected: 0, value: 0, quality: "good", ok: true },
      { point: "s1/currentA", expected: 0, value: 0, quality: "good", ok: true },
    ]);
  });

  it("fails as unconfirmed after its read-backs when the device ignores the write, naming what it read", async () => {
    const r = rig();
    const done = r.ex.run(action, ctx);
    for (let i = 0; i < 3; i++) {
      r.points.set("cab1/s1/contactorClosed", good(1, r.clock.now()));
      r.points.set("cab1/s1/currentA", good(0.4, r.clock.now()));
      await r.tick(1000);
    }
    await done;
    const failed = r.events.at(-1)!;
    expect(failed).toMatchObject({ outcome: "failed", code: "unconfirmed" });
    expect(failed.detail).toContain("cab1 did not confirm cab1/s1/setCon = 2 within 3 read-back(s)");
    expect(failed.detail).toContain("s1/contactorClosed = 1 (expected 0)");
  });

  it("a bad reading never confirms", async () => {
    const r = rig();
    const done = r.ex.run({ ...action, verify: { retries: 1, intervalMs: 500, timeoutMs: 5000 } }, ctx);
    await flush();
    r.points.set("cab1/s1/contactorClosed", bad("timeout", r.clock.now() + 100, "no answer"));
    r.points.set("cab1/s1/currentA", good(0, r.clock.now() + 100));
    await r.tick(500);
    await done;
    expect(r.events.at(-1)).toMatchObject({ outcome: "failed", code: "unconfirmed" });
  });

  it("a write the device refuses fails at once, with the device's answer", async () => {
    const r = rig({ failWrite: new ActionWriteError("cab1", "s1/setCon", "FC 6 to address 40213: Modbus exception 2 (illegal data address)") });
    await r.ex.run(action, ctx);
    expect(r.events).toHaveLength(1);
    expect(r.events[0]).toMatchObject({ outcome: "failed", code: "write_failed" });
    expect(r.events[0]!.detail).toContain("Modbus exception 2");
  });

  it("verify only (after a restart): reads back, never writes", async () => {
    const r = rig();
    const done = r.ex.run(action, ctx, true);
    await flush();
    r.points.set("cab1/s1/contactorClosed", good(0, r.clock.now()));
    r.points.set("cab1/s1/currentA", good(0, r.clock.now()));
    await r.tick(1000);
    await done;
    expect(r.writes).toEqual([]);
    expect(r.events.map((e) => e.outcome)).toEqual(["confirmed"]);
  });

  it("respects the timeout even with retries left", async () => {
    const r = rig();
    const start = r.clock.now();
    const done = r.ex.run({ ...action, verify: { retries: 50, intervalMs: 1000, timeoutMs: 2500 } }, ctx);
    for (let i = 0; i < 8; i++) await r.tick(500); // small steps: a continuation sees the clock where the step ended
    await done;
    const failed = r.events.at(-1)!;
    expect(failed).toMatchObject({ outcome: "failed", code: "unconfirmed" });
    expect(failed.since - start).toBe(2500); // read-backs at 1000, 2000 and the last at the deadline
  });
});
