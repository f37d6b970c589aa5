import { describe, expect, it } from "vitest";
import { heartbeatOf, statusMessage } from "../../src/outputs/mqtt/payloads.js";
import { TAKEOVER_BACKOFF_MAX_MS, TakeoverWatch } from "../../src/outputs/mqtt/takeover.js";
import { topics } from "../../src/outputs/mqtt/topics.js";

const T0 = 1_000_000;

describe("session takeover accounting", () => {
  it("three takeovers in a minute are accidents; the fourth is a fight, announced once", () => {
    const w = new TakeoverWatch();
    expect([1, 2, 3].map((i) => w.note(T0 + i * 1000))).toEqual([
      { count: 1, active: false, changed: false },
      { count: 2, active: false, changed: false },
      { count: 3, active: false, changed: false },
    ]);
    expect(w.note(T0 + 4000)).toEqual({ count: 4, active: true, changed: true });
    expect(w.note(T0 + 5000)).toEqual({ count: 5, active: true, changed: false });
  });

  it("takeovers spread wider than the window never start a fight", () => {
    const w = new TakeoverWatch();
    for (let i = 0; i < 10; i++) expect(w.note(T0 + i * 20_001).active).toBe(false);
  });

  it("a fight ends only after a whole minute connected without a takeover, not after a long backoff", () => {
    const w = new TakeoverWatch();
    for (let i = 0; i < 4; i++) w.note(T0 + i);
    expect(w.check(T0 + 120_000, undefined)).toMatchObject({ active: true, changed: false }); // disconnected all along
    const since = T0 + 120_000;
    expect(w.nextCheckAt(since)).toBe(since + 60_000);
    expect(w.check(since + 59_999, since)).toMatchObject({ active: true, changed: false });
    expect(w.check(since + 60_000, since)).toEqual({ count: 0, active: false, changed: true });
  });

  it("the reconnect delay doubles with each takeover in the window, up to a minute", () => {
    const w = new TakeoverWatch();
    const delays = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => {
      w.note(T0 + i);
      return w.backoffMs();
    });
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]);
    expect(Math.max(...delays)).toBe(TAKEOVER_BACKOFF_MAX_MS);
  });
});

describe("the status heartbeat payload", () => {
  it("online carries heartbeatS and expiresAt (3 heartbeats on the clock's timeline) and a broker-side expiry; offline never expires", () => {
    const t = topics("dc1");
    const p = { instance: "hall-a", version: "1.0.0", startedAt: Date.UTC(2026, 10, 25, 3) };
    const now = Date.UTC(2026, 10, 25, 3, 0, 0, 512);
    const online = statusMessage(t, p, "online", now, heartbeatOf(30));
    expect(online).toMatchObject({ topic: "firebreak/v1/dc1/status", qos: 1, retain: true, kind: "status", expiryS: 90 });
    expect(JSON.parse(online.payload)).toMatchObject({ status: "online", heartbeatS: 30, ts: "2026-11-25T03:00:00.512Z", expiresAt: "2026-11-25T03:01:30.512Z" });
    // On a 10x clock 90 real seconds are 900 s of the clock's timeline.
    expect(JSON.parse(statusMessage(t, p, "online", now, heartbeatOf(30, 10)).payload)).toMatchObject({ expiresAt: "2026-11-25T03:15:00.512Z" });
    const offline = statusMessage(t, p, "offline", now, heartbeatOf(30));
    expect(offline.expiryS).toBeUndefined();
    expect(JSON.parse(offline.payload)).not.toHaveProperty("expiresAt");
  });
});
