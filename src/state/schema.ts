// The state store's schema and its migrations. `PRAGMA user_version` holds the version a file is
// at; opening runs every later migration in one transaction, so a file is at one version or the
// next, never between. A file from a newer firebreak is refused rather than guessed at.

/** Migration N (1-based) brings a file from version N-1 to N. Append only: never edit a shipped one. */
export const MIGRATIONS: readonly string[] = [
  // 1: the first durable picture.
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  -- One row per alarm: its whole ISA-18.2 record (state, acks, shelving, out of service) as JSON.
  CREATE TABLE alarms (id TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
  -- One row per zone: its last stage change, latch and fault picture as JSON.
  CREATE TABLE zones (id TEXT PRIMARY KEY, snapshot TEXT NOT NULL) WITHOUT ROWID;
  -- Incident numbers per zone and the open trigger with its first issuedAt.
  CREATE TABLE incidents (zone TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
  -- QoS 1 messages decided but not yet acknowledged by the broker, in decision order.
  CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL, payload TEXT NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, kind TEXT NOT NULL,
    queued_at INTEGER NOT NULL
  );
  -- Request ids of commands seen, for replay refusal; pruned past the time window.
  CREATE TABLE requests (request_id TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
  -- Every operator command and what became of it.
  CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL, request_id TEXT, verb TEXT NOT NULL, operator TEXT, ok INTEGER NOT NULL,
    code TEXT, detail TEXT NOT NULL, command TEXT
  );
  CREATE INDEX audit_at ON audit (at);
  `,
  // 2: evacuation tracking: per zone, the open trigger, its announcements and the consumers' acknowledgments.
  `
  CREATE TABLE evacuations (zone TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
  `,
  // 3: the audit of protective actions (README "Protective actions"): every step of every action, in
  // order; a restart rebuilds from it which actions were already performed in the current episode.
  `
  CREATE TABLE actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL, action TEXT NOT NULL, device TEXT NOT NULL, point TEXT NOT NULL, value INTEGER NOT NULL,
    zone TEXT NOT NULL, outcome TEXT NOT NULL, code TEXT, detail TEXT NOT NULL, record TEXT NOT NULL
  );
  CREATE INDEX actions_action ON actions (action, id);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
