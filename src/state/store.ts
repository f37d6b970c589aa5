// The durable state store: one SQLite file (WAL, synchronous FULL) in the configured state_dir that
// holds every decision the daemon has published: alarm records, zone pictures, incident numbers and
// open triggers, the event sequence number, the command audit and replay window, and the QoS 1
// messages the broker has not acknowledged yet. The runtime commits a decision here before it
// publishes it; on start it restores this picture before it publishes anything.
// This module knows tables and JSON, not the rules of the core: it stores what it is given.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { StateStoreError } from "../errors.js";
import { MIGRATIONS, SCHEMA_VERSION } from "./schema.js";

/** A QoS 1 message as the MQTT output hands it over (its fields, not its type: state/ sits below outputs/). */
export interface JournalMessage {
  readonly topic: string;
  readonly payload: string;
  readonly qos: 0 | 1;
  readonly retain: boolean;
  readonly kind: "status" | "state" | "event" | "telemetry";
}

export interface JournalEntry {
  readonly id: number;
  readonly msg: JournalMessage;
}

export interface AuditEntry {
  readonly at: number;
  readonly requestId?: string;
  readonly verb: string;
  readonly operator?: string;
  readonly ok: boolean;
  readonly code?: string;
  readonly detail: string;
  /** The command as received (without its signature), for the record. */
  readonly command?: string;
}

export interface AuditRow extends AuditEntry {
  readonly id: number;
}

/** One step of a protective action, as audited (the event's fields; `record` is the whole event as JSON). */
export interface ActionAuditEntry {
  readonly at: number;
  readonly action: string;
  readonly device: string;
  readonly point: string;
  readonly value: number;
  readonly zone: string;
  readonly outcome: string;
  readonly code?: string;
  readonly detail: string;
  readonly record: string;
}

/** Everything the store holds about the picture, as the core exported it (JSON values). */
export interface StoredPicture {
  /** Starts of this instance so far, this one included. */
  readonly boots: number;
  /** The last event sequence number published (0: none yet). */
  readonly seq: number;
  readonly zones: readonly unknown[];
  readonly alarms: readonly unknown[];
  /** The annunciator's state beyond its records (maintenance, flood window …). */
  readonly alarmState: unknown;
  readonly incidents: readonly unknown[];
  /** Evacuation tracking per zone (src/evacuation/tracker.ts), as saved. */
  readonly evacuations: readonly unknown[];
  readonly outbox: readonly JournalEntry[];
}

export interface OpenOptions {
  readonly dir: string;
  readonly site: string;
  readonly instance: string;
  /**
   * How long to wait for a file another process holds before refusing it. A daemon restarted right
   * after a crash may find its predecessor still exiting; a second daemon never gets the file.
   */
  readonly lockWaitMs?: number;
}

/** [operational choice] long enough for a killed predecessor to be reaped on a loaded machine. */
const DEFAULT_LOCK_WAIT_MS = 10_000;

/** `<site>-<instance>.sqlite`: two daemons of one site may share a state directory, never a file. */
export function stateFile(dir: string, site: string, instance: string): string {
  return join(dir, `${site}-${instance}.sqlite`);
}

function parse(table: string, key: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new StateStoreError(`row ${key} of table ${table} is not JSON (${(err as Error).message}); the file was edited by hand or damaged`);
  }
}

export class StateStore {
  readonly file: string;
  readonly #db: Database.Database;
  readonly #st: ReturnType<StateStore["prepare"]>;
  readonly boots: number;

  private constructor(file: string, db: Database.Database, opts: OpenOptions) {
    this.file = file;
    this.#db = db;
    this.#st = this.prepare();
    const owner = this.#meta("owner");
    const me = `${opts.site}/${opts.instance}`;
    if (owner !== undefined && owner !== me) {
      throw new StateStoreError(`${file} belongs to ${owner}, not ${me}; give each instance its own file (the name is <site>-<instance>.sqlite)`);
    }
    this.boots = Number(this.#meta("boots") ?? "0") + 1;
    this.#db.transaction(() => {
      this.#setMeta("owner", me);
      this.#setMeta("boots", String(this.boots));
    })();
  }

  /**
   * Open (creating the directory and file if needed) and migrate. Refuses a file another process
   * holds (an exclusive lock: two daemons writing one picture would each undo the other's decisions)
   * and a file from a newer schema.
   */
  static open(opts: OpenOptions): StateStore {
    const file = stateFile(opts.dir, opts.site, opts.instance);
    let db: Database.Database;
    try {
      mkdirSync(opts.dir, { recursive: true, mode: 0o750 });
      db = new Database(file, { timeout: opts.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS });
    } catch (err) {
      throw new StateStoreError(`cannot open ${file}: ${(err as Error).message}; check state_dir and its permissions`);
    }
    try {
      // WAL: a crash at any instant leaves the last committed transaction intact. FULL: a commit is
      // on disk before we publish the decision it holds, power loss included. EXCLUSIVE: one process.
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = FULL");
      db.pragma("locking_mode = EXCLUSIVE");
      db.pragma("foreign_keys = ON");
      const check = db.pragma("quick_check", { simple: true }) as string;
      if (check !== "ok") throw new StateStoreError(`${file} failed its integrity check (${check}); move it aside to start with an empty picture`);
      migrate(db, file);
      return new StateStore(file, db, opts);
    } catch (err) {
      db.close();
      if (err instanceof StateStoreError) throw err;
      const msg = (err as Error).message;
      if (/locked|busy/i.test(msg)) throw new StateStoreError(`${file} is in use by another firebreak process; one instance per state file`);
      throw new StateStoreError(`cannot use ${file}: ${msg}`);
    }
  }

  private prepare() {
    const db = this.#db;
    return {
      getMeta: db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE key = ?"),
      setMeta: db.prepare<[string, string]>("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
      putAlarm: db.prepare<[string, string]>("INSERT INTO alarms (id, record) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET record = excluded.record"),
      putZone: db.prepare<[string, string]>("INSERT INTO zones (id, snapshot) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET snapshot = excluded.snapshot"),
      putIncident: db.prepare<[string, string]>("INSERT INTO incidents (zone, record) VALUES (?, ?) ON CONFLICT(zone) DO UPDATE SET record = excluded.record"),
      allAlarms: db.prepare<[], { id: string; record: string }>("SELECT id, record FROM alarms ORDER BY id"),
      allZones: db.prepare<[], { id: string; snapshot: string }>("SELECT id, snapshot FROM zones ORDER BY id"),
      allEvacuations: db.prepare<[], { zone: string; record: string }>("SELECT zone, record FROM evacuations ORDER BY zone"),
      putEvacuation: db.prepare<[string, string]>("INSERT INTO evacuations (zone, record) VALUES (?, ?) ON CONFLICT(zone) DO UPDATE SET record = excluded.record"),
      delEvacuation: db.prepare<[string]>("DELETE FROM evacuations WHERE zone = ?"),
      allIncidents: db.prepare<[], { zone: string; record: string }>("SELECT zone, record FROM incidents ORDER BY zone"),
      addOutbox: db.prepare<[string, string, number, number, string, number]>("INSERT INTO outbox (topic, payload, qos, retain, kind, queued_at) VALUES (?, ?, ?, ?, ?, ?)"),
      delOutbox: db.prepare<[number]>("DELETE FROM outbox WHERE id = ?"),
      allOutbox: db.prepare<[], { id: number; topic: string; payload: string; qos: number; retain: number; kind: string }>("SELECT id, topic, payload, qos, retain, kind FROM outbox ORDER BY id"),
      countOutbox: db.prepare<[], { n: number }>("SELECT count(*) AS n FROM outbox"),
      seenRequest: db.prepare<[string], { at: number }>("SELECT at FROM requests WHERE request_id = ?"),
      addRequest: db.prepare<[string, number]>("INSERT OR IGNORE INTO requests (request_id, at) VALUES (?, ?)"),
      pruneRequests: db.prepare<[number]>("DELETE FROM requests WHERE at < ?"),
      addAudit: db.prepare<[number, string | null, string, string | null, number, string | null, string, string | null]>(
        "INSERT INTO audit (at, request_id, verb, operator, ok, code, detail, command) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      ),
      addActionAudit: db.prepare<[number, string, string, string, number, string, string, string | null, string, string]>(
        "INSERT INTO actions (at, action, device, point, value, zone, outcome, code, detail, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      ),
      actionAudit: db.prepare<[string, number], { at: number; action: string; device: string; point: string; value: number; zone: string; outcome: string; code: string | null; detail: string; record: string }>(
        "SELECT * FROM (SELECT * FROM actions WHERE action = ? ORDER BY id DESC LIMIT ?) ORDER BY id",
      ),
      tailAudit: db.prepare<[number], { id: number; at: number; request_id: string | null; verb: string; operator: string | null; ok: number; code: string | null; detail: string; command: string | null }>(
        "SELECT * FROM (SELECT * FROM audit ORDER BY id DESC LIMIT ?) ORDER BY id",
      ),
    };
  }

  #meta(key: string): string | undefined {
    return this.#st.getMeta.get(key)?.value;
  }

  #setMeta(key: string, value: string): void {
    this.#st.setMeta.run(key, value);
  }

  /** Run fn in one transaction (nested calls become savepoints): all of it is on disk, or none. */
  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn)();
  }

  /** The whole stored picture, for the restore at start. */
  load(): StoredPicture {
    const alarmState = this.#meta("alarm_state");
    return {
      boots: this.boots,
      seq: Number(this.#meta("seq") ?? "0"),
      zones: this.#st.allZones.all().map((r) => parse("zones", r.id, r.snapshot)),
      alarms: this.#st.allAlarms.all().map((r) => parse("alarms", r.id, r.record)),
      alarmState: alarmState === undefined ? undefined : parse("meta", "alarm_state", alarmState),
      incidents: this.#st.allIncidents.all().map((r) => parse("incidents", r.zone, r.record)),
      evacuations: this.#st.allEvacuations.all().map((r) => parse("evacuations", r.zone, r.record)),
      outbox: this.pendingOutbox(),
    };
  }

  saveAlarms(records: readonly { readonly id: string }[]): void {
    for (const r of records) this.#st.putAlarm.run(r.id, JSON.stringify(r));
  }

  saveAlarmState(state: unknown): void {
    this.#setMeta("alarm_state", JSON.stringify(state));
  }

  saveZones(zones: readonly { readonly zone: string }[]): void {
    for (const z of zones) this.#st.putZone.run(z.zone, JSON.stringify(z));
  }

  saveIncidents(incidents: readonly { readonly zone: string }[]): void {
    for (const i of incidents) this.#st.putIncident.run(i.zone, JSON.stringify(i));
  }

  /** Replace the evacuation tracking: `records` by zone; zones not among them are no longer tracked. */
  saveEvacuations(records: Readonly<Record<string, unknown>>): void {
    for (const r of this.#st.allEvacuations.all()) if (!(r.zone in records)) this.#st.delEvacuation.run(r.zone);
    for (const [zone, rec] of Object.entries(records)) this.#st.putEvacuation.run(zone, JSON.stringify(rec));
  }

  saveSeq(seq: number): void {
    this.#setMeta("seq", String(seq));
  }

  /** Journal QoS 1 messages before they are written to the broker; returns their ids, in order. */
  appendOutbox(msgs: readonly JournalMessage[], now: number): number[] {
    const ids: number[] = [];
    for (const m of msgs) ids.push(Number(this.#st.addOutbox.run(m.topic, m.payload, m.qos, m.retain ? 1 : 0, m.kind, now).lastInsertRowid));
    return ids;
  }

  /** The broker acknowledged these (or they were superseded or dropped, and counted as such). */
  outboxDone(ids: readonly number[]): void {
    if (ids.length === 0) return;
    this.transaction(() => {
      for (const id of ids) this.#st.delOutbox.run(id);
    });
  }

  pendingOutbox(): JournalEntry[] {
    return this.#st.allOutbox.all().map((r) => ({
      id: r.id,
      msg: { topic: r.topic, payload: r.payload, qos: r.qos === 1 ? 1 : 0, retain: r.retain === 1, kind: r.kind as JournalMessage["kind"] },
    }));
  }

  outboxSize(): number {
    return this.#st.countOutbox.get()?.n ?? 0;
  }

  /** A command's request id was seen before (replay), within the kept window. */
  seenRequest(requestId: string): boolean {
    return this.#st.seenRequest.get(requestId) !== undefined;
  }

  /** Remember a request id; forget those older than `keepAfter` (outside any acceptance window). */
  recordRequest(requestId: string, at: number, keepAfter: number): void {
    this.#st.addRequest.run(requestId, at);
    this.#st.pruneRequests.run(keepAfter);
  }

  audit(e: AuditEntry): void {
    this.#st.addAudit.run(e.at, e.requestId ?? null, e.verb, e.operator ?? null, e.ok ? 1 : 0, e.code ?? null, e.detail, e.command ?? null);
  }

  /** Record one step of a protective action (inside the transaction that commits the decision). */
  auditAction(e: ActionAuditEntry): void {
    this.#st.addActionAudit.run(e.at, e.action, e.device, e.point, e.value, e.zone, e.outcome, e.code ?? null, e.detail, e.record);
  }

  /** The last `n` audited steps of one action, oldest first. */
  actionAudit(action: string, n: number): ActionAuditEntry[] {
    return this.#st.actionAudit.all(action, n).map((r) => ({
      at: r.at,
      action: r.action,
      device: r.device,
      point: r.point,
      value: r.value,
      zone: r.zone,
      outcome: r.outcome,
      ...(r.code === null ? {} : { code: r.code }),
      detail: r.detail,
      record: r.record,
    }));
  }

  auditTail(n: number): AuditRow[] {
    return this.#st.tailAudit.all(n).map((r) => ({
      id: r.id,
      at: r.at,
      verb: r.verb,
      ok: r.ok === 1,
      detail: r.detail,
      ...(r.request_id === null ? {} : { requestId: r.request_id }),
      ...(r.operator === null ? {} : { operator: r.operator }),
      ...(r.code === null ? {} : { code: r.code }),
      ...(r.command === null ? {} : { command: r.command }),
    }));
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}

function migrate(db: Database.Database, file: string): void {
  const at = db.pragma("user_version", { simple: true }) as number;
  if (at > SCHEMA_VERSION) {
    throw new StateStoreError(`${file} is at schema version ${at}, newer than this firebreak knows (${SCHEMA_VERSION}); run the newer firebreak, or move the file aside`);
  }
  if (at === SCHEMA_VERSION) return;
  db.transaction(() => {
    for (let v = at; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}
