// The poll's request runner over a fake link whose answers the test releases one by one, in any
// order: the window of requests in flight, answers out of order, an exception failing only its
// request, and a timeout or lost connection ending the poll (nothing more sent, the rest awaited).
import { describe, expect, it } from "vitest";
import type { ModbusTable } from "../../src/config/profile-schema.js";
import { ModbusExceptionError } from "../../src/errors.js";
import type { LinkCounters, ModbusLink } from "../../src/drivers/modbus/connection.js";
import type { PlannedRequest } from "../../src/drivers/modbus/planner.js";
import { runRequests } from "../../src/drivers/modbus/poll-requests.js";
import { ConnectionLost, RequestTimeout } from "../../src/drivers/modbus/tcp-client.js";

interface Sent {
  readonly start: number;
  readonly count: number;
  answer(values?: number[]): void;
  fail(e: Error): void;
}

class FakeLink implements ModbusLink {
  readonly open = true;
  readonly counters: LinkCounters = { requests: 0, exceptions: 0, malformed: 0, timeouts: 0, lateAnswers: 0 };
  readonly sent: Sent[] = [];
  inFlight = 0;
  maxSeen = 0;
  constructor(readonly maxInFlight: number) {}
  onLost(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
  read(_table: ModbusTable, start: number, count: number): Promise<number[]> {
    this.inFlight++;
    this.maxSeen = Math.max(this.maxSeen, this.inFlight);
    return new Promise((resolve, reject) => {
      const done = (): void => void this.inFlight--;
      this.sent.push({
        start,
        count,
        answer: (values) => (done(), resolve(values ?? Array.from({ length: count }, (_, i) => start + i))),
        fail: (e) => (done(), reject(e)),
      });
    });
  }
}

const req = (start: number): PlannedRequest => ({ table: "holding", start, count: 2, reads: [] });
const plan = [0, 10, 20, 30, 40, 50].map(req);
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
let t = 0;
const now = (): number => ++t;

describe("poll request runner", () => {
  it("max_in_flight 1: one request at a time, in plan order", async () => {
    const link = new FakeLink(1);
    const run = runRequests(link, plan, now, 500);
    for (let i = 0; i < plan.length; i++) {
      await tick();
      expect(link.sent).toHaveLength(i + 1);
      link.sent[i]!.answer();
    }
    const out = await run;
    expect(link.maxSeen).toBe(1);
    expect(out.fatal).toBeUndefined();
    expect(out.image.locate("holding", 50, 2)?.data).toEqual([50, 51]);
  });

  it("max_in_flight 3: three on the wire, answers taken in any order, the next sent as each one returns", async () => {
    const link = new FakeLink(3);
    const run = runRequests(link, plan, now, 500);
    await tick();
    expect(link.sent.map((s) => s.start)).toEqual([0, 10, 20]);
    // Out of order: the third answer first, then the first.
    link.sent[2]!.answer();
    await tick();
    expect(link.sent.map((s) => s.start)).toEqual([0, 10, 20, 30]);
    link.sent[0]!.answer();
    link.sent[1]!.answer();
    await tick();
    expect(link.sent).toHaveLength(6);
    for (const i of [5, 3, 4]) link.sent[i]!.answer();
    const out = await run;
    expect(link.maxSeen).toBe(3);
    expect(out.fatal).toBeUndefined();
    expect(out.failed.size).toBe(0);
    for (const r of plan) expect(out.image.locate("holding", r.start, 2)?.data).toEqual([r.start, r.start + 1]);
    expect(out.readAt.filter((x) => x !== undefined)).toHaveLength(6);
  });

  it("an exception fails only its own request; the poll goes on", async () => {
    const link = new FakeLink(3);
    const run = runRequests(link, plan, now, 500);
    await tick();
    link.sent[1]!.fail(new ModbusExceptionError("d", 2, "illegal data address"));
    for (let i = 0; i < 6; i++) {
      await tick();
      for (const s of link.sent) if (s !== link.sent[1]) s.answer();
    }
    const out = await run;
    expect(out.fatal).toBeUndefined();
    expect([...out.failed.keys()]).toEqual([1]);
    expect(out.failed.get(1)).toMatchObject({ quality: "bad", reason: "device_exception" });
    expect(out.failed.get(1)?.detail).toMatch(/^holding 10\+2: /);
  });

  it("a lost answer (timeout) ends the poll: nothing more is sent, the others on the wire are still taken", async () => {
    const link = new FakeLink(3);
    const run = runRequests(link, plan, now, 500);
    await tick();
    link.sent[0]!.fail(new RequestTimeout("no answer within 500 ms"));
    await tick();
    // The poll has failed: no fourth request, though a slot is free.
    expect(link.sent).toHaveLength(3);
    let settled = false;
    void run.then(() => (settled = true));
    await tick();
    expect(settled).toBe(false); // waits for the two still on the wire
    link.sent[2]!.answer();
    link.sent[1]!.answer();
    const out = await run;
    expect(link.sent).toHaveLength(3);
    expect(out.fatal).toMatchObject({ request: 0, failure: { reason: "timeout" } });
    expect(out.fatal?.at).toMatch(/^holding 0\+2: no answer within 500 ms/);
  });

  it("a lost connection fails every request on the wire; the first failure is the poll's", async () => {
    const link = new FakeLink(4);
    const run = runRequests(link, plan, now, 500);
    await tick();
    const lost = new ConnectionLost("connection closed by the device");
    link.sent[3]!.fail(lost);
    for (const i of [0, 1, 2]) link.sent[i]!.fail(lost);
    const out = await run;
    expect(link.sent).toHaveLength(4);
    expect(out.fatal).toMatchObject({ request: 3, failure: { reason: "comm_fail", detail: "connection closed by the device" } });
  });

  it("an empty plan resolves at once", async () => {
    const out = await runRequests(new FakeLink(4), [], now, 500);
    expect(out.fatal).toBeUndefined();
  });
});
