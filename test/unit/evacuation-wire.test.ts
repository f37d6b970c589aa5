// Signed triggers and acknowledgments: what verifies, and every refusal, with keys made here.
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { signAck, verifyAck } from "../../src/evacuation/ack-wire.js";
import { argvFor, validHostName } from "../../src/evacuation/host-action.js";
import { triggerSigner, verifyTrigger } from "../../src/evacuation/trigger-wire.js";
import type { EvacuationTrigger } from "../../src/events.js";
import { evacuateMessage } from "../../src/outputs/mqtt/payloads.js";
import { topics } from "../../src/outputs/mqtt/topics.js";

const daemonKey = generateKeyPairSync("ed25519");
const otherKey = generateKeyPairSync("ed25519");
const NOW = Date.parse("2026-11-25T03:12:09.412Z");
const trigger: EvacuationTrigger = {
  type: "evacuate",
  id: "dc1:batt-a:0007",
  zone: "batt-a",
  incident: 7,
  racks: ["R12", "R13"],
  hosts: ["k8s-node-31", "k8s-node-33"],
  rackOf: { "k8s-node-31": "R12", "k8s-node-33": "R13" },
  reason: "offgas + cell temperature deviation",
  evidence: [{ rule: "offgas-a", point: "offgas-a/ppm", value: 48.2, quality: "good", extra: undefined }],
  issuedAt: NOW - 1000,
  ackBy: NOW + 59_000,
};
const signing = { site: "dc1", kid: "dc1-2026", signer: triggerSigner(daemonKey.privateKey) };
const payload = (t: EvacuationTrigger = trigger, at = NOW) => evacuateMessage(topics("dc1"), t, at, undefined, "main", signing).payload;
const ctx = { site: "dc1", keys: new Map([["dc1-2026", daemonKey.publicKey]]), now: NOW, maxAgeMs: 300_000 };

describe("signed triggers", () => {
  it("a trigger as published verifies, and carries id, site, kid, ts and every field", () => {
    const v = verifyTrigger(payload(), ctx);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.trigger).toMatchObject({ v: 1, id: "dc1:batt-a:0007", site: "dc1", zone: "batt-a", kid: "dc1-2026", ts: new Date(NOW).toISOString(), hosts: ["k8s-node-31", "k8s-node-33"], rackOf: { "k8s-node-33": "R13" } });
  });

  it("a re-announcement keeps id and issuedAt, has its own ts and is signed anew", () => {
    const a = JSON.parse(payload()) as Record<string, string>;
    const b = JSON.parse(payload({ ...trigger, announcement: 2 }, NOW + 15_000)) as Record<string, string>;
    expect([b.id, b.issuedAt]).toEqual([a.id, a.issuedAt]);
    expect(b.ts).not.toBe(a.ts);
    expect(b.sig).not.toBe(a.sig);
    expect(verifyTrigger(JSON.stringify(b), { ...ctx, now: NOW + 15_000 }).ok).toBe(true);
  });

  it.each([
    ["a changed host", (p: Record<string, unknown>) => ({ ...p, hosts: ["k8s-node-31", "attacker"] }), "bad_signature"],
    ["a changed ackBy", (p: Record<string, unknown>) => ({ ...p, ackBy: "2027-01-01T00:00:00.000Z" }), "bad_signature"],
    ["an added field", (p: Record<string, unknown>) => ({ ...p, note: "x" }), "bad_signature"],
    ["another site", (p: Record<string, unknown>) => ({ ...p, site: "dc2" }), "wrong_site"],
    ["an unknown key id", (p: Record<string, unknown>) => ({ ...p, kid: "stolen" }), "unknown_key"],
    ["no signature", (p: Record<string, unknown>) => ({ ...p, sig: undefined }), "malformed"],
  ])("%s is refused", (_what, change, code) => {
    const v = verifyTrigger(JSON.stringify(change(JSON.parse(payload()) as Record<string, unknown>)), ctx);
    expect(v).toMatchObject({ ok: false, code });
  });

  it("a trigger signed by another key with our key id is refused", () => {
    const forged = evacuateMessage(topics("dc1"), trigger, NOW, undefined, "main", { ...signing, signer: triggerSigner(otherKey.privateKey) }).payload;
    expect(verifyTrigger(forged, ctx)).toMatchObject({ ok: false, code: "bad_signature" });
  });

  it("a replay of an old announcement is refused as stale, and so is one from the future", () => {
    expect(verifyTrigger(payload(trigger, NOW - 301_000), ctx)).toMatchObject({ ok: false, code: "stale" });
    expect(verifyTrigger(payload(trigger, NOW + 301_000), ctx)).toMatchObject({ ok: false, code: "stale" });
  });

  it("garbage is malformed, never a throw", () => {
    for (const p of ["", "null", "[]", "{", '{"v":1}']) expect(verifyTrigger(p, ctx)).toMatchObject({ ok: false, code: "malformed" });
  });
});

describe("signed acknowledgments", () => {
  const consumer = generateKeyPairSync("ed25519");
  const keys = new Map([["k8s", consumer.publicKey]]);
  const ack = { id: "dc1:batt-a:0007", state: "done" as const, hosts: { done: ["k8s-node-31"], failed: [] }, tsMs: NOW };
  const body = (zone = "batt-a", who = "k8s") => Buffer.from(JSON.stringify(signAck(zone, who, ack, consumer.privateKey)));

  it("verifies with the consumer's key", () => {
    expect(verifyAck("batt-a", "k8s", body(), keys)).toEqual({ ok: true, ack });
  });

  it("refuses an ack moved to another zone, an unknown consumer and a changed state", () => {
    expect(verifyAck("batt-b", "k8s", body(), keys)).toMatchObject({ ok: false, code: "bad_signature" });
    expect(verifyAck("batt-a", "ghost", body(), keys)).toMatchObject({ ok: false, code: "unknown_consumer" });
    const changed = { ...(JSON.parse(body().toString()) as Record<string, unknown>), state: "failed" };
    expect(verifyAck("batt-a", "k8s", Buffer.from(JSON.stringify(changed)), keys)).toMatchObject({ ok: false, code: "bad_signature" });
  });
});

describe("host actions", () => {
  const job = { host: "k8s-node-31", rack: "R12", zone: "batt-a", trigger: "dc1:batt-a:0007", site: "dc1", incident: 7 };
  it("placeholders fill whole arguments; the program is never templated", () => {
    expect(argvFor(["kubectl", "drain", "{host}", "--timeout=120s", "--label=zone={zone}"], job)).toEqual(["kubectl", "drain", "k8s-node-31", "--timeout=120s", "--label=zone=batt-a"]);
    expect(argvFor(["{host}", "x"], job)[0]).toBe("{host}");
  });

  it.each(["k8s-node-31", "node1.dc1.example.com", "a"])("%s is a host name", (h) => expect(validHostName(h)).toBe(true));
  it.each(["-rf", "node;rm -rf /", "$(reboot)", "node 31", "", "a".repeat(254), "node_31", "--kubeconfig=/tmp/x"])("%j is refused as a host name", (h) => expect(validHostName(h)).toBe(false));
});
