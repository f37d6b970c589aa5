import { describe, expect, it } from "vitest";
import { Backoff } from "../../src/drivers/backoff.js";

describe("reconnect backoff", () => {
  it("doubles from 250 ms to a 30 s ceiling, and only reset() brings it back", () => {
    const b = new Backoff(undefined, () => 0.5); // no jitter at the middle of the range
    const delays = Array.from({ length: 10 }, () => b.next());
    expect(delays).toEqual([250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(b.failures).toBe(10);
    b.reset();
    expect(b.failures).toBe(0);
    expect(b.next()).toBe(250);
  });

  it("jitters every delay within ±20 %", () => {
    const low = new Backoff(undefined, () => 0);
    const high = new Backoff(undefined, () => 0.999999);
    expect([low.next(), low.next()]).toEqual([200, 400]);
    expect([high.next(), high.next()]).toEqual([300, 600]);
  });

  it("a device failing for 7 minutes is retried a few dozen times, not hundreds", () => {
    const b = new Backoff(undefined, () => 0);
    let t = 0;
    let attempts = 0;
    while (t < 7 * 60_000) {
      t += b.next();
      attempts++;
    }
    expect(attempts).toBeLessThan(40); // the storm fault injection found: 692
  });
});
