import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { JsonValue } from "../../src/commands/canonical.js";
import { acceptedReply, parseReply, refusedReply, replyToRefusal } from "../../src/commands/reply.js";
import { signCommand } from "../../src/commands/sign.js";
import { verifyCommand, type VerifyContext } from "../../src/commands/verify.js";
import type { Verb } from "../../src/commands/wire.js";
import { topics } from "../../src/outputs/mqtt/topics.js";

const alice = generateKeyPairSync("ed25519");
const mallory = generateKeyPairSync("ed25519");
const NOW = Date.parse("2026-11-25T03:12:09.412Z");
const SKEW = 30_000;

function ctx(over: Partial<VerifyContext> = {}): VerifyContext {
  return { site: "dc1", operators: new Map<string, KeyObject>([["alice", alice.publicKey]]), now: NOW, maxSkewMs: SKEW, seen: () => false, ...over };
}

interface Draft {
  verb?: Verb;
  args?: Record<string, JsonValue>;
  by?: string;
  site?: string;
  tsMs?: number;
  requestId?: string;
  key?: KeyObject;
}

/** A signed payload object for `verb` (default: ack of alarm offgas-a by alice, now). */
function signed(d: Draft = {}): Record<string, JsonValue> {
  return signCommand(
    d.verb ?? "ack",
    { requestId: d.requestId ?? "req-0001", by: d.by ?? "alice", tsMs: d.tsMs ?? NOW, site: d.site ?? "dc1" },
    d.args ?? { alarm: "offgas-a" },
    d.key ?? alice.privateKey,
  );
}

const json = (o: unknown) => JSON.stringify(o);

describe("verifyCommand accepts", () => {
  it.each<[Verb, Record<string, JsonValue>, unknown]>([
    ["ack", { alarm: "offgas-a" }, { alarm: "offgas-a" }],
    ["ack", { alarm: "offgas-a:fault" }, { alarm: "offgas-a:fault" }],
    ["ack", { zone: "batt-a" }, { zone: "batt-a" }],
    ["ack", { all: true }, { all: true }],
    ["shelve", { alarm: "offgas-a", durationS: 1800, reason: "detector swap" }, { alarm: "offgas-a", durationS: 1800, reason: "detector swap" }],
    ["unshelve", { alarm: "offgas-a" }, { alarm: "offgas-a" }],
    ["out_of_service", { device: "cab1", reason: "BMS replaced" }, { device: "cab1", reason: "BMS replaced" }],
    ["out_of_service", { alarm: "comm-a", reason: "known" }, { alarm: "comm-a", reason: "known" }],
    ["return_to_service", { device: "cab1" }, { device: "cab1" }],
    ["maintenance", { zone: "batt-a", on: true, untilTs: "2026-11-25T05:00:00.000Z", reason: "cell swap" }, { zone: "batt-a", on: true, untilTs: "2026-11-25T05:00:00.000Z", reason: "cell swap" }],
    ["maintenance", { zone: "batt-a", on: false }, { zone: "batt-a", on: false }],
    ["clear", { zone: "batt-a", reason: "cell replaced" }, { zone: "batt-a", reason: "cell replaced" }],
    ["status", {}, {}],
  ])("%s %j", (verb, args, expected) => {
    const r = verifyCommand({ verb, payload: json(signed({ verb, args })) }, ctx());
    expect(r).toEqual({ ok: true, command: { verb, args: expected, requestId: "req-0001", by: "alice", tsMs: NOW, site: "dc1" } });
  });

  it("takes a Buffer as well as a string, and accepts a command exactly at the edge of the window", () => {
    const r = verifyCommand({ verb: "ack", payload: Buffer.from(json(signed({ tsMs: NOW - SKEW }))) }, ctx());
    expect(r.ok).toBe(true);
  });
});

type Case = [name: string, verb: string, payload: () => string, code: string, reason: RegExp, requestId: string | undefined];

const tamper = (o: Record<string, JsonValue>, k: string, v: JsonValue) => json({ ...o, [k]: v });
const without = (o: Record<string, JsonValue>, k: string) => json(Object.fromEntries(Object.entries(o).filter(([key]) => key !== k)));

describe("verifyCommand refuses, with a code and a reason naming the problem", () => {
  it.each<Case>([
    ["not JSON", "ack", () => "{ack", "malformed", /^payload is not JSON/, undefined],
    ["a JSON array", "ack", () => "[1]", "malformed", /^payload is not a JSON object$/, undefined],
    ["too big", "ack", () => json({ ...signed(), pad: "x".repeat(20_000) }), "malformed", /^payload is 2\d{4} bytes; at most 16384$/, undefined],
    ["no request id", "ack", () => without(signed(), "requestId"), "malformed", /field "requestId": is missing/, undefined],
    ["a request id that cannot be a topic level", "ack", () => tamper(signed(), "requestId", "a/b+#cdefgh"), "malformed", /field "requestId": use 8 to 64/, undefined],
    ["a missing signature", "ack", () => without(signed(), "sig"), "malformed", /field "sig": is missing/, "req-0001"],
    ["a signature without the ed25519: prefix", "ack", () => tamper(signed(), "sig", "AAAA"), "malformed", /field "sig": use "ed25519:/, "req-0001"],
    ["a local-time ts", "ack", () => json(signed({ args: { alarm: "x" } })).replace(/"ts":"([^"]+)Z"/, '"ts":"$1+00:00"'), "malformed", /field "ts": use ISO 8601 UTC/, "req-0001"],
    ["schema version 2", "ack", () => tamper(signed(), "v", 2), "malformed", /field "v"/, "req-0001"],
    ["an unknown field", "ack", () => json(signed({ args: { alarm: "offgas-a", force: true } })), "malformed", /unknown field "force" for ack; its arguments: alarm, zone, all/, "req-0001"],
    ["a verb in the payload", "ack", () => json(signed({ args: { alarm: "offgas-a", verb: "ack" } })), "malformed", /field "verb": leave it out/, "req-0001"],
    ["a __proto__ key", "ack", () => json(signed()).replace(/^\{/, '{"__proto__":{"x":1},'), "malformed", /unknown field "__proto__"/, "req-0001"],
    ["ack with alarm and zone", "ack", () => json(signed({ args: { alarm: "offgas-a", zone: "batt-a" } })), "malformed", /give exactly one of alarm, zone, all \(got alarm and zone\)/, "req-0001"],
    ["ack with nothing", "ack", () => json(signed({ args: {} })), "malformed", /give exactly one of alarm, zone, all/, "req-0001"],
    ["ack all: false", "ack", () => json(signed({ args: { all: false } })), "malformed", /field "all"/, "req-0001"],
    ["shelve for 0 s", "shelve", () => json(signed({ verb: "shelve", args: { alarm: "a", durationS: 0, reason: "r" } })), "malformed", /field "durationS": must be more than 0 seconds/, "req-0001"],
    ["shelve without a reason", "shelve", () => json(signed({ verb: "shelve", args: { alarm: "a", durationS: 60 } })), "malformed", /field "reason": is missing/, "req-0001"],
    ["shelve with a blank reason", "shelve", () => json(signed({ verb: "shelve", args: { alarm: "a", durationS: 60, reason: "  " } })), "malformed", /field "reason": must not be empty/, "req-0001"],
    ["out_of_service with no reason", "out_of_service", () => json(signed({ verb: "out_of_service", args: { device: "cab1" } })), "malformed", /field "reason": is missing/, "req-0001"],
    ["return_to_service of alarm and device", "return_to_service", () => json(signed({ verb: "return_to_service", args: { device: "cab1", alarm: "x" } })), "malformed", /exactly one of alarm, device/, "req-0001"],
    ["maintenance on without a reason", "maintenance", () => json(signed({ verb: "maintenance", args: { zone: "batt-a", on: true } })), "malformed", /field "reason": a zone put in maintenance needs a reason/, "req-0001"],
    ["maintenance off with an end time", "maintenance", () => json(signed({ verb: "maintenance", args: { zone: "batt-a", on: false, untilTs: "2026-11-25T05:00:00.000Z" } })), "malformed", /field "untilTs": untilTs goes only with on: true/, "req-0001"],
    ["a zone id with a slash", "clear", () => json(signed({ verb: "clear", args: { zone: "batt/a" } })), "malformed", /field "zone"/, "req-0001"],
    ["status with an argument", "status", () => json(signed({ verb: "status", args: { zone: "batt-a" } })), "malformed", /unknown field "zone" for status; its arguments: none/, "req-0001"],
    ["an unknown verb", "reboot", () => json(signed()), "unknown_verb", /"reboot" is not a command; known: ack, shelve/, "req-0001"],
    ["another site's command", "ack", () => json(signed({ site: "dc2" })), "wrong_site", /for site "dc2"; this daemon serves "dc1"/, "req-0001"],
    ["an operator not in the config", "ack", () => json(signed({ by: "mallory", key: mallory.privateKey })), "unknown_operator", /^operator "mallory" is not among this site's operators$/, "req-0001"],
    ["alice's name signed with another key", "ack", () => json(signed({ key: mallory.privateKey })), "bad_signature", /does not verify with alice's public key/, "req-0001"],
    ["a field changed after signing", "ack", () => tamper(signed(), "alarm", "cell-dev-a"), "bad_signature", /payload was changed after signing/, "req-0001"],
    ["the time changed after signing", "ack", () => tamper(signed({ tsMs: NOW - 60_000 }), "ts", new Date(NOW).toISOString()), "bad_signature", /does not verify/, "req-0001"],
    ["a signed ack replayed on cmd/clear", "clear", () => json(signed({ verb: "ack", args: { zone: "batt-a" } })), "bad_signature", /for verb clear/, "req-0001"],
    ["a truncated signature", "ack", () => tamper(signed(), "sig", "ed25519:AAAA"), "bad_signature", /the signature is 3 bytes; an Ed25519 signature is 64/, "req-0001"],
    ["a command 45 s old", "ack", () => json(signed({ tsMs: NOW - 45_000 })), "stale", /^command time is 45 s off the daemon's clock \(behind it: an old or delayed command\); allowed ±30 s$/, "req-0001"],
    ["a command 31 s in the future", "ack", () => json(signed({ tsMs: NOW + 31_000 })), "stale", /^command time is 31 s off the daemon's clock \(ahead of it: check the operator's clock\); allowed ±30 s$/, "req-0001"],
  ])("%s", (_name, verb, payload, code, reason, requestId) => {
    const r = verifyCommand({ verb, payload: payload() }, ctx());
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.code).toBe(code);
    expect(r.reason).toMatch(reason);
    expect(r.requestId).toBe(requestId);
  });

  it("refuses a request id it has already accepted", () => {
    const r = verifyCommand({ verb: "ack", payload: json(signed()) }, ctx({ seen: (id) => id === "req-0001" }));
    expect(r).toEqual({ ok: false, code: "replayed", reason: expect.stringMatching(/request id req-0001 was already accepted/) as unknown, requestId: "req-0001" });
  });

  it("checks in order: an unsigned stranger learns neither the clock nor the replay memory", () => {
    const asked: string[] = [];
    const seen = (id: string) => (asked.push(id), true);
    const old = NOW - 3_600_000;
    const verdict = (p: Record<string, JsonValue>, verb = "ack") => {
      const r = verifyCommand({ verb, payload: json(p) }, ctx({ seen }));
      return r.ok ? "ok" : r.code;
    };
    expect(verdict(signed({ site: "dc2", tsMs: old, by: "mallory" }))).toBe("wrong_site");
    expect(verdict(signed({ by: "mallory", key: mallory.privateKey, tsMs: old }))).toBe("unknown_operator");
    expect(verdict(signed({ key: mallory.privateKey, tsMs: old }))).toBe("bad_signature");
    expect(asked).toEqual([]);
    expect(verdict(signed({ tsMs: old }))).toBe("stale");
    expect(asked).toEqual([]);
    expect(verdict(signed())).toBe("replayed");
    expect(asked).toEqual(["req-0001"]);
    expect(verdict(signed({ args: { alarm: "a", zone: "b" } }), "nope")).toBe("unknown_verb");
  });
});

describe("replies", () => {
  const t = topics("dc1");
  const from = { site: "dc1", instance: "room-1" };

  it("an accepted command's reply: its topic, QoS 1, not retained, and every field", () => {
    const r = verifyCommand({ verb: "ack", payload: json(signed()) }, ctx());
    if (!r.ok) throw new Error(r.reason);
    const m = acceptedReply(t, from, r.command, { alarms: [{ id: "offgas-a", state: "ack" }] }, NOW + 5);
    expect(m).toMatchObject({ topic: "firebreak/v1/dc1/cmd/reply/req-0001", qos: 1, retain: false });
    expect(JSON.parse(m.payload)).toEqual({
      v: 1,
      ts: "2026-11-25T03:12:09.417Z",
      requestId: "req-0001",
      verb: "ack",
      by: "alice",
      site: "dc1",
      instance: "room-1",
      ok: true,
      result: { alarms: [{ id: "offgas-a", state: "ack" }] },
    });
    expect(parseReply(m.payload)).toMatchObject({ ok: true, verb: "ack", by: "alice" });
  });

  it("a refusal's reply carries code and reason; without a usable request id there is none", () => {
    const stale = verifyCommand({ verb: "ack", payload: json(signed({ tsMs: NOW - 45_000 })) }, ctx());
    if (stale.ok) throw new Error("accepted");
    const m = replyToRefusal(t, from, "ack", stale, NOW)!;
    expect(m.topic).toBe("firebreak/v1/dc1/cmd/reply/req-0001");
    expect(JSON.parse(m.payload)).toEqual({ v: 1, ts: "2026-11-25T03:12:09.412Z", requestId: "req-0001", verb: "ack", instance: "room-1", ok: false, code: "stale", reason: stale.reason });
    const noId = verifyCommand({ verb: "ack", payload: "{" }, ctx());
    if (noId.ok) throw new Error("accepted");
    expect(replyToRefusal(t, from, "ack", noId, NOW)).toBeUndefined();
    expect(JSON.parse(refusedReply(t, from, { requestId: "req-0002", verb: "clear", code: "not_allowed", reason: "conditions still active" }, NOW).payload)).toMatchObject({ ok: false, code: "not_allowed" });
  });

  it("parseReply says what is wrong with a reply that is not v1", () => {
    expect(parseReply("nope")).toMatch(/^the reply is not JSON/);
    expect(parseReply(json({ v: 1, ok: true }))).toMatch(/^the reply does not have the v1 shape: ts: /);
  });
});
