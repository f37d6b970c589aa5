// firebreak ctl with several daemons on one site: every reply under its instance, the worst exit code.
import { describe, expect, it } from "vitest";
import { describeReplies } from "../../src/cli/ctl-print.js";
import type { Reply } from "../../src/commands/reply.js";

const clear = { verb: "clear", args: { zone: "batt-a" } } as const;
const ok = (instance: string): Reply => ({ v: 1, ts: "t", requestId: "r1234567", verb: "clear", by: "alice", site: "dc1", instance, ok: true, result: { zones: [{ zone: "batt-a", stage: "normal", latched: false }] } });
const no = (instance: string): Reply => ({ v: 1, ts: "t", requestId: "r1234567", verb: "clear", instance, ok: false, code: "not_allowed", reason: "zone batt-a conditions are not clear: evacuate still raised by offgas-a" });

describe("ctl replies from several daemons", () => {
  it("one expected, one came: as before", () => {
    expect(describeReplies(clear, [ok("a")], 1)).toEqual({ out: "accepted: zone batt-a cleared by alice; now zone batt-a normal", err: "", exitCode: 0 });
    expect(describeReplies(clear, [no("a")], 1)).toMatchObject({ out: "", exitCode: 3 });
  });

  it("one expected, two came: the first decides, and a note names the other", () => {
    const r = describeReplies(clear, [ok("a"), no("b")], 1);
    expect(r.exitCode).toBe(0);
    expect(r.out).toContain("instance a answered first; b answered too: use --instances 2");
  });

  it("two expected, both accept: each under its instance, exit 0", () => {
    const r = describeReplies(clear, [ok("a"), ok("b")], 2);
    expect(r).toEqual({ out: "[a] accepted: zone batt-a cleared by alice; now zone batt-a normal\n[b] accepted: zone batt-a cleared by alice; now zone batt-a normal", err: "", exitCode: 0 });
  });

  it("two expected, they disagree: both printed, the disagreement said, exit 3", () => {
    const r = describeReplies(clear, [ok("a"), no("b")], 2);
    expect(r.exitCode).toBe(3);
    expect(r.out).toContain("[b] refused (not_allowed)");
    expect(r.err).toBe("the daemons disagree: a accepted, b refused");
  });

  it("two expected, one came: exit 1, naming who answered", () => {
    const r = describeReplies(clear, [ok("a")], 2);
    expect(r.exitCode).toBe(1);
    expect(r.err).toMatch(/^only 1 of 2 daemons answered \(a\)/);
  });
});
