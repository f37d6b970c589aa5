// The `alertmanager:` (pager) and `influx:` (history) sections of the site config: their schemas,
// and their conversion into AlertmanagerConfig / InfluxConfig with the password read from its file
// now, at load. Both outputs are off unless their section is present (README "Pager through
// Alertmanager", "History in InfluxDB").
import { z } from "zod";
import type { ConfigIssue } from "../errors.js";
import { countBetween, MAX_HOUR_MS, MAX_QUEUE, MAX_RECONNECT_MS, msBetween } from "./bounds.js";
import { readSecretFile } from "./secret-files.js";
import type { AlertmanagerConfig, InfluxConfig } from "./types.js";
import type { YamlSource } from "./yaml-source.js";

const httpUrl = z.string().regex(/^https?:\/\/[^\s/]+(:\d+)?(\/\S*)?$/, "use http://host:port or https://host:port");

export const alertmanagerSchema = z
  .object({
    /** Alertmanager's base URL; alerts go to <url>/api/v2/alerts. */
    url: httpUrl,
    /**
     * Every firing alert is posted again this often. Alertmanager forgets an alert whose endsAt
     * passed (its resolve_timeout applies only to alerts sent without endsAt), so the refresh is
     * what keeps a standing alarm firing there. 60 s is Prometheus' own default re-send cadence
     * for firing alerts (its `--rules.alert.resend-delay` is 1 m).
     */
    refresh_s: z.number().int().min(1).max(3600).default(60),
    /**
     * endsAt of a firing alert, from its post: three refresh periods by default, so two lost
     * refreshes in a row do not resolve it (Prometheus, for the same reason, sends endsAt 4
     * evaluation/resend periods ahead: rules/alerting.go, ValidUntil).
     */
    ends_after_s: z.number().int().min(2).max(86_400).optional(),
    /** Per HTTP request. */
    timeout_ms: msBetween(100, 60_000).default(5000),
    /** Alerts waiting while Alertmanager is away; one per alarm, the newest supersedes. Beyond it the oldest go first, counted. */
    queue_limit: countBetween(10, MAX_QUEUE, "alerts").default(10_000),
    retry_min_ms: msBetween(10, MAX_RECONNECT_MS).default(500),
    retry_max_ms: msBetween(10, MAX_RECONNECT_MS).default(30_000),
    /** Basic auth (an Alertmanager behind a proxy); the password is read from the file at load. */
    username: z.string().min(1).optional(),
    password_file: z.string().min(1).optional(),
  })
  .strict()
  .refine((a) => a.retry_min_ms <= a.retry_max_ms, { message: "retry_min_ms must not be above retry_max_ms", path: ["retry_min_ms"] })
  .refine((a) => a.ends_after_s === undefined || a.ends_after_s > a.refresh_s, { message: "must be longer than refresh_s, or every alert would lapse between two refreshes", path: ["ends_after_s"] })
  .refine((a) => a.password_file === undefined || a.username !== undefined, { message: "password_file needs a username" });

export const influxSchema = z
  .object({
    url: httpUrl,
    /** An InfluxDB 1.x database name (created on first contact when create_database is true). */
    database: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, "use letters, digits, '_' and '-' only"),
    retention_policy: z.string().min(1).max(64).optional(),
    username: z.string().min(1).optional(),
    password_file: z.string().min(1).optional(),
    /** CREATE DATABASE (idempotent in 1.x) before the first write; turn off when the user has no admin right. */
    create_database: z.boolean().default(true),
    /** Rows per write request. InfluxDB's guide recommends batches of 5,000 points (docs "Optimize writes"). */
    batch_size: countBetween(1, 100_000, "rows").default(5000),
    /** How often buffered rows are written (and staged rows reach the disk buffer). */
    flush_interval_ms: msBetween(50, 60_000).default(1000),
    /**
     * Rows kept on disk while InfluxDB is away. A row is ~300 bytes of JSON: the default million is
     * ~300 MB, about half an hour of a 500-point room changing every second. Past it, the oldest
     * point values go first, then the oldest events; every drop is counted.
     */
    buffer_limit: countBetween(100, 10 * MAX_QUEUE, "rows").default(1_000_000),
    /** An unchanged point is written again after this long, so a panel's time range always holds it (0: on change only). */
    point_heartbeat_s: z.number().int().min(0).max(MAX_HOUR_MS / 1000).default(300),
    timeout_ms: msBetween(100, 60_000).default(10_000),
    retry_min_ms: msBetween(10, MAX_RECONNECT_MS).default(1000),
    retry_max_ms: msBetween(10, MAX_RECONNECT_MS).default(60_000),
  })
  .strict()
  .refine((i) => i.retry_min_ms <= i.retry_max_ms, { message: "retry_min_ms must not be above retry_max_ms", path: ["retry_min_ms"] })
  .refine((i) => i.password_file === undefined || i.username !== undefined, { message: "password_file needs a username" });

type AlertmanagerParsed = z.output<typeof alertmanagerSchema>;
type InfluxParsed = z.output<typeof influxSchema>;

export interface OutputsBuilt {
  alertmanager?: AlertmanagerConfig;
  influx?: InfluxConfig;
  issues: ConfigIssue[];
}

async function password(section: string, p: string | undefined, baseDir: string, src: YamlSource, issues: ConfigIssue[]): Promise<string | undefined> {
  if (p === undefined) return undefined;
  const r = await readSecretFile(baseDir, p, "password");
  if (r.ok) return r.text;
  issues.push(src.issue([section, "password_file"], r.reason));
  return undefined;
}

/** Both sections, when present; a password file that cannot be read is an issue located at its key. */
export async function buildOutputs(a: AlertmanagerParsed | undefined, i: InfluxParsed | undefined, baseDir: string, src: YamlSource): Promise<OutputsBuilt> {
  const issues: ConfigIssue[] = [];
  const out: OutputsBuilt = { issues };
  if (a !== undefined) {
    const pw = await password("alertmanager", a.password_file, baseDir, src, issues);
    out.alertmanager = {
      url: a.url.replace(/\/+$/, ""),
      refreshMs: a.refresh_s * 1000,
      endsAfterMs: (a.ends_after_s ?? 3 * a.refresh_s) * 1000,
      timeoutMs: a.timeout_ms,
      queueLimit: a.queue_limit,
      retryMinMs: a.retry_min_ms,
      retryMaxMs: a.retry_max_ms,
      ...(a.username !== undefined ? { username: a.username } : {}),
      ...(pw !== undefined ? { password: pw } : {}),
    };
  }
  if (i !== undefined) {
    const pw = await password("influx", i.password_file, baseDir, src, issues);
    out.influx = {
      url: i.url.replace(/\/+$/, ""),
      database: i.database,
      ...(i.retention_policy !== undefined ? { retentionPolicy: i.retention_policy } : {}),
      ...(i.username !== undefined ? { username: i.username } : {}),
      ...(pw !== undefined ? { password: pw } : {}),
      createDatabase: i.create_database,
      batchSize: i.batch_size,
      flushIntervalMs: i.flush_interval_ms,
      bufferLimit: i.buffer_limit,
      pointHeartbeatMs: i.point_heartbeat_s * 1000,
      timeoutMs: i.timeout_ms,
      retryMinMs: i.retry_min_ms,
      retryMaxMs: i.retry_max_ms,
    };
  }
  return out;
}
