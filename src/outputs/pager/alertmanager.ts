// The pager output: every firing alarm as an alert in Alertmanager (POST /api/v2/alerts), refreshed
// before its endsAt passes, and resolved (endsAt = now) when the alarm stops firing, whatever state
// it was in (README "Pager through Alertmanager"). Alertmanager does the paging: routing,
// grouping, silences, inhibition and the receivers. Delivery: a bounded queue, batches, retries
// with backoff; failures are counted and logged once per change between delivering and failing.
import type { Logger } from "pino";
import type { AlertmanagerConfig } from "../../config/types.js";
import type { AlarmState, CoreEvent } from "../../events.js";
import type { Clock, TimerHandle } from "../../runtime/clock.js";
import { RetryDelay } from "../retry.js";
import { AlertBook } from "./alert-book.js";
import { AlertQueue } from "./alert-queue.js";
import type { PostableAlert } from "./alerts.js";

/** Alerts per POST: a site's worth of alarms in a few requests, each well under Alertmanager's body limits. */
const BATCH = 100;

export interface AlertmanagerOutputContext {
  readonly config: AlertmanagerConfig;
  readonly site: string;
  readonly instance: string;
  readonly clock: Clock;
  readonly log: Logger;
}

export interface PagerStats {
  /** Alarms firing in Alertmanager as far as this daemon knows. */
  readonly firing: number;
  readonly queued: number;
  /** Alerts Alertmanager accepted. */
  readonly sent: number;
  /** Requests that failed (network, timeout, 5xx) and were retried. */
  readonly failures: number;
  /** Alerts dropped from a full queue. */
  readonly dropped: number;
  /** Alerts Alertmanager refused as invalid (4xx): not retried. */
  readonly rejected: number;
  readonly failing: boolean;
}

export class AlertmanagerOutput {
  readonly #ctx: AlertmanagerOutputContext;
  readonly #book: AlertBook;
  readonly #queue: AlertQueue;
  readonly #retry: RetryDelay;
  readonly #endpoint: string;
  readonly #headers: Record<string, string>;
  #refresh: TimerHandle | undefined;
  #retryTimer: TimerHandle | undefined;
  #inFlight: Promise<void> | undefined;
  #failing = false;
  #stopped = false;
  #sent = 0;
  #failures = 0;
  #rejected = 0;

  constructor(ctx: AlertmanagerOutputContext) {
    this.#ctx = ctx;
    const c = ctx.config;
    this.#book = new AlertBook({ site: ctx.site, instance: ctx.instance }, c.endsAfterMs);
    this.#queue = new AlertQueue(c.queueLimit);
    this.#retry = new RetryDelay(c.retryMinMs, c.retryMaxMs);
    this.#endpoint = `${c.url}/api/v2/alerts`;
    this.#headers = { "content-type": "application/json" };
    if (c.username !== undefined) this.#headers.authorization = `Basic ${Buffer.from(`${c.username}:${c.password ?? ""}`).toString("base64")}`;
  }

  /** Post the standing alarms (the restored picture), then keep them refreshed. */
  start(standing: readonly AlarmState[]): void {
    const now = this.#ctx.clock.now();
    for (const a of standing) for (const alert of this.#book.apply(a, now)) this.#queue.push(alert);
    this.#refresh = this.#ctx.clock.setInterval(() => {
      for (const alert of this.#book.refresh(this.#ctx.clock.now())) this.#queue.push(alert);
      this.#pump();
    }, this.#ctx.config.refreshMs);
    this.#ctx.log.info({ url: this.#ctx.config.url, firing: this.#book.size }, "pager: posting alarms to Alertmanager");
    this.#pump();
  }

  accept(events: readonly CoreEvent[]): void {
    const now = this.#ctx.clock.now();
    let any = false;
    for (const e of events) {
      if (e.type !== "alarm") continue;
      for (const alert of this.#book.apply(e.alarm, now)) this.#queue.push(alert);
      any = true;
    }
    if (any) this.#pump();
  }

  stats(): PagerStats {
    return { firing: this.#book.size, queued: this.#queue.size, sent: this.#sent, failures: this.#failures, dropped: this.#queue.dropped, rejected: this.#rejected, failing: this.#failing };
  }

  /**
   * Stop refreshing. Alerts already in Alertmanager stay firing until their endsAt: a daemon that
   * stops has not seen its alarms clear. The request in flight is awaited.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#refresh?.cancel();
    this.#retryTimer?.cancel();
    await this.#inFlight;
  }

  #pump(): void {
    if (this.#stopped || this.#inFlight !== undefined || this.#retryTimer !== undefined || this.#queue.size === 0) return;
    const batch = this.#queue.take(BATCH);
    this.#inFlight = this.#post(batch).finally(() => {
      this.#inFlight = undefined;
      if (this.#retryTimer === undefined) this.#pump();
    });
  }

  async #post(batch: PostableAlert[]): Promise<void> {
    const log = this.#ctx.log;
    let status: number;
    let body = "";
    try {
      const res = await fetch(this.#endpoint, { method: "POST", headers: this.#headers, body: JSON.stringify(batch), signal: AbortSignal.timeout(this.#ctx.config.timeoutMs) });
      status = res.status;
      if (!res.ok) body = (await res.text()).slice(0, 500);
    } catch (err) {
      this.#fail(batch, err instanceof Error ? err.message : String(err));
      return;
    }
    if (status >= 200 && status < 300) {
      this.#sent += batch.length;
      this.#retry.reset();
      if (this.#failing) log.info({ failures: this.#failures, dropped: this.#queue.dropped }, "pager: Alertmanager accepts alerts again");
      this.#failing = false;
      return;
    }
    if (status >= 400 && status < 500 && status !== 401 && status !== 403 && status !== 408 && status !== 429) {
      // Alertmanager refused the alerts as invalid: sending them again would be refused again.
      this.#rejected += batch.length;
      log.error({ status, body, alerts: batch.length, rejected: this.#rejected }, "pager: Alertmanager refused alerts as invalid; they are dropped (a firebreak bug: please report it)");
      return;
    }
    this.#fail(batch, `HTTP ${status} ${body}`);
  }

  #fail(batch: PostableAlert[], why: string): void {
    this.#failures++;
    this.#queue.putBack(batch);
    const delayMs = this.#retry.next();
    if (!this.#failing) {
      this.#failing = true;
      this.#ctx.log.error({ url: this.#endpoint, err: why, queued: this.#queue.size, retryInMs: delayMs }, "pager: cannot post alerts to Alertmanager; retrying with backoff (logged once until it recovers)");
    }
    if (this.#stopped) return;
    this.#retryTimer = this.#ctx.clock.setTimeout(() => {
      this.#retryTimer = undefined;
      this.#pump();
    }, delayMs);
  }
}
