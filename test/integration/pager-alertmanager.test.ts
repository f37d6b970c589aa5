// The pager output against a real Alertmanager (Debian's prometheus-alertmanager on a free loopback
// port): alarms appear in /api/v2/alerts with their labels, stay firing through refreshes, resolve
// when they return to normal (also when shelved or acknowledged), and survive Alertmanager's outage.
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { AlertmanagerConfig } from "../../src/config/types.js";
import type { AlarmChange, AlarmState, AlarmStateName } from "../../src/events.js";
import { systemClock } from "../../src/runtime/clock.js";
import { AlertmanagerOutput } from "../../src/outputs/pager/alertmanager.js";
import { startAlertmanager, type AmAlert, type Alertmanager } from "../support/alertmanager.js";

let am: Alertmanager;
let out: AlertmanagerOutput | undefined;

beforeAll(async () => {
  am = await startAlertmanager();
}, 30_000);

afterAll(async () => {
  await am?.destroy();
});

afterEach(async () => {
  await out?.stop();
  out = undefined;
});

function output(over: Partial<AlertmanagerConfig> = {}): AlertmanagerOutput {
  const config: AlertmanagerConfig = { url: am.url, refreshMs: 60_000, endsAfterMs: 180_000, timeoutMs: 2000, queueLimit: 100, retryMinMs: 100, retryMaxMs: 400, ...over };
  out = new AlertmanagerOutput({ config, site: "dc1", instance: "room-1", clock: systemClock, log: pino({ level: "silent" }) });
  out.start([]);
  return out;
}

let n = 0;
function alarm(id: string, state: AlarmStateName, active: boolean, extra: Partial<AlarmState> = {}): AlarmState {
  return {
    id,
    rule: id,
    zone: "batt-a",
    class: "condition",
    priority: "high",
    state,
    active,
    stage: "alarm",
    latched: false,
    since: Date.now(),
    message: `off-gas above baseline in row A: alarm, offgas-a/ppm = ${55 + n++}.0`,
    evidence: [{ rule: id, point: "offgas-a/ppm", value: 55, quality: "good" }],
    reason: "condition active",
    ...extra,
  };
}

const change = (a: AlarmState, previous: AlarmStateName): AlarmChange => ({ type: "alarm", alarm: a, previous, reason: a.reason ?? "" });

/** Poll Alertmanager until `pick` finds what it wants; bounded. Returns it and how long it took. */
async function waitAm<T>(what: string, pick: (alerts: AmAlert[]) => T | undefined, timeoutMs = 10_000): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  for (;;) {
    const v = pick(await am.alerts());
    if (v !== undefined) return { value: v, ms: performance.now() - t0 };
    if (performance.now() - t0 > timeoutMs) throw new Error(`Alertmanager: ${what} not within ${timeoutMs} ms; it holds ${JSON.stringify(await am.alerts())}`);
    await new Promise((r) => setTimeout(r, 25)); // poll interval
  }
}

const ofAlarm = (id: string) => (alerts: AmAlert[]) => alerts.filter((a) => a.labels.alarm === id);
const gone = (id: string) => (alerts: AmAlert[]) => (ofAlarm(id)(alerts).length === 0 ? true : undefined);

describe("the pager output against a real Alertmanager", () => {
  it("an active alarm appears with site, instance, zone, alarm, priority and class labels, and resolves when it returns to normal", async () => {
    const o = output();
    o.accept([change(alarm("offgas-a", "unack", true), "normal")]);
    const seen = await waitAm("offgas-a firing", (all) => ofAlarm("offgas-a")(all)[0]);
    expect(seen.value.labels).toEqual({ alertname: "FirebreakAlarm", site: "dc1", instance: "room-1", zone: "batt-a", alarm: "offgas-a", priority: "high", class: "condition", state: "active" });
    expect(seen.value.annotations.message).toMatch(/^off-gas above baseline in row A: alarm/);
    expect(seen.value.annotations.evidence).toBe("offgas-a: offgas-a/ppm = 55.0");
    expect(seen.value.annotations.alarm_state).toBe("unack");
    expect(seen.value.status.state).toBe("active");
    expect(Date.parse(seen.value.endsAt) - Date.now()).toBeGreaterThan(170_000);

    o.accept([change(alarm("offgas-a", "normal", false, { reason: "condition clear" }), "ack")]);
    const resolved = await waitAm("offgas-a resolved", gone("offgas-a"));
    console.log(`[figures] alert appeared in Alertmanager after ${seen.ms.toFixed(0)} ms, resolved after ${resolved.ms.toFixed(0)} ms`);
    expect(o.stats()).toMatchObject({ firing: 0, failures: 0, rejected: 0, dropped: 0 });
  });

  it("an acknowledged alarm keeps its alert (same labels) and is resolved when its condition clears", async () => {
    const o = output();
    o.accept([change(alarm("cell-dev-a", "unack", true), "normal")]);
    const first = await waitAm("firing", (all) => ofAlarm("cell-dev-a")(all)[0]);
    o.accept([change(alarm("cell-dev-a", "ack", true, { ackedBy: "alice", reason: "acknowledged by alice" }), "unack")]);
    await waitAm("acknowledged", (all) => ofAlarm("cell-dev-a")(all).find((a) => a.annotations.alarm_state === "ack"));
    const now = ofAlarm("cell-dev-a")(await am.alerts());
    expect(now).toHaveLength(1);
    expect(now[0]!.labels).toEqual(first.value.labels);
    expect(now[0]!.startsAt).toBe(first.value.startsAt);
    o.accept([change(alarm("cell-dev-a", "normal", false), "ack")]);
    await waitAm("resolved", gone("cell-dev-a"));
  });

  it("a shelved alarm fires with state=shelved (so a silence can match it) and is resolved when its condition clears while shelved", async () => {
    const o = output();
    o.accept([change(alarm("lfl-a", "unack", true), "normal")]);
    await waitAm("firing", (all) => ofAlarm("lfl-a")(all)[0]);
    const shelf = { by: "bob", at: Date.now(), until: Date.now() + 3_600_000, reason: "detector under test" };
    o.accept([change(alarm("lfl-a", "shelved", true, { shelved: shelf, reason: "shelved by bob" }), "unack")]);
    const shelved = await waitAm("state=shelved only", (all) => {
      const mine = ofAlarm("lfl-a")(all);
      return mine.length === 1 && mine[0]!.labels.state === "shelved" ? mine[0] : undefined;
    });
    expect(shelved.value.annotations.hidden).toMatch(/^shelved by bob until .*: detector under test$/);
    // The condition clears while the alarm is still shelved: Alertmanager must not keep it firing.
    o.accept([change(alarm("lfl-a", "shelved", false, { shelved: shelf, reason: "condition clear" }), "shelved")]);
    await waitAm("resolved while shelved", gone("lfl-a"));
  });

  it("a refresh keeps a standing alarm firing past its first endsAt", async () => {
    const o = output({ refreshMs: 500, endsAfterMs: 1500 });
    o.accept([change(alarm("room-temp-a", "unack", true), "normal")]);
    const first = await waitAm("firing", (all) => ofAlarm("room-temp-a")(all)[0]);
    const firstEnd = Date.parse(first.value.endsAt);
    // Wait for Alertmanager to hold an endsAt past the first one's end; the alert must still be there then.
    const later = await waitAm("refreshed past the first endsAt", (all) => {
      const a = ofAlarm("room-temp-a")(all)[0];
      return a !== undefined && Date.now() > firstEnd + 200 ? a : undefined;
    });
    expect(Date.parse(later.value.endsAt)).toBeGreaterThan(Date.now());
    o.accept([change(alarm("room-temp-a", "normal", false), "unack")]);
    await waitAm("resolved", gone("room-temp-a"));
  });

  it("an alarm decided while Alertmanager is away arrives when it is back; the failure is counted", async () => {
    const o = output();
    await am.service.stop();
    try {
      o.accept([change(alarm("offgas-b", "unack", true), "normal")]);
      const deadline = Date.now() + 5000;
      while (o.stats().failures < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(o.stats()).toMatchObject({ failing: true, queued: 1 });
      expect(o.stats().failures).toBeGreaterThanOrEqual(2);
    } finally {
      await am.service.start();
    }
    const back = await waitAm("offgas-b after the outage", (all) => ofAlarm("offgas-b")(all)[0]);
    console.log(`[figures] after Alertmanager came back the queued alert appeared in ${back.ms.toFixed(0)} ms`);
    expect(o.stats()).toMatchObject({ failing: false, queued: 0, dropped: 0 });
    o.accept([change(alarm("offgas-b", "normal", false), "unack")]);
    await waitAm("resolved", gone("offgas-b"));
  });
});
