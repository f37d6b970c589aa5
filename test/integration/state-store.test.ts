// The state store on a real SQLite file: what is committed is there after reopening, a second
// process cannot open the same file, a newer schema is refused, and a process killed in the middle
// of writing leaves a file that opens with every committed transaction.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { StateStoreError } from "../../src/errors.js";
import { SCHEMA_VERSION } from "../../src/state/schema.js";
import { StateStore, stateFile } from "../../src/state/store.js";

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), "fb-state-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const msg = (topic: string) => ({ topic, payload: `{"t":"${topic}"}`, qos: 1 as const, retain: false, kind: "event" as const });

describe("state store", () => {
  it("keeps zones, alarms, incidents, seq and the unsent journal across a reopen, and counts boots", () => {
    const dir = tempDir();
    const a = StateStore.open({ dir, site: "dc1", instance: "main" });
    expect(a.boots).toBe(1);
    const zone = { zone: "batt-a", stage: "evacuate", latched: true };
    const alarm = { id: "offgas-a", state: "unack" };
    const incident = { zone: "batt-a", closedUpTo: 3, open: 4 };
    a.transaction(() => {
      a.saveZones([zone]);
      a.saveAlarms([alarm]);
      a.saveIncidents([incident]);
      a.saveAlarmState({ flood: [1, 2] });
      a.saveSeq(42);
    });
    const ids = a.appendOutbox([msg("e1"), msg("e2"), msg("e3")], 1000);
    a.outboxDone([ids[1]!]);
    a.close();

    const b = StateStore.open({ dir, site: "dc1", instance: "main" });
    const pic = b.load();
    expect(pic.boots).toBe(2);
    expect(pic.seq).toBe(42);
    expect(pic.zones).toEqual([{ zone: "batt-a", stage: "evacuate", latched: true }]);
    expect(pic.alarms).toEqual([{ id: "offgas-a", state: "unack" }]);
    expect(pic.incidents).toEqual([{ zone: "batt-a", closedUpTo: 3, open: 4 }]);
    expect(pic.alarmState).toEqual({ flood: [1, 2] });
    expect(pic.outbox.map((e) => e.msg.topic)).toEqual(["e1", "e3"]);
    b.close();
  });

  it("a transaction that throws leaves nothing of itself", () => {
    const s = StateStore.open({ dir: tempDir(), site: "dc1", instance: "main" });
    s.saveSeq(1);
    expect(() =>
      s.transaction(() => {
        s.saveSeq(2);
        s.appendOutbox([msg("x")], 1);
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(s.load().seq).toBe(1);
    expect(s.outboxSize()).toBe(0);
    s.close();
  });

  it("remembers request ids for replay refusal and forgets those past the window", () => {
    const s = StateStore.open({ dir: tempDir(), site: "dc1", instance: "main" });
    s.recordRequest("req-00000001", 1000, 0);
    expect(s.seenRequest("req-00000001")).toBe(true);
    expect(s.seenRequest("req-00000002")).toBe(false);
    s.recordRequest("req-00000002", 70_000, 5000); // prunes everything older than 5000
    expect(s.seenRequest("req-00000001")).toBe(false);
    expect(s.seenRequest("req-00000002")).toBe(true);
    s.close();
  });

  it("audits commands in order", () => {
    const s = StateStore.open({ dir: tempDir(), site: "dc1", instance: "main" });
    s.audit({ at: 1, verb: "ack", operator: "alice", requestId: "r-00000001", ok: true, detail: "alarm x acknowledged" });
    s.audit({ at: 2, verb: "clear", ok: false, code: "bad_signature", detail: "signature does not verify" });
    expect(s.auditTail(10).map((r) => [r.verb, r.ok, r.code ?? ""])).toEqual([
      ["ack", true, ""],
      ["clear", false, "bad_signature"],
    ]);
    s.close();
  });

  it("refuses a file held by another open store, and a newer schema", () => {
    const dir = tempDir();
    const a = StateStore.open({ dir, site: "dc1", instance: "main" });
    a.saveSeq(1); // the exclusive lock is taken at the first write
    expect(() => StateStore.open({ dir, site: "dc1", instance: "main", lockWaitMs: 200 })).toThrow(/in use by another firebreak process/);
    a.close();

    const newer = new Database(stateFile(dir, "dc1", "main"));
    newer.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    newer.close();
    const err = (() => {
      try {
        StateStore.open({ dir, site: "dc1", instance: "main" });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(StateStoreError);
    expect(String(err)).toMatch(/schema version \d+, newer than this firebreak knows/);
  });

  it("a process killed with SIGKILL while committing leaves a file that opens with every committed transaction", async () => {
    const dir = tempDir();
    StateStore.open({ dir, site: "dc1", instance: "main" }).close();
    // A writer in its own process: one transaction per seq (the seq and its message together), as
    // fast as it can, reporting each commit on stdout. We kill it mid-stream.
    const script = `
      import { StateStore } from ${JSON.stringify(new URL("../../src/state/store.ts", import.meta.url).pathname.replace(/\.ts$/, ".js").replace("/src/", "/dist/src/"))};
      const s = StateStore.open({ dir: ${JSON.stringify(dir)}, site: "dc1", instance: "main" });
      for (let i = 1; i < 1e9; i++) {
        s.transaction(() => { s.saveSeq(i); s.appendOutbox([{ topic: "e" + i, payload: "{}", qos: 1, retain: false, kind: "event" }], i); });
        process.stdout.write(i + "\\n");
      }`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    await new Promise<void>((resolve, reject) => {
      const bound = setTimeout(() => reject(new Error(`the writer never committed 50 transactions: ${err}`)), 20_000);
      child.stdout.on("data", (b: Buffer) => {
        out += b.toString();
        if (out.split("\n").length > 50) {
          clearTimeout(bound);
          resolve();
        }
      });
    });
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const reported = Math.max(...out.split("\n").filter((l) => l !== "").map(Number));

    const s = StateStore.open({ dir, site: "dc1", instance: "main" });
    const pic = s.load();
    // Every commit it reported is there; at most the one in flight at the kill is beyond it.
    expect(pic.seq).toBeGreaterThanOrEqual(reported);
    expect(pic.seq - reported).toBeLessThanOrEqual(1);
    // The seq and its message were committed together: never one without the other.
    expect(pic.outbox.length).toBe(pic.seq);
    expect(pic.outbox.at(-1)?.msg.topic).toBe(`e${pic.seq}`);
    s.close();
  });
});
