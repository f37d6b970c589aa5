// The history's disk buffer: rows wait here, in their own SQLite file beside the state store
// (`<site>-<instance>-history.sqlite` in state_dir), until InfluxDB has taken them, so history
// survives InfluxDB being away and the daemon's own restart. Its own file, not the state store:
// history is bulk (hundreds of rows a second) and must never slow or bloat the decisions' file.
// Bounded: past `limit` rows the oldest point values go first, then the oldest events; every drop
// is counted, and the count is kept in the file.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { StateStoreError } from "../../errors.js";
import type { Row } from "./rows.js";

export interface BufferedRow {
  readonly id: number;
  readonly row: Row;
}

export function historyBufferFile(dir: string, site: string, instance: string): string {
  return join(dir, `${site}-${instance}-history.sqlite`);
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY AUTOINCREMENT, is_point INTEGER NOT NULL, row TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS rows_point ON rows (is_point, id);
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
`;

export class HistoryBuffer {
  readonly file: string;
  readonly #db: Database.Database;
  readonly #limit: number;
  readonly #insert: Database.Statement;
  readonly #peek: Database.Statement;
  readonly #remove: Database.Statement;
  readonly #saveDropped: Database.Statement;
  #size: number;
  #dropped: number;

  private constructor(file: string, db: Database.Database, limit: number) {
    this.file = file;
    this.#db = db;
    this.#limit = limit;
    this.#insert = db.prepare("INSERT INTO rows (is_point, row) VALUES (?, ?)");
    this.#peek = db.prepare("SELECT id, row FROM rows ORDER BY id LIMIT ?");
    this.#remove = db.prepare("DELETE FROM rows WHERE id <= ?");
    this.#saveDropped = db.prepare("INSERT INTO meta (key, value) VALUES ('dropped', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    this.#size = (db.prepare("SELECT count(*) AS n FROM rows").get() as { n: number }).n;
    this.#dropped = (db.prepare("SELECT value FROM meta WHERE key = 'dropped'").get() as { value: number } | undefined)?.value ?? 0;
  }

  /** Open (or create) the buffer file; a file that cannot be used throws FB_STATE with the path. */
  static open(dir: string, site: string, instance: string, limit: number): HistoryBuffer {
    const file = historyBufferFile(dir, site, instance);
    try {
      mkdirSync(dir, { recursive: true });
      const db = new Database(file, { timeout: 2000 });
      db.pragma("journal_mode = WAL");
      // History, not decisions: a power cut may cost the last second of rows, never the file.
      db.pragma("synchronous = NORMAL");
      db.exec(SCHEMA);
      return new HistoryBuffer(file, db, limit);
    } catch (err) {
      throw new StateStoreError(`cannot open the history buffer ${file}: ${(err as Error).message}; check state_dir and its permissions`);
    }
  }

  get size(): number {
    return this.#size;
  }

  /** Rows dropped because the buffer was full, over the file's life. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Append rows in one transaction, then drop past the limit. */
  add(rows: readonly Row[]): void {
    if (rows.length === 0) return;
    this.#db.transaction(() => {
      for (const r of rows) this.#insert.run(r.measurement === "point" ? 1 : 0, JSON.stringify(r));
      this.#size += rows.length;
      const over = this.#size - this.#limit;
      if (over > 0) this.#drop(over);
    })();
  }

  #drop(n: number): void {
    const points = this.#db.prepare("DELETE FROM rows WHERE id IN (SELECT id FROM rows WHERE is_point = 1 ORDER BY id LIMIT ?)").run(n).changes;
    const events = points < n ? this.#db.prepare("DELETE FROM rows WHERE id IN (SELECT id FROM rows ORDER BY id LIMIT ?)").run(n - points).changes : 0;
    this.#size -= points + events;
    this.#dropped += points + events;
    this.#saveDropped.run(this.#dropped);
  }

  /** The oldest `n` rows, in order; they stay until remove(). */
  peek(n: number): BufferedRow[] {
    return (this.#peek.all(n) as { id: number; row: string }[]).map((r) => ({ id: r.id, row: JSON.parse(r.row) as Row }));
  }

  /** InfluxDB took (or refused for good) every row up to and including `id`. */
  remove(upToId: number): void {
    this.#size -= this.#remove.run(upToId).changes;
  }

  close(): void {
    this.#db.close();
  }
}
