// The reference consumer's record of what it handled (one SQLite file, WAL, synchronous FULL): each
// trigger id with its hosts and their state. A host is marked `running` and committed before its
// action starts, so a trigger seen again (re-announced, delivered twice, published by two daemons)
// or a restart after kill -9 never runs a host's action a second time.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { StateStoreError } from "../errors.js";

export type HostState = "pending" | "running" | "done" | "failed";

export interface HostRow {
  readonly host: string;
  readonly rack?: string;
  readonly state: HostState;
  readonly reason?: string;
}

export interface TriggerRow {
  readonly id: string;
  readonly zone: string;
  readonly incident: number;
  /** The newest announcement's `ts` seen, ms. */
  readonly lastTs: number;
  readonly hosts: readonly HostRow[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS triggers (id TEXT PRIMARY KEY, zone TEXT NOT NULL, incident INTEGER NOT NULL, last_ts INTEGER NOT NULL, first_seen INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hosts (
  trigger_id TEXT NOT NULL REFERENCES triggers(id), host TEXT NOT NULL, rack TEXT, state TEXT NOT NULL,
  reason TEXT, started_at INTEGER, finished_at INTEGER, PRIMARY KEY (trigger_id, host)
);
`;

export class ConsumerStore {
  readonly #db: Database.Database;

  private constructor(db: Database.Database) {
    this.#db = db;
  }

  static open(file: string): ConsumerStore {
    let db: Database.Database;
    try {
      mkdirSync(dirname(file), { recursive: true, mode: 0o750 });
      db = new Database(file, { timeout: 2000 });
    } catch (err) {
      throw new StateStoreError(`cannot open ${file}: ${(err as Error).message}; check state_file and its directory's permissions`);
    }
    try {
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = FULL");
      // One consumer per file: two would each run the other's hosts.
      db.pragma("locking_mode = EXCLUSIVE");
      db.exec(SCHEMA);
      return new ConsumerStore(db);
    } catch (err) {
      db.close();
      const msg = (err as Error).message;
      throw new StateStoreError(/locked|busy/i.test(msg) ? `${file} is in use by another consumer process; one consumer per state file` : `cannot use ${file}: ${msg}`);
    }
  }

  get(id: string): TriggerRow | undefined {
    const t = this.#db.prepare<[string], { id: string; zone: string; incident: number; last_ts: number }>("SELECT id, zone, incident, last_ts FROM triggers WHERE id = ?").get(id);
    if (t === undefined) return undefined;
    const hosts = this.#db
      .prepare<[string], { host: string; rack: string | null; state: string; reason: string | null }>("SELECT host, rack, state, reason FROM hosts WHERE trigger_id = ? ORDER BY rowid")
      .all(id)
      .map((h): HostRow => ({ host: h.host, state: h.state as HostState, ...(h.rack === null ? {} : { rack: h.rack }), ...(h.reason === null ? {} : { reason: h.reason }) }));
    return { id: t.id, zone: t.zone, incident: t.incident, lastTs: t.last_ts, hosts };
  }

  /** A new trigger and its hosts, all pending, in one transaction. */
  add(t: { id: string; zone: string; incident: number; tsMs: number; hosts: readonly { host: string; rack?: string }[] }, now: number): void {
    this.#db.transaction(() => {
      this.#db.prepare("INSERT INTO triggers (id, zone, incident, last_ts, first_seen) VALUES (?, ?, ?, ?, ?)").run(t.id, t.zone, t.incident, t.tsMs, now);
      const put = this.#db.prepare("INSERT OR IGNORE INTO hosts (trigger_id, host, rack, state) VALUES (?, ?, ?, 'pending')");
      for (const h of t.hosts) put.run(t.id, h.host, h.rack ?? null);
    })();
  }

  seen(id: string, tsMs: number): void {
    this.#db.prepare("UPDATE triggers SET last_ts = max(last_ts, ?) WHERE id = ?").run(tsMs, id);
  }

  /** Committed before the action starts: after a crash, this host is never run again. */
  markRunning(id: string, host: string, now: number): void {
    this.#db.prepare("UPDATE hosts SET state = 'running', started_at = ? WHERE trigger_id = ? AND host = ?").run(now, id, host);
  }

  finish(id: string, host: string, ok: boolean, reason: string | undefined, now: number): void {
    this.#db.prepare("UPDATE hosts SET state = ?, reason = ?, finished_at = ? WHERE trigger_id = ? AND host = ?").run(ok ? "done" : "failed", reason ?? null, now, id, host);
  }

  /**
   * After a restart: hosts whose action was running when the consumer died are failed (their action
   * may or may not have finished; running it again would break the once-per-host promise). Returns
   * the triggers with hosts still to do or to report.
   */
  recover(now: number): { interrupted: { id: string; host: string }[]; open: string[] } {
    const interrupted = this.#db.prepare<[], { trigger_id: string; host: string }>("SELECT trigger_id, host FROM hosts WHERE state = 'running'").all();
    this.#db
      .prepare("UPDATE hosts SET state = 'failed', finished_at = ?, reason = 'interrupted: the consumer stopped while this action ran; not run again (once per host), check this host by hand' WHERE state = 'running'")
      .run(now);
    const open = this.#db.prepare<[], { trigger_id: string }>("SELECT DISTINCT trigger_id FROM hosts WHERE state = 'pending'").all().map((r) => r.trigger_id);
    return { interrupted: interrupted.map((r) => ({ id: r.trigger_id, host: r.host })), open: [...new Set([...open, ...interrupted.map((r) => r.trigger_id)])] };
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
