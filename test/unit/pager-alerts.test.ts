// The pager's pure parts: which alarms fire in Alertmanager and under which labels (alerts.ts),
// what is posted on each change and refresh (alert-book.ts), and the bounded queue (alert-queue.ts).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AlarmState, AlarmStateName } from "../../src/events.js";
import { AlertBook } from "../../src/outputs/pager/alert-book.js";
import { AlertQueue } from "../../src/outputs/pager/alert-queue.js";
import { fires, labelKey, stateLabel, type PostableAlert } from "../../src/outputs/pager/alerts.js";

const T0 = Date.UTC(2026, 10, 25, 3, 0, 0);
const id = { site: "dc1", instance: "room-1" };

function alarm(state: AlarmStateName, active: boolean, extra: Partial<AlarmState> = {}): AlarmState {
  return { id: "og", rule: "og", zone: "z1", class: "condition", priority: "high", state, active, latched: false, since: T0, message: "off-gas", evidence: [], ...extra };
}

const resolvedAt = (a: PostableAlert, now: number) => Date.parse(a.endsAt) <= now;

describe("which alarms fire in Alertmanager", () => {
  it.each([
    ["unack", true, true],
    ["ack", true, true],
    ["rtn_unack", false, false],
    ["normal", false, false],
    ["shelved", true, true],
    ["shelved", false, false],
    ["suppressed", true, true],
    ["out_of_service", false, false],
  ] as const)("%s with the condition %s fires: %s", (state, active, want) => {
    expect(fires(alarm(state, active))).toBe(want);
  });

  it("a latched life-safety alarm keeps firing after its condition clears until it is acknowledged and clear", () => {
    expect(fires(alarm("unack", false, { latched: true, priority: "critical" }))).toBe(true);
    expect(fires(alarm("ack", false, { latched: true, priority: "critical" }))).toBe(true);
    expect(fires(alarm("normal", false, { latched: true, priority: "critical" }))).toBe(false);
  });

  it("acknowledging keeps the state label (and so the alert's identity); hiding names why", () => {
    expect(["unack", "ack", "rtn_unack"].map((s) => stateLabel(s as AlarmStateName))).toEqual(["active", "active", "active"]);
    expect(["shelved", "suppressed", "out_of_service"].map((s) => stateLabel(s as AlarmStateName))).toEqual(["shelved", "suppressed", "out_of_service"]);
  });
});

describe("the alert book", () => {
  it("posts a firing alert with endsAt ahead, and resolves it with endsAt = now when the alarm returns to normal", () => {
    const book = new AlertBook(id, 180_000);
    const [firing] = book.apply(alarm("unack", true), T0 + 10);
    expect(firing!.endsAt).toBe(new Date(T0 + 10 + 180_000).toISOString());
    expect(firing!.startsAt).toBe(new Date(T0).toISOString());
    const out = book.apply(alarm("normal", false), T0 + 5000);
    expect(out).toHaveLength(1);
    expect(out[0]!.labels).toEqual(firing!.labels);
    expect(out[0]!.endsAt).toBe(new Date(T0 + 5000).toISOString());
    expect(book.size).toBe(0);
  });

  it("shelving resolves the state=active alert and fires state=shelved; the condition clearing while shelved resolves that", () => {
    const book = new AlertBook(id, 180_000);
    book.apply(alarm("unack", true), T0);
    const shelf = { by: "bob", at: T0, until: T0 + 3_600_000, reason: "test" };
    const moved = book.apply(alarm("shelved", true, { shelved: shelf }), T0 + 1000);
    expect(moved.map((a) => [a.labels.state, resolvedAt(a, T0 + 1000)])).toEqual([["active", true], ["shelved", false]]);
    expect(moved[0]!.annotations.hidden).toMatch(/^shelved by bob/);
    const cleared = book.apply(alarm("shelved", false, { shelved: shelf }), T0 + 2000);
    expect(cleared.map((a) => [a.labels.state, resolvedAt(a, T0 + 2000)])).toEqual([["shelved", true]]);
  });

  it("refresh re-posts every firing alert with a new endsAt and the same startsAt", () => {
    const book = new AlertBook(id, 3000);
    book.apply(alarm("unack", true), T0);
    book.apply(alarm("ack", true, { id: "b" }), T0);
    const again = book.refresh(T0 + 60_000);
    expect(again).toHaveLength(2);
    for (const a of again) {
      expect(a.startsAt).toBe(new Date(T0).toISOString());
      expect(a.endsAt).toBe(new Date(T0 + 63_000).toISOString());
    }
  });

  it("nothing is posted for an alarm that never fired and does not fire", () => {
    expect(new AlertBook(id, 3000).apply(alarm("rtn_unack", false), T0)).toEqual([]);
  });

  it("property: after any sequence of states, the alerts left firing in Alertmanager are exactly the firing alarm's current label set", () => {
    const states: AlarmStateName[] = ["normal", "unack", "ack", "rtn_unack", "shelved", "suppressed", "out_of_service"];
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...states), fc.boolean()), { minLength: 1, maxLength: 30 }), (seq) => {
        const book = new AlertBook(id, 180_000);
        const am = new Map<string, PostableAlert>(); // what Alertmanager would hold as firing
        let now = T0;
        let last: AlarmState | undefined;
        for (const [state, active] of seq) {
          now += 1000;
          last = alarm(state, active);
          for (const a of book.apply(last, now)) {
            if (resolvedAt(a, now)) am.delete(labelKey(a.labels));
            else am.set(labelKey(a.labels), a);
          }
        }
        const firing = [...am.values()];
        if (fires(last!)) {
          expect(firing).toHaveLength(1);
          expect(firing[0]!.labels.state).toBe(stateLabel(last!.state));
        } else expect(firing).toEqual([]);
      }),
    );
  });
});

describe("the alert queue", () => {
  const post = (alarmId: string, endsAt: number): PostableAlert => ({ labels: { alarm: alarmId }, annotations: {}, startsAt: new Date(T0).toISOString(), endsAt: new Date(endsAt).toISOString() });

  it("a newer post for the same alert supersedes the waiting one", () => {
    const q = new AlertQueue(10);
    q.push(post("a", T0 + 1));
    q.push(post("a", T0 + 2));
    expect(q.take(10)).toEqual([post("a", T0 + 2)]);
  });

  it("full: the oldest waiting alert goes first, counted", () => {
    const q = new AlertQueue(2);
    for (const x of ["a", "b", "c"]) q.push(post(x, T0));
    expect(q.dropped).toBe(1);
    expect(q.take(10).map((a) => a.labels.alarm)).toEqual(["b", "c"]);
  });

  it("a failed batch goes back ahead of newer alerts, except where a newer post for the same alert arrived meanwhile", () => {
    const q = new AlertQueue(10);
    q.push(post("a", T0));
    q.push(post("b", T0));
    const batch = q.take(10);
    q.push(post("c", T0));
    q.push(post("b", T0 + 5));
    q.putBack(batch);
    expect(q.take(10).map((a) => [a.labels.alarm, a.endsAt])).toEqual([
      ["a", new Date(T0).toISOString()],
      ["c", new Date(T0).toISOString()],
      ["b", new Date(T0 + 5).toISOString()],
    ]);
  });
});
