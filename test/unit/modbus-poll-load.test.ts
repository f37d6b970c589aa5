import { describe, expect, it } from "vitest";
import { PollLoad } from "../../src/drivers/modbus/poll-load.js";

describe("poll load", () => {
  it("is ok at the configured rate, overloaded once the achieved rate stays below 90 % over the window, ok again when it recovers: each change once", () => {
    const load = new PollLoad(1000);
    const changes: string[] = [];
    let t = 0;
    const poll = (startDelay: number, overrun: boolean): void => {
      const c = load.note(t, t + startDelay, overrun);
      if (c !== undefined) changes.push(`${c.state}: ${c.detail}`);
    };
    for (let i = 0; i < 20; i++, t += 1000) poll(0, false);
    expect(changes).toEqual([]);
    expect(load.status()).toMatchObject({ overruns: 0, latePolls: 0, achievedPerS: 1, configuredPerS: 1, loadState: "ok" });
    // Every poll now takes 1.5 intervals: every other slot is skipped (0.5 polls/s).
    for (let i = 0; i < 30; i++, t += 2000) poll(0, true);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatch(/^overloaded: polled below 90 % of its rate: 0\.\d+ polls\/s of 1\.00 configured/);
    expect(load.status()).toMatchObject({ overruns: 30, loadState: "overloaded", achievedPerS: 0.5 });
    for (let i = 0; i < 20; i++, t += 1000) poll(0, false);
    expect(changes).toHaveLength(2);
    expect(changes[1]).toMatch(/^ok: polled at its rate again/);
  });

  it("a stall of a few intervals is late polls, not overload: the dip must hold a further window to be reported", () => {
    const load = new PollLoad(1000);
    const changes: string[] = [];
    let t = 0;
    const poll = (): void => {
      const c = load.note(t, t, false);
      if (c !== undefined) changes.push(c.state);
    };
    for (let i = 0; i < 20; i++, t += 1000) poll();
    // The machine stalls for 4 s (three slots missed), then polls at the rate again, three times over.
    for (let stall = 0; stall < 3; stall++) {
      t += 3000;
      for (let i = 0; i < 15; i++, t += 1000) poll();
    }
    expect(changes).toEqual([]);
    // Without the hold the sliding rate (7 of 10) would have raised and cleared it after each stall.
    expect(load.status().loadState).toBe("ok");
  });

  it("counts a poll that starts more than half an interval after its slot as late", () => {
    const load = new PollLoad(1000);
    load.note(0, 400, false);
    load.note(1000, 1600, false);
    expect(load.status().latePolls).toBe(1);
  });
});
