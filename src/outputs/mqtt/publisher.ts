// The MQTT output: one connection to the site broker, the retained picture kept right across
// reconnects, events numbered, and a bounded, counted queue while the broker is away (README.md#mqtt-topic-reference-schema-v1).
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { Logger } from "pino";
import type { MqttConfig } from "../../config/types.js";
import type { AlarmState, CoreEvent, EvacuationStatus, EvacuationTrigger, ZoneStageChange } from "../../events.js";
import type { PointKey, PointValue } from "../../points/point.js";
import type { Clock } from "../../runtime/clock.js";
import { explainConnectionError } from "./connection-errors.js";
import { Outbox } from "./outbox.js";
import { judgeRetained, parseRetainedTopic, type RetainedRef } from "./retained.js";
import {
  alarmMessage,
  evacuateMessage,
  evacuationStatusMessage,
  eventMessage,
  type OutMessage,
  pointMessage,
  type Publisher,
  removeRetained,
  stateMessage,
  statusMessage,
  type TriggerSigning,
  withFault,
  zoneStageMessage,
} from "./payloads.js";
import { type PointDecimals, unknownDecimals } from "./rounding.js";
import { PointThrottle } from "./telemetry.js";
import { parseInbound, type Topics, topics } from "./topics.js";

export interface RetainedState {
  readonly zones: readonly ZoneStageChange[];
  readonly alarms: readonly AlarmState[];
  readonly triggers: readonly EvacuationTrigger[];
  /** Where each open trigger's evacuation stands (`evacuate/<zone>/status`). */
  readonly evacuations?: readonly EvacuationStatus[];
}

/**
 * Where QoS 1 messages the core decided are kept until the broker acknowledges them (the state
 * store), so that neither a broker outage nor our own restart loses them.
 */
export interface Journal {
  /** Called before the messages are written, inside the caller's transaction; ids in order. */
  append(msgs: readonly OutMessage[], seq: number): number[];
  /** The broker acknowledged these, or they were superseded or dropped (and counted). */
  done(ids: readonly number[]): void;
}

/** Events numbered and turned into messages, not yet sent: the caller commits them first. */
export interface Prepared {
  readonly messages: readonly OutMessage[];
  /** The sequence number of the last event in `messages`. */
  readonly seq: number;
}

export interface MqttOutputContext {
  readonly config: MqttConfig;
  readonly site: string;
  readonly instance: string;
  readonly version: string;
  readonly clock: Clock;
  /** The caller's child logger, e.g. `log.child({ component: "mqtt" })`. */
  readonly log: Logger;
  /** The current retained picture, republished on every (re)connect. */
  readonly retained: () => RetainedState;
  /** The state store's journal; without it, QoS 1 messages live in memory only. */
  readonly journal?: Journal;
  /** The last sequence number published before this start (from the state store). */
  readonly initialSeq?: number;
  /** Decided messages the broker had not acknowledged before this start, in order: sent first. */
  readonly pending?: readonly OutMessage[];
  /** For retained payloads without an `instance` field: is this id one of our configured alarms or zones? */
  readonly legacyOwned?: (ref: RetainedRef) => boolean;
  /** A retained trigger found on the broker for one of our zones; true when the core adopted it. */
  readonly adoptTrigger?: (zone: string, triggerId: string) => boolean;
  /** How evacuation triggers are signed (absent: unsigned, without `site`). */
  readonly triggerSigning?: TriggerSigning;
  /** A consumer's acknowledgment arrived on `evacuate/<zone>/ack/<consumer>`; with it, the output subscribes to them. */
  readonly onAck?: (zone: string, consumer: string, payload: Buffer) => void;
  /** An operator command arrived on `cmd/<verb>`. */
  readonly onCommand?: (verb: string, payload: Buffer) => void;
  /** Each point's resolution, to which payload numbers are rounded (./rounding.ts); default: 6 significant digits. */
  readonly pointDecimals?: PointDecimals;
}

export interface MqttStats {
  readonly connected: boolean;
  /** Messages in our own queue, waiting for the broker. */
  readonly queued: number;
  /** QoS 1 messages handed to the broker and not yet acknowledged. */
  readonly inFlight: number;
  readonly dropped: number;
  readonly droppedTelemetry: number;
  readonly droppedEvents: number;
  /** Messages the broker acknowledged (QoS 1) or that were written (QoS 0). */
  readonly published: number;
  /** Successful connections after the first. */
  readonly reconnects: number;
  /** Connection attempts that ended without a session (broker down, TLS or auth refused). */
  readonly connectFailures: number;
  /** Events whose ids cannot form a topic: logged and counted, never sent. */
  readonly rejected: number;
  /** The last connection error, e.g. a TLS verification failure or "Not authorized". */
  readonly lastError?: string;
}

/** How long stop() waits for the broker to acknowledge what is in flight (real ms) [operational choice]. */
const STOP_FLUSH_MS = 3000;
/** A TCP + TLS + CONNACK that takes longer than this is retried [operational choice]. */
const CONNECT_TIMEOUT_MS = 10_000;

export class MqttOutput {
  readonly #ctx: MqttOutputContext;
  readonly #topics: Topics;
  readonly #decimals: PointDecimals;
  readonly #outbox: Outbox;
  readonly #lastStage = new Map<string, ZoneStageChange>();
  readonly #listeners = new Set<(connected: boolean) => void>();
  #publisher: Publisher | undefined;
  #client: MqttClient | undefined;
  #throttle: PointThrottle | undefined;
  #seq = 0;
  #connected = false;
  #everConnected = false;
  #stopping = false;
  #backoffMs: number;
  #retryTimer: NodeJS.Timeout | undefined;
  #announcedRetry = false;
  #inFlight = 0;
  #published = 0;
  #reconnects = 0;
  #connectFailures = 0;
  #rejected = 0;
  #lastError: string | undefined;
  #loggedError: string | undefined;

  /** Journal rows the broker has acknowledged, removed in one transaction per turn of the event loop. */
  #acked: number[] = [];
  #ackFlush: NodeJS.Immediate | undefined;

  constructor(ctx: MqttOutputContext) {
    this.#ctx = ctx;
    this.#topics = topics(ctx.site);
    this.#decimals = ctx.pointDecimals ?? unknownDecimals;
    this.#outbox = new Outbox(ctx.config.queueLimit, (m) => this.#journalDone(m));
    this.#backoffMs = ctx.config.reconnectMinMs;
    this.#seq = ctx.initialSeq ?? 0;
    for (const m of ctx.pending ?? []) this.#outbox.push(m);
  }

  /** The sequence number of the last event published (or prepared). */
  get seq(): number {
    return this.#seq;
  }

  /** Connect in the background; never throws or waits for the broker. */
  start(): void {
    if (this.#client !== undefined) return;
    const { config, clock } = this.#ctx;
    this.#publisher = { instance: this.#ctx.instance, version: this.#ctx.version, startedAt: clock.now() };
    if (config.pointTelemetry.enabled) {
      this.#throttle = new PointThrottle(clock, config.pointTelemetry.minIntervalMs, (k, v) => this.#send(pointMessage(this.#topics, k, v, clock.now(), this.#decimals)));
    }
    const will = statusMessage(this.#topics, this.#publisher, "offline", clock.now());
    const opts: IClientOptions = {
      clientId: config.clientId,
      clean: config.cleanSession,
      keepalive: config.keepaliveS,
      protocolVersion: 4,
      // We schedule reconnects ourselves, with backoff; mqtt.js only knows a fixed period.
      reconnectPeriod: 0,
      connectTimeout: CONNECT_TIMEOUT_MS,
      queueQoSZero: false,
      will: { topic: will.topic, payload: Buffer.from(will.payload), qos: 1, retain: true },
      ...(config.username === undefined ? {} : { username: config.username }),
      ...(config.password === undefined ? {} : { password: config.password }),
      ...(config.ca === undefined ? {} : { ca: config.ca }),
      ...(config.cert === undefined ? {} : { cert: config.cert }),
      ...(config.key === undefined ? {} : { key: config.key }),
    };
    this.#ctx.log.info({ url: config.url, clientId: config.clientId, cleanSession: config.cleanSession }, "mqtt connecting");
    try {
      const client = mqtt.connect(config.url, opts);
      this.#client = client;
      client.on("connect", (connack) => this.#onConnect(connack.sessionPresent));
      client.on("close", () => this.#onClose());
      client.on("error", (err) => this.#onError(err));
      client.on("message", (topic, payload, packet) => this.#onMessage(topic, payload, packet.retain));
    } catch (err) {
      // A URL mqtt.js refuses: the config loader should have caught it; report, never crash.
      this.#onError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /**
   * Number these events and build their messages (a retained state message, then an entry on
   * `events`, per event) without sending them: the runtime commits them to the state store first.
   */
  prepare(events: readonly CoreEvent[]): Prepared {
    const messages: OutMessage[] = [];
    if (this.#publisher === undefined || this.#stopping) return { messages, seq: this.#seq };
    const now = this.#ctx.clock.now();
    const instance = this.#ctx.instance;
    for (const event of events) {
      try {
        const last = event.type === "zone_fault" ? this.#lastStage.get(event.zone) : undefined;
        const state = stateMessage(this.#topics, event, now, last, this.#decimals, instance, this.#ctx.triggerSigning);
        const ev = eventMessage(this.#topics, this.#publisher, this.#seq + 1, event, now, this.#decimals);
        this.#seq++;
        if (event.type === "zone_stage") this.#lastStage.set(event.zone, event);
        if (event.type === "zone_fault") this.#lastStage.set(event.zone, withFault(last, event));
        if (state !== undefined) messages.push(state);
        messages.push(ev);
      } catch (err) {
        this.#rejected++;
        this.#ctx.log.error({ err, event: event.type }, "mqtt: event not published");
      }
    }
    return { messages, seq: this.#seq };
  }

  /** Send prepared messages; `ids` are their journal rows (parallel to the messages), if journaled. */
  send(p: Prepared, ids?: readonly number[]): void {
    p.messages.forEach((m, i) => {
      const id = ids?.[i];
      this.#send(id === undefined ? m : { ...m, journalId: id });
    });
  }

  /** Prepare, journal and send events in one go (for callers with no decision of their own to commit). */
  publishEvents(events: readonly CoreEvent[]): void {
    const p = this.prepare(events);
    if (p.messages.length === 0) return;
    let ids: number[] | undefined;
    try {
      ids = this.#ctx.journal?.append(p.messages, p.seq);
    } catch (err) {
      this.#ctx.log.error({ err }, "mqtt: the state store did not take these messages; sending them anyway (not kept across a restart)");
    }
    this.send(p, ids);
  }

  /** Publish a core event: its retained state message, then a numbered entry on `events`. */
  publish(event: CoreEvent): void {
    this.publishEvents([event]);
  }

  /** A message of the caller's own (e.g. a command reply): QoS as given, not journaled. */
  publishMessage(m: OutMessage): void {
    if (this.#publisher === undefined || this.#stopping) return;
    this.#send(m);
  }

  get topics(): Topics {
    return this.#topics;
  }

  /** Optional telemetry: on change, rate-limited per point, only when enabled in the config. */
  publishPoint(key: PointKey, value: PointValue): void {
    if (this.#stopping) return;
    try {
      this.#throttle?.offer(key, value);
    } catch (err) {
      this.#rejected++;
      this.#ctx.log.error({ err, point: key }, "mqtt: point not published");
    }
  }

  /** Announce `offline` (retained), let in-flight QoS 1 finish within a bound, disconnect. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#throttle?.stop();
    clearTimeout(this.#retryTimer);
    const client = this.#client;
    if (client === undefined) return;
    if (this.#connected && this.#publisher !== undefined) {
      this.#write(statusMessage(this.#topics, this.#publisher, "offline", this.#ctx.clock.now()));
    }
    const unsent = this.#outbox.size;
    if (unsent > 0) this.#ctx.log.warn({ unsent }, "mqtt: stopping with messages the broker never got");
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), STOP_FLUSH_MS);
    });
    const ended = client.endAsync(!this.#connected).then(() => false, () => false);
    if (await Promise.race([ended, timedOut])) {
      this.#ctx.log.warn({ inFlight: this.#inFlight }, `mqtt: broker did not acknowledge within ${STOP_FLUSH_MS} ms; closing anyway`);
      await client.endAsync(true).catch(() => undefined);
    }
    clearTimeout(timer);
    clearImmediate(this.#ackFlush);
    this.#flushAcked();
    this.#setConnected(false);
    this.#ctx.log.info({ published: this.#published, dropped: this.#outbox.dropped }, "mqtt stopped");
  }

  stats(): MqttStats {
    const s = {
      connected: this.#connected,
      queued: this.#outbox.size,
      inFlight: this.#inFlight,
      dropped: this.#outbox.dropped,
      droppedTelemetry: this.#outbox.droppedTelemetry,
      droppedEvents: this.#outbox.droppedEvents,
      published: this.#published,
      reconnects: this.#reconnects,
      connectFailures: this.#connectFailures,
      rejected: this.#rejected,
    };
    return this.#lastError === undefined ? s : { ...s, lastError: this.#lastError };
  }

  /** Called with true on every connect and false on every loss; returns the unsubscribe. */
  onConnectedChange(fn: (connected: boolean) => void): () => void {
    this.#listeners.add(fn);
    return () => void this.#listeners.delete(fn);
  }

  #onConnect(sessionPresent: boolean): void {
    if (this.#publisher === undefined || this.#stopping) return;
    if (this.#everConnected) this.#reconnects++;
    this.#everConnected = true;
    this.#backoffMs = this.#ctx.config.reconnectMinMs;
    this.#announcedRetry = false;
    this.#loggedError = undefined;
    this.#lastError = undefined;
    this.#ctx.log.info({ url: this.#ctx.config.url, sessionPresent, queued: this.#outbox.size }, "mqtt connected");
    this.#setConnected(true);
    const now = this.#ctx.clock.now();
    this.#write(statusMessage(this.#topics, this.#publisher, "online", now));
    // What waited while the broker was away goes first, in order; the current retained picture
    // last, so it wins over any older state message in the queue and repairs a broker that lost it.
    for (const m of this.#outbox.drain()) this.#write(m);
    try {
      const snap = this.#ctx.retained();
      const instance = this.#ctx.instance;
      for (const z of snap.zones) {
        this.#lastStage.set(z.zone, z);
        this.#write(zoneStageMessage(this.#topics, z, now, this.#decimals, instance));
      }
      for (const a of snap.alarms) this.#write(alarmMessage(this.#topics, a, now, this.#decimals, instance));
      for (const t of snap.triggers) this.#write(evacuateMessage(this.#topics, t, now, this.#decimals, instance, this.#ctx.triggerSigning));
      for (const e of snap.evacuations ?? []) this.#write(evacuationStatusMessage(this.#topics, e, now, instance));
    } catch (err) {
      this.#rejected++;
      this.#ctx.log.error({ err }, "mqtt: republishing the retained picture failed");
    }
    this.#subscribe();
  }

  /**
   * Our own retained state topics (to find what an earlier run left behind) and the command topics.
   * With a persistent session the broker remembers these subscriptions; subscribing again is harmless
   * and re-delivers the retained messages we must reconcile.
   */
  #subscribe(): void {
    const client = this.#client;
    if (client === undefined) return;
    const t = this.#topics;
    const filters: Record<string, { qos: 0 | 1 }> = {
      [`${t.prefix}alarm/+`]: { qos: 1 },
      [`${t.prefix}zone/+/stage`]: { qos: 1 },
      [`${t.prefix}evacuate/+`]: { qos: 1 },
    };
    if (this.#ctx.onCommand !== undefined) filters[t.cmdFilter] = { qos: 1 };
    if (this.#ctx.onAck !== undefined) filters[t.evacuateAckFilter] = { qos: 1 };
    client.subscribe(filters, (err) => {
      if (err) this.#ctx.log.error({ err }, "mqtt: subscribing to our retained and command topics failed; stale retained state may stay on the broker");
    });
  }

  #onMessage(topic: string, payload: Buffer, retain: boolean): void {
    if (this.#stopping) return;
    try {
      const ref = parseRetainedTopic(this.#topics, topic);
      if (ref !== undefined) {
        // Only what the broker held when we subscribed tells of earlier runs; live copies are our own echo.
        if (retain) this.#reconcile(ref, topic, payload.toString());
        return;
      }
      const inbound = parseInbound(this.#topics, topic);
      if (inbound?.kind === "evacuate_ack") this.#ctx.onAck?.(inbound.zone, inbound.consumer, payload);
      else if (inbound?.kind === "cmd") this.#ctx.onCommand?.(inbound.verb, payload);
    } catch (err) {
      this.#ctx.log.error({ err, topic }, "mqtt: handling an inbound message failed");
    }
  }

  #reconcile(ref: RetainedRef, topic: string, payload: string): void {
    const snap = this.#ctx.retained();
    const t = this.#topics;
    const pictureTopics = new Set<string>([...snap.zones.map((z) => t.zoneStage(z.zone)), ...snap.alarms.map((a) => t.alarm(a.id)), ...snap.triggers.map((x) => t.evacuate(x.zone))]);
    const verdict = judgeRetained(ref, topic, payload, {
      instance: this.#ctx.instance,
      pictureTopics,
      legacyOwned: this.#ctx.legacyOwned ?? (() => false),
      adoptTrigger: this.#ctx.adoptTrigger ?? (() => false),
    });
    switch (verdict.action) {
      case "keep":
        return;
      case "adopted":
        this.#ctx.log.warn({ trigger: verdict.triggerId, zone: ref.id }, `adopted the evacuation trigger ${verdict.triggerId} retained on the broker: its incident stays open until an operator clears it`);
        return;
      case "remove":
        this.#ctx.log.info({ topic }, `removing a retained ${ref.kind} message of an earlier run: ${verdict.why}`);
        this.#send(removeRetained(topic));
        return;
    }
  }

  #onClose(): void {
    if (this.#connected) {
      this.#ctx.log.warn({ reason: this.#lastError ?? "connection closed", inFlight: this.#inFlight }, "mqtt disconnected");
      this.#setConnected(false);
    } else if (!this.#stopping) {
      this.#connectFailures++;
    }
    if (this.#stopping || this.#retryTimer !== undefined) return;
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#ctx.config.reconnectMaxMs);
    if (!this.#announcedRetry) {
      this.#announcedRetry = true;
      this.#ctx.log.info({ inMs: delay, maxMs: this.#ctx.config.reconnectMaxMs }, "mqtt reconnecting, with backoff");
    }
    // Real time, not the injected clock: backoff is about the network, not about the incident's timeline.
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      const c = this.#client;
      if (c === undefined || this.#stopping) return;
      // Keep mqtt.js's stores: they hold QoS 1 messages sent but not yet acknowledged.
      c.reconnect({ incomingStore: c.incomingStore, outgoingStore: c.outgoingStore });
    }, delay);
    this.#retryTimer.unref();
  }

  #onError(err: Error & { code?: string | number }): void {
    const msg = explainConnectionError(err);
    this.#lastError = msg;
    if (msg === this.#loggedError) return;
    this.#loggedError = msg;
    this.#ctx.log.warn({ err: { message: err.message, code: err.code }, url: this.#ctx.config.url }, `mqtt connection error: ${msg}`);
  }

  #setConnected(c: boolean): void {
    if (this.#connected === c) return;
    this.#connected = c;
    for (const fn of this.#listeners) {
      try {
        fn(c);
      } catch (err) {
        this.#ctx.log.error({ err }, "mqtt: a connection listener threw");
      }
    }
  }

  #journalDone(m: OutMessage): void {
    if (m.journalId === undefined || this.#ctx.journal === undefined) return;
    this.#acked.push(m.journalId);
    this.#ackFlush ??= setImmediate(() => this.#flushAcked());
  }

  #flushAcked(): void {
    this.#ackFlush = undefined;
    const ids = this.#acked;
    this.#acked = [];
    try {
      this.#ctx.journal?.done(ids);
    } catch (err) {
      // Not fatal: the rows stay and are sent again after a restart (QoS 1 is at least once anyway).
      this.#ctx.log.error({ err, rows: ids.length }, "mqtt: could not remove acknowledged messages from the state store");
    }
  }

  #send(m: OutMessage): void {
    if (this.#connected) this.#write(m);
    else this.#outbox.push(m);
  }

  #write(m: OutMessage): void {
    const client = this.#client;
    if (client === undefined) {
      this.#outbox.push(m);
      return;
    }
    if (m.qos === 1) this.#inFlight++;
    client.publish(m.topic, m.payload, { qos: m.qos, retain: m.retain }, (err) => {
      if (m.qos === 1) this.#inFlight--;
      if (err === undefined || err === null) {
        this.#published++;
        this.#journalDone(m);
      }
      else if (m.kind === "telemetry") this.#outbox.droppedTelemetry++;
      else if (m.kind === "event" || m.kind === "state") this.#outbox.push(m); // not taken: keep it for the next connection
    });
  }
}
