// The protective-action audit on a real SQLite file (state store schema 3): every step kept in order
// across a reopen, a file at schema 2 migrated in place, and the memory a restart rebuilds from it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { recall } from "../../src/actions/memory.js";
import type { ActionOutcomeName } from "../../src/events.js";
import { MIGRATIONS, SCHEMA_VERSION } from "../../src/state/schema.js";
import { StateStore, stateFile } from "../../src/state/store.js";

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), "fb-actions-audit-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const step = (at: number, outcome: string, code?: string) => ({ at, action: "open-cab1-s1", device: "cab1", point: "s1/setCon", value: 2, zone: "batt-a", outcome, ...(code === undefined ? {} : { code }), detail: `${outcome} at ${at}`, record: JSON.stringify({ outcome }) });

describe("the actions audit", () => {
  it("keeps every step in order across a reopen; a restart's memory says performed and unverified", () => {
    const dir = tempDir();
    const a = StateStore.open({ dir, site: "dc1", instance: "main" });
    a.transaction(() => {
      a.auditAction(step(1000, "refused", "interlock"));
      a.auditAction(step(2000, "decided"));
    });
    a.close();
    const b = StateStore.open({ dir, site: "dc1", instance: "main" });
    const rows = b.actionAudit("open-cab1-s1", 500);
    expect(rows.map((r) => [r.at, r.outcome, r.code])).toEqual([[1000, "refused", "interlock"], [2000, "decided", undefined]]);
    expect(b.actionAudit("other", 500)).toEqual([]);
    const r = recall(rows.map((x) => ({ at: x.at, action: x.action, outcome: x.outcome as ActionOutcomeName, detail: x.detail, ...(x.code === undefined ? {} : { code: x.code }) })));
    expect(r).toMatchObject({ unverified: true, memory: { fired: true, attempts: [2000] } });
    b.close();
  });

  it("a file at schema 2 (before actions) is migrated, gets the actions table and keeps what it held", () => {
    const dir = tempDir();
    const file = stateFile(dir, "dc1", "main");
    const old = new Database(file);
    old.exec(MIGRATIONS[0]!);
    old.exec(MIGRATIONS[1]!);
    old.pragma("user_version = 2");
    old.prepare("INSERT INTO evacuations (zone, record) VALUES (?, ?)").run("batt-a", '{"kept":true}');
    old.close();
    const s = StateStore.open({ dir, site: "dc1", instance: "main" });
    expect(s.load().evacuations).toEqual([{ kept: true }]);
    s.auditAction(step(5, "dry_run"));
    expect(s.actionAudit("open-cab1-s1", 10).map((r) => r.outcome)).toEqual(["dry_run"]);
    s.close();
    const check = new Database(file, { readonly: true });
    expect(check.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'actions'").get()).toEqual({ name: "actions" });
    check.close();
  });
});
