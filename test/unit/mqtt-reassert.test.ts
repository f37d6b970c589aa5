// Redundant daemons share retained topics: a peer's message that says less than ours is answered by
// ours, never the other way, so the picture is the more alarming of the two and nothing loops.
import { describe, expect, it } from "vitest";
import type { ZoneStageChange } from "../../src/events.js";
import { ownLevel, peerOffline, reassertion, shouldReassert, type OwnPicture } from "../../src/outputs/mqtt/reassert.js";
import { unknownDecimals } from "../../src/outputs/mqtt/rounding.js";
import { topics } from "../../src/outputs/mqtt/topics.js";

const own: OwnPicture = {
  zones: [{ zone: "batt-a", stage: "evacuate" }, { zone: "batt-b", stage: "normal" }, { zone: "batt-c", stage: "normal", unjudged: true }],
  alarms: [{ id: "offgas-a", state: "unack", active: true }, { id: "dev-a", state: "rtn_unack", active: false }],
  triggers: [{ zone: "batt-a" }],
};
const zone = (id: string) => ({ kind: "zone", id }) as const;
const alarm = (id: string) => ({ kind: "alarm", id }) as const;
const evac = (id: string) => ({ kind: "evacuate", id }) as const;
const peer = (body: Record<string, unknown>) => JSON.stringify({ instance: "room1-b", ...body });
const re = (ref: Parameters<typeof ownLevel>[0], payload: string) => shouldReassert(ref, payload, "room1-a", () => ownLevel(ref, own));

describe("reasserting our retained state over a redundant peer's", () => {
  it("a peer's lower stage, or its empty trigger after a clear we refused, is answered", () => {
    expect(re(zone("batt-a"), peer({ stage: "normal" }))).toBe(true);
    expect(re(zone("batt-a"), peer({ stage: "alarm" }))).toBe(true);
    expect(re(evac("batt-a"), "")).toBe(true);
  });

  it("an alarm the peer removed or sees inactive is answered while ours stands", () => {
    expect(re(alarm("offgas-a"), "")).toBe(true);
    expect(re(alarm("offgas-a"), peer({ state: "rtn_unack", active: false }))).toBe(true);
    expect(re(alarm("dev-a"), "")).toBe(true);
    expect(re(alarm("dev-a"), peer({ state: "unack", active: true }))).toBe(false);
  });

  it("the same or more from the peer, our own echo, and what we do not hold are left alone", () => {
    expect(re(zone("batt-a"), peer({ stage: "evacuate" }))).toBe(false);
    expect(re(zone("batt-a"), JSON.stringify({ instance: "room1-a", stage: "normal" }))).toBe(false);
    expect(shouldReassert(zone("batt-a"), JSON.stringify({ instance: "room1-a", stage: "normal" }), "room1-a", () => { throw new Error("the picture is not needed for our own echo"); })).toBe(false);
    expect(re(evac("batt-a"), peer({ id: "dc1:batt-a:0001" }))).toBe(false);
    expect(re(evac("batt-b"), "")).toBe(false);
    expect(re(alarm("ghost"), "")).toBe(false);
  });

  it("a zone we see as normal, or have not judged, claims nothing over the peer's", () => {
    expect(re(zone("batt-b"), "")).toBe(false);
    expect(re(zone("batt-b"), peer({ stage: "unknown" }))).toBe(false);
    expect(re(zone("batt-c"), "")).toBe(false);
  });

  it("a partner's offline status (its Last Will, naming one of our zones) is named; ours, online, another room's, or garbage is not", () => {
    const zones = ["batt-a", "batt-b"];
    expect(peerOffline(peer({ status: "offline", zones: ["batt-b"] }), "room1-a", zones)).toBe("room1-b");
    expect(peerOffline(peer({ status: "offline", zones: ["batt-c"] }), "room1-a", zones)).toBeUndefined();
    expect(peerOffline(peer({ status: "offline" }), "room1-a", zones)).toBeUndefined();
    expect(peerOffline(JSON.stringify({ status: "offline", instance: "room1-a", zones }), "room1-a", zones)).toBeUndefined();
    expect(peerOffline(peer({ status: "online", zones }), "room1-a", zones)).toBeUndefined();
    expect(peerOffline("not json", "room1-a", zones)).toBeUndefined();
  });
});

describe("the message published again", () => {
  const evac: ZoneStageChange = { type: "zone_stage", zone: "batt-a", stage: "evacuate", previous: "alarm", skipped: [], since: 1_000, fault: false, faults: [], evidence: [] };
  const ctx = (asked: { n: number }) => ({
    topics: topics("dc1"),
    instance: "room1-a",
    decimals: unknownDecimals,
    now: 2_000,
    picture: () => {
      asked.n++;
      return { zones: [evac], alarms: [], triggers: [] };
    },
  });

  it("is our retained stage, with our instance, when a peer says normal", () => {
    const asked = { n: 0 };
    const m = reassertion({ kind: "zone", id: "batt-a" }, JSON.stringify({ instance: "room1-b", stage: "normal" }), ctx(asked));
    expect(m).toMatchObject({ topic: "firebreak/v1/dc1/zone/batt-a/stage", retain: true, qos: 1 });
    expect(JSON.parse(m!.payload)).toMatchObject({ instance: "room1-a", stage: "evacuate" });
    expect(asked.n).toBe(1);
  });

  it("is nothing for our own echo, without building the picture", () => {
    const asked = { n: 0 };
    expect(reassertion({ kind: "zone", id: "batt-a" }, JSON.stringify({ instance: "room1-a", stage: "normal" }), ctx(asked))).toBeUndefined();
    expect(asked.n).toBe(0);
  });
});
