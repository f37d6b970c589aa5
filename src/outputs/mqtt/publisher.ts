// The MQTT output: the retained picture kept right across reconnects, events numbered, a bounded,
// counted queue while the broker is away, and the retained `online` heartbeat
// (README.md#mqtt-topic-reference-schema-v1). The connection lives in ./connection.ts, numbering
// and the journal in ./sequencer.ts; this file decides what is written when.
import type { Logger } from "pino";
import type { MqttConfig } from "../../config/types.js";
import type { AlarmState, CoreEvent, EvacuationStatus, EvacuationTrigger, ZoneStageChange } from "../../events.js";
import type { PointKey, PointValue } from "../../points/point.js";
import type { Clock } from "../../runtime/clock.js";
import { BrokerConnection } from "./connection.js";
import { Outbox } from "./outbox.js";
import { Inbound } from "./inbound.js";
import type { RetainedRef } from "./retained.js";
import {
  alarmMessage,
  evacuateMessage,
  evacuationStatusMessage,
  type Heartbeat,
  heartbeatOf,
  type OutMessage,
  pointMessage,
  type Publisher,
  statusMessage,
  type TriggerSigning,
  zoneStageMessage,
} from "./payloads.js";
import { type PointDecimals, unknownDecimals } from "./rounding.js";
import { peerOffline, reassertion } from "./reassert.js";
import { EventSequencer, type Journal, JournalAcks, type Prepared } from "./sequencer.js";
import type { TakeoverState } from "./takeover.js";
import { PointThrottle } from "./telemetry.js";
import { type Topics, topics } from "./topics.js";

export type { Journal, Prepared } from "./sequencer.js";
export type { TakeoverState } from "./takeover.js";

export interface RetainedState {
  readonly zones: readonly ZoneStageChange[];
  readonly alarms: readonly AlarmState[];
  readonly triggers: readonly EvacuationTrigger[];
  /** Where each open trigger's evacuation stands (`evacuate/<zone>/status`). */
  readonly evacuations?: readonly EvacuationStatus[];
}

export interface MqttOutputContext {
  readonly config: MqttConfig;
  readonly site: string;
  readonly instance: string;
  readonly version: string;
  /** The zones this daemon watches, named in `status` (see Publisher.zones). */
  readonly zones?: readonly string[];
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
  /** Another client keeps taking our session over (more than 3 times in 60 s), or stopped doing so. */
  readonly onSessionTakeover?: (s: TakeoverState) => void;
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
  /** Times another client took our session over (or the broker closed us while it stayed up). */
  readonly takeovers: number;
  /** A fight over our client id is on: more than 3 takeovers in 60 s, not yet 60 s connected in peace. */
  readonly sessionTakeover: boolean;
  /** Events whose ids cannot form a topic: logged and counted, never sent. */
  readonly rejected: number;
  /** The last connection error, e.g. a TLS verification failure or "Not authorized". */
  readonly lastError?: string;
}

/** How long stop() waits for the broker to acknowledge what is in flight (real ms) [operational choice]. */
const STOP_FLUSH_MS = 3000;
/** `status` heartbeat period when the config names none, s (README: mqtt.heartbeat_s). */
export const DEFAULT_HEARTBEAT_S = 30;

export class MqttOutput {
  readonly #ctx: MqttOutputContext;
  readonly #topics: Topics;
  readonly #decimals: PointDecimals;
  readonly #outbox: Outbox;
  readonly #sequencer: EventSequencer;
  readonly #acks: JournalAcks;
  readonly #heartbeat: Heartbeat;
  readonly #inbound: Inbound;
  readonly #listeners = new Set<(connected: boolean) => void>();
  #conn: BrokerConnection | undefined;
  #publisher: Publisher | undefined;
  #throttle: PointThrottle | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #stopping = false;
  /** As last told to the listeners. */
  #connected = false;
  #inFlight = 0;
  #published = 0;
  #rejected = 0;

  constructor(ctx: MqttOutputContext) {
    this.#ctx = ctx;
    this.#topics = topics(ctx.site);
    this.#decimals = ctx.pointDecimals ?? unknownDecimals;
    this.#acks = new JournalAcks(ctx.journal, ctx.log);
    this.#outbox = new Outbox(ctx.config.queueLimit, (m) => this.#acks.done(m));
    this.#sequencer = new EventSequencer({ topics: this.#topics, decimals: this.#decimals, instance: ctx.instance, log: ctx.log, initialSeq: ctx.initialSeq ?? 0, ...(ctx.triggerSigning === undefined ? {} : { triggerSigning: ctx.triggerSigning }) });
    this.#heartbeat = heartbeatOf(ctx.config.heartbeatS ?? DEFAULT_HEARTBEAT_S, ctx.clock.speed);
    for (const m of ctx.pending ?? []) this.#outbox.push(m);
    this.#inbound = new Inbound({
      topics: this.#topics,
      instance: ctx.instance,
      log: ctx.log,
      retained: ctx.retained,
      send: (m) => this.#send(m),
      ...(ctx.legacyOwned === undefined ? {} : { legacyOwned: ctx.legacyOwned }),
      ...(ctx.adoptTrigger === undefined ? {} : { adoptTrigger: ctx.adoptTrigger }),
      ...(ctx.onCommand === undefined ? {} : { onCommand: ctx.onCommand }),
      ...(ctx.onAck === undefined ? {} : { onAck: ctx.onAck }),
      onLive: (ref, payload) => this.#reassert(ref, payload),
      onStatus: (payload) => this.#answerPeerOffline(payload),
    });
  }

  /** A redundant peer's live message says less than we know: ours again (./reassert.ts). */
  #reassert(ref: RetainedRef, payload: string): void {
    const m = reassertion(ref, payload, { topics: this.#topics, instance: this.#ctx.instance, decimals: this.#decimals, picture: this.#ctx.retained, now: this.#ctx.clock.now(), ...(this.#ctx.triggerSigning === undefined ? {} : { signing: this.#ctx.triggerSigning }) });
    if (m === undefined) return;
    this.#ctx.log.warn({ topic: m.topic, heard: payload === "" ? "(removed)" : payload.slice(0, 200) }, `a redundant peer published less than this instance knows on ${m.topic}: published ours again (an alarm from either is an alarm)`);
    this.#send(m);
  }

  /** A partner's Last Will on the shared `status` topic: say at once that this instance still watches its zones. */
  #answerPeerOffline(payload: string): void {
    const peer = peerOffline(payload, this.#ctx.instance, this.#ctx.zones ?? []);
    if (peer === undefined || this.#publisher === undefined || this.#stopping || this.#conn?.connected !== true) return;
    this.#ctx.log.warn({ peer }, `instance ${peer} is offline; this instance still watches: status online published again`);
    this.#write(statusMessage(this.#topics, this.#publisher, "online", this.#ctx.clock.now(), this.#heartbeat));
  }

  /** The sequence number of the last event published (or prepared). */
  get seq(): number {
    return this.#sequencer.seq;
  }

  /** Connect in the background; never throws or waits for the broker. */
  start(): void {
    if (this.#conn !== undefined) return;
    const { config, clock } = this.#ctx;
    const publisher: Publisher = { instance: this.#ctx.instance, version: this.#ctx.version, startedAt: clock.now(), ...(this.#ctx.zones === undefined ? {} : { zones: this.#ctx.zones }) };
    this.#publisher = publisher;
    if (config.pointTelemetry.enabled) {
      this.#throttle = new PointThrottle(clock, config.pointTelemetry.minIntervalMs, (k, v) => this.#send(pointMessage(this.#topics, k, v, clock.now(), this.#decimals)));
    }
    this.#conn = new BrokerConnection({
      config,
      log: this.#ctx.log,
      will: statusMessage(this.#topics, publisher, "offline", clock.now()),
      onConnect: (sessionPresent) => this.#onConnect(sessionPresent),
      onLost: () => this.#setConnected(false),
      onMessage: (topic, payload, retain) => {
        if (!this.#stopping) this.#inbound.receive(topic, payload, retain);
      },
      ...(this.#ctx.onSessionTakeover === undefined ? {} : { onTakeover: this.#ctx.onSessionTakeover }),
    });
    this.#conn.start();
  }

  /**
   * Number these events and build their messages (a retained state message, then an entry on
   * `events`, per event) without sending them: the runtime commits them to the state store first.
   */
  prepare(events: readonly CoreEvent[]): Prepared {
    if (this.#publisher === undefined || this.#stopping) return { messages: [], seq: this.#sequencer.seq };
    return this.#sequencer.prepare(this.#publisher, events, this.#ctx.clock.now());
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
    clearInterval(this.#heartbeatTimer);
    const conn = this.#conn;
    if (conn === undefined) return;
    if (conn.connected && this.#publisher !== undefined) {
      this.#write(statusMessage(this.#topics, this.#publisher, "offline", this.#ctx.clock.now()));
    }
    const unsent = this.#outbox.size;
    if (unsent > 0) this.#ctx.log.warn({ unsent }, "mqtt: stopping with messages the broker never got");
    if (await conn.end(STOP_FLUSH_MS)) {
      this.#ctx.log.warn({ inFlight: this.#inFlight }, `mqtt: broker did not acknowledge within ${STOP_FLUSH_MS} ms; closing anyway`);
    }
    this.#acks.flush();
    this.#setConnected(false);
    this.#ctx.log.info({ published: this.#published, dropped: this.#outbox.dropped }, "mqtt stopped");
  }

  stats(): MqttStats {
    const c = this.#conn?.stats();
    const s = {
      connected: c?.connected ?? false,
      queued: this.#outbox.size,
      inFlight: this.#inFlight,
      dropped: this.#outbox.dropped,
      droppedTelemetry: this.#outbox.droppedTelemetry,
      droppedEvents: this.#outbox.droppedEvents,
      published: this.#published,
      reconnects: c?.reconnects ?? 0,
      connectFailures: c?.connectFailures ?? 0,
      takeovers: c?.takeovers ?? 0,
      sessionTakeover: c?.sessionTakeover ?? false,
      rejected: this.#rejected + this.#sequencer.rejected,
    };
    return c?.lastError === undefined ? s : { ...s, lastError: c.lastError };
  }

  /** Called with true on every connect and false on every loss; returns the unsubscribe. */
  onConnectedChange(fn: (connected: boolean) => void): () => void {
    this.#listeners.add(fn);
    return () => void this.#listeners.delete(fn);
  }

  #onConnect(sessionPresent: boolean): void {
    if (this.#publisher === undefined || this.#stopping) return;
    this.#ctx.log.debug({ sessionPresent, queued: this.#outbox.size }, "mqtt: republishing");
    this.#setConnected(true);
    const now = this.#ctx.clock.now();
    this.#write(statusMessage(this.#topics, this.#publisher, "online", now, this.#heartbeat));
    this.#startHeartbeat();
    // What waited while the broker was away goes first, in order; the current retained picture
    // last, so it wins over any older state message in the queue and repairs a broker that lost it.
    for (const m of this.#outbox.drain()) this.#write(m);
    try {
      const snap = this.#ctx.retained();
      const instance = this.#ctx.instance;
      for (const z of snap.zones) {
        this.#sequencer.noteStage(z);
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
   * Re-publish the retained `online` every heartbeat (real time: the broker's expiry is real time),
   * so it never expires while we are connected, and always does within 3 heartbeats once we are gone.
   */
  #startHeartbeat(): void {
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = setInterval(() => {
      if (this.#stopping || this.#publisher === undefined || this.#conn?.connected !== true) return;
      this.#write(statusMessage(this.#topics, this.#publisher, "online", this.#ctx.clock.now(), this.#heartbeat));
    }, this.#heartbeat.heartbeatS * 1000);
    this.#heartbeatTimer.unref();
  }

  /**
   * Our own retained state topics (to find what an earlier run left behind) and the command topics.
   * With a persistent session the broker remembers these subscriptions; subscribing again is harmless
   * and re-delivers the retained messages we must reconcile.
   */
  #subscribe(): void {
    const t = this.#topics;
    const filters: Record<string, { qos: 0 | 1 }> = {
      [`${t.prefix}alarm/+`]: { qos: 1 },
      [`${t.prefix}zone/+/stage`]: { qos: 1 },
      [`${t.prefix}evacuate/+`]: { qos: 1 },
      // A redundant peer's Last Will lands here: answered by our `online` (./reassert.ts).
      [t.status]: { qos: 1 },
    };
    if (this.#ctx.onCommand !== undefined) filters[t.cmdFilter] = { qos: 1 };
    if (this.#ctx.onAck !== undefined) filters[t.evacuateAckFilter] = { qos: 1 };
    this.#conn?.subscribe(filters, (err) => {
      if (err) this.#ctx.log.error({ err }, "mqtt: subscribing to our retained and command topics failed; stale retained state may stay on the broker");
    });
  }

  #setConnected(c: boolean): void {
    if (!c) clearInterval(this.#heartbeatTimer);
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

  #send(m: OutMessage): void {
    if (this.#conn?.connected === true) this.#write(m);
    else this.#outbox.push(m);
  }

  #write(m: OutMessage): void {
    if (m.qos === 1) this.#inFlight++;
    const handed = this.#conn?.publish(m, (err) => {
      if (m.qos === 1) this.#inFlight--;
      if (err === undefined) {
        this.#published++;
        this.#acks.done(m);
      } else if (m.kind === "telemetry") this.#outbox.droppedTelemetry++;
      else if (m.kind === "event" || m.kind === "state") this.#outbox.push(m); // not taken: keep it for the next connection
    });
    if (handed !== true) {
      if (m.qos === 1) this.#inFlight--;
      this.#outbox.push(m);
    }
  }
}
