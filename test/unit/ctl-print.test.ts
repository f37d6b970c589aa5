import { describe, expect, it } from "vitest";
import { describeReply, describeSilence, table } from "../../src/cli/ctl-print.js";
import { parseDuration } from "../../src/cli/ctl.js";
import type { Reply } from "../../src/commands/reply.js";

const accepted = (verb: string, result: Record<string, unknown>): Reply => ({ v: 1, ts: "t", requestId: "r1234567", verb, by: "alice", site: "dc1", instance: "room-1", ok: true, result });

describe("firebreak ctl's words", () => {
  it.each([
    ["90s", 90],
    ["30m", 1800],
    ["2h", 7200],
    ["1d", 86400],
    ["1h30m", 5400],
    ["0.5h", 1800],
  ])("duration %s is %d s", (text, s) => expect(parseDuration(text)).toBe(s));

  it.each(["", "30", "m", "-5m", "0s", "5 m", "1w"])("refuses the duration %j", (text) => expect(() => parseDuration(text)).toThrow(/is not a duration/));

  it.each<[Parameters<typeof describeReply>[0], Record<string, unknown>, string]>([
    [{ verb: "ack", args: { alarm: "offgas-a" } }, { alarms: [{ id: "offgas-a", state: "ack" }] }, "accepted: alarm offgas-a acknowledged by alice; now ack"],
    [{ verb: "ack", args: { zone: "batt-a" } }, { alarms: [{ id: "offgas-a", state: "ack" }, { id: "cell-dev-a", state: "normal" }] }, "accepted: alarms of zone batt-a acknowledged by alice; now offgas-a ack, cell-dev-a normal"],
    [{ verb: "ack", args: { all: true } }, { alarms: [] }, "accepted: all alarms acknowledged by alice; nothing needed changing"],
    [{ verb: "shelve", args: { alarm: "a", durationS: 1800, reason: "r" } }, { alarms: [{ id: "a", state: "shelved" }], until: "2026-11-25T04:00:00.000Z" }, "accepted: alarm a shelved for 1800 s by alice; now shelved, until 2026-11-25T04:00:00.000Z"],
    [{ verb: "out_of_service", args: { device: "cab1", reason: "r" } }, { devices: [{ device: "cab1", inService: false }] }, "accepted: device cab1 taken out of service by alice; now device cab1 out of service"],
    [{ verb: "clear", args: { zone: "batt-a" } }, { zones: [{ zone: "batt-a", stage: "normal", latched: false }] }, "accepted: zone batt-a cleared by alice; now zone batt-a normal"],
    [{ verb: "maintenance", args: { zone: "batt-a", on: true, reason: "r" } }, { zones: [{ zone: "batt-a", stage: "normal", maintenance: true, maintenanceUntil: "2026-11-25T06:00:00.000Z" }] }, "accepted: zone batt-a put in maintenance by alice; now zone batt-a normal, in maintenance until 2026-11-25T06:00:00.000Z"],
  ])("%j", (request, result, text) => {
    expect(describeReply(request, accepted(request.verb, result))).toEqual({ text, exitCode: 0 });
  });

  it("a refusal prints its code and the daemon's reason, exit 3", () => {
    const r: Reply = { v: 1, ts: "t", requestId: "r1234567", verb: "ack", ok: false, code: "stale", reason: "command time is 45 s off" };
    expect(describeReply({ verb: "ack", args: { all: true } }, r)).toEqual({ text: "refused (stale): command time is 45 s off", exitCode: 3 });
  });

  it("a status result that is not v1 is reported, not printed as if it were", () => {
    expect(describeReply({ verb: "status", args: {} }, accepted("status", { zones: "x" })).text).toMatch(/^accepted, but the status result is not in the v1 shape \(zones: /);
  });

  it("tables pad columns and say (none) when empty", () => {
    expect(table(["id", "state"], [["offgas-a", "ack"], ["x", "unack"]])).toBe("  id        state\n  offgas-a  ack\n  x         unack");
    expect(table(["id"], [])).toBe("  (none)");
  });

  it("silence: names the daemon's retained status and whether anyone subscribes", () => {
    const s = describeSilence("dc1", "r1234567", 10, '{"status":"offline","instance":"room-1","ts":"2026-11-25T03:00:00.000Z"}', true);
    expect(s).toContain("nobody subscribes to firebreak/v1/dc1/cmd/");
    expect(s).toContain("offline (instance room-1, at 2026-11-25T03:00:00.000Z): the daemon is not running or lost its connection");
  });
});
