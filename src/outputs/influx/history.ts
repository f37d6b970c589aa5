// The history output: point values (on change, with a heartbeat), zone stages, alarm transitions
// and evacuation triggers into InfluxDB 1.x through the `influx` package (README "History in
// InfluxDB"). Rows are staged in memory, moved to the disk buffer every flush interval (./buffer.ts)
// and written from there in batches; InfluxDB being away only delays them, up to the buffer's limit.
// The disk buffer is synchronous SQLite on the event loop that also runs the polls, so rows go to
// disk in slices of PERSIST_SLICE with the loop free in between, and never from inside a poll.
import { InfluxDB, type IPoint } from "influx";
import type { Logger } from "pino";
import type { InfluxConfig } from "../../config/types.js";
import type { CoreEvent } from "../../events.js";
import type { PointInfo, PointKey, PointValue } from "../../points/point.js";
import type { Clock, TimerHandle } from "../../runtime/clock.js";
import { RetryDelay } from "../retry.js";
import { HistoryBuffer } from "./buffer.js";
import { ChangeFilter } from "./change-filter.js";
import { eventRows, pointRow, type Row, type RowSite } from "./rows.js";

/**
 * Rows moved to disk in one synchronous slice. 10,000 rows in one transaction held the event loop
 * for a median 125-160 ms (max 770 ms) on the loaded 2-core test VM, and the polls of a 10k-point
 * site saw their answers that late; 1,000 rows take a median 14 ms there (README "What the outputs cost").
 */
const PERSIST_SLICE = 1000;

export interface InfluxHistoryContext {
  readonly config: InfluxConfig;
  readonly site: string;
  readonly instance: string;
  /** Where the disk buffer lives (the state directory). */
  readonly stateDir: string;
  readonly clock: Clock;
  readonly log: Logger;
  /** Device, point id, zone and unit of a point key (the point store's declaration). */
  readonly pointInfo: (key: PointKey) => PointInfo | undefined;
}

export interface HistoryStats {
  /** Rows waiting on disk. */
  readonly buffered: number;
  /** Rows in memory, not yet on disk (at most one flush interval's worth). */
  readonly staged: number;
  readonly written: number;
  /** Write requests that failed and will be retried. */
  readonly failures: number;
  /** Rows InfluxDB refused for good (HTTP 400: e.g. a field type conflict). */
  readonly rejected: number;
  /** Rows dropped from the full buffer (over the buffer file's life). */
  readonly dropped: number;
  readonly failing: boolean;
}

/** The HTTP status of an error from the influx package (its RequestError carries the response). */
function statusOf(err: unknown): number | undefined {
  const res = (err as { res?: { statusCode?: unknown } } | undefined)?.res;
  return typeof res?.statusCode === "number" ? res.statusCode : undefined;
}

export class InfluxHistory {
  readonly #ctx: InfluxHistoryContext;
  readonly #site: RowSite;
  readonly #filter: ChangeFilter;
  readonly #retry: RetryDelay;
  #buffer: HistoryBuffer | undefined;
  #client: InfluxDB | undefined;
  #staged: Row[] = [];
  #timer: TimerHandle | undefined;
  /** A flush queued for the next turn of the event loop (more rows staged than one slice). */
  #soon: NodeJS.Immediate | undefined;
  #retryTimer: TimerHandle | undefined;
  #inFlight: Promise<void> | undefined;
  #databaseReady = false;
  #failing = false;
  #stopped = false;
  #written = 0;
  #failures = 0;
  #rejected = 0;
  /** Rows lost because the disk buffer could not be written (counted apart from the buffer's own drops). */
  #lost = 0;
  #diskFailing = false;

  constructor(ctx: InfluxHistoryContext) {
    this.#ctx = ctx;
    this.#site = { site: ctx.site, instance: ctx.instance };
    this.#filter = new ChangeFilter(ctx.config.pointHeartbeatMs);
    this.#retry = new RetryDelay(ctx.config.retryMinMs, ctx.config.retryMaxMs);
  }

  /** Open the disk buffer (throws FB_STATE when it cannot be used) and start flushing. */
  start(): void {
    const c = this.#ctx.config;
    this.#buffer = HistoryBuffer.open(this.#ctx.stateDir, this.#ctx.site, this.#ctx.instance, c.bufferLimit);
    const url = new URL(c.url);
    this.#client = new InfluxDB({
      hosts: [{ host: url.hostname, port: Number(url.port || (url.protocol === "https:" ? 443 : 80)), protocol: url.protocol === "https:" ? "https" : "http", ...(url.pathname !== "/" ? { path: url.pathname } : {}) }],
      database: c.database,
      ...(c.username !== undefined ? { username: c.username, password: c.password ?? "" } : {}),
      // Retries are ours (with the disk buffer behind them), not the pool's.
      pool: { maxRetries: 0, requestTimeout: c.timeoutMs },
    });
    this.#timer = this.#ctx.clock.setInterval(() => this.flush(), c.flushIntervalMs);
    this.#ctx.log.info({ url: c.url, database: c.database, buffered: this.#buffer.size, file: this.#buffer.file }, this.#buffer.size > 0 ? "history: writing to InfluxDB; rows left in the buffer from before go first" : "history: writing to InfluxDB");
    this.flush();
  }

  /** A point value from the point store; written when it changed or its heartbeat is due. */
  point(key: PointKey, v: PointValue): void {
    if (this.#stopped || !this.#filter.offer(key, v)) return;
    const info = this.#ctx.pointInfo(key);
    if (info === undefined) return;
    this.#staged.push(pointRow(this.#site, info, v));
    // Called from inside a poll (the point store's change listener): a full batch is flushed on the
    // next turn, after the poll, not here.
    if (this.#staged.length >= this.#ctx.config.batchSize) this.#flushSoon();
  }

  accept(events: readonly CoreEvent[]): void {
    if (this.#stopped) return;
    for (const e of events) this.#staged.push(...eventRows(this.#site, e));
  }

  stats(): HistoryStats {
    return {
      buffered: this.#buffer?.size ?? 0,
      staged: this.#staged.length,
      written: this.#written,
      failures: this.#failures,
      rejected: this.#rejected,
      dropped: (this.#buffer?.dropped ?? 0) + this.#lost,
      failing: this.#failing,
    };
  }

  /** Staged rows to disk (one slice; the rest on the next turns), then a write if none is running or waiting for its retry. */
  flush(): void {
    this.#persist(PERSIST_SLICE);
    if (this.#staged.length > 0) this.#flushSoon();
    if (this.#stopped || this.#inFlight !== undefined || this.#retryTimer !== undefined) return;
    if ((this.#buffer?.size ?? 0) === 0) return;
    this.#inFlight = this.#send().finally(() => (this.#inFlight = undefined));
  }

  #flushSoon(): void {
    if (this.#soon !== undefined || this.#stopped) return;
    this.#soon = setImmediate(() => {
      this.#soon = undefined;
      this.flush();
    });
  }

  /** Up to `max` of the oldest staged rows to the disk buffer, in one transaction. */
  #persist(max = Infinity): void {
    const buffer = this.#buffer;
    if (buffer === undefined || this.#staged.length === 0) return;
    const rows = this.#staged.length <= max ? this.#staged : this.#staged.slice(0, max);
    this.#staged = this.#staged.length <= max ? [] : this.#staged.slice(max);
    try {
      buffer.add(rows);
      if (this.#diskFailing) this.#ctx.log.info({ lost: this.#lost }, "history: the disk buffer takes rows again");
      this.#diskFailing = false;
    } catch (err) {
      this.#lost += rows.length;
      if (!this.#diskFailing) this.#ctx.log.error({ err, file: buffer.file, lost: this.#lost }, "history: cannot write the disk buffer; rows are lost until it can (logged once until it recovers)");
      this.#diskFailing = true;
    }
  }

  /** Write batches from the buffer until it is empty or a write fails. */
  async #send(): Promise<void> {
    const buffer = this.#buffer!;
    const client = this.#client!;
    const c = this.#ctx.config;
    while (!this.#stopped && buffer.size > 0) {
      const batch = buffer.peek(c.batchSize);
      const last = batch[batch.length - 1];
      if (last === undefined) return;
      try {
        if (!this.#databaseReady && c.createDatabase) await client.createDatabase(c.database);
        this.#databaseReady = true;
        await client.writePoints(batch.map((b) => b.row as IPoint), { precision: "ms", database: c.database, ...(c.retentionPolicy !== undefined ? { retentionPolicy: c.retentionPolicy } : {}) });
      } catch (err) {
        const status = statusOf(err);
        if (status === 400) {
          // Refused for good (a field type conflict, a row it cannot parse); InfluxDB 1.x writes
          // the rows of the batch that fit ("partial write"). Retrying would be refused again.
          buffer.remove(last.id);
          this.#rejected += batch.length;
          this.#ctx.log.error({ err: (err as Error).message, rows: batch.length, rejected: this.#rejected }, "history: InfluxDB refused rows of a batch for good; the batch leaves the buffer");
          continue;
        }
        if (status === 404) this.#databaseReady = false; // database dropped: create it again on the next try
        this.#fail(err);
        return;
      }
      buffer.remove(last.id);
      this.#written += batch.length;
      this.#retry.reset();
      if (this.#failing) this.#ctx.log.info({ failures: this.#failures, buffered: buffer.size, dropped: buffer.dropped }, "history: InfluxDB takes writes again; sending what was buffered");
      this.#failing = false;
    }
  }

  #fail(err: unknown): void {
    this.#failures++;
    const delayMs = this.#retry.next();
    if (!this.#failing) {
      this.#failing = true;
      this.#ctx.log.error({ url: this.#ctx.config.url, err: (err as Error).message, buffered: this.#buffer?.size, retryInMs: delayMs }, "history: cannot write to InfluxDB; rows wait in the disk buffer, retrying with backoff (logged once until it recovers)");
    }
    if (this.#stopped) return;
    this.#retryTimer = this.#ctx.clock.setTimeout(() => {
      this.#retryTimer = undefined;
      this.flush();
    }, delayMs);
  }

  /** Staged rows to disk, the write in flight awaited, the buffer closed: what was not written waits for the next start. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#persist();
    this.#stopped = true;
    if (this.#soon !== undefined) clearImmediate(this.#soon);
    this.#soon = undefined;
    this.#timer?.cancel();
    this.#retryTimer?.cancel();
    await this.#inFlight;
    this.#buffer?.close();
  }
}
