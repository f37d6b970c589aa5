// The connection to the site broker: one mqtt.js client with our stable client id, a persistent
// session and the Last Will. It reconnects on its own schedule (a backoff capped low, and a TCP
// probe of the broker's port between attempts, so we are back the moment the broker is) and notices
// when another client takes our session over (./takeover.ts). It knows messages, not events.
import mqtt, { type IClientOptions, type IClientPublishOptions, type ISubscriptionMap, type MqttClient } from "mqtt";
import type { Logger } from "pino";
import type { MqttConfig } from "../../config/types.js";
import { explainConnectionError } from "./connection-errors.js";
import { noDelay } from "./no-delay.js";
import type { OutMessage } from "./payloads.js";
import { type BrokerAddress, brokerAddress, probeTcp } from "./probe.js";
import { TAKEOVER_LIMIT, TAKEOVER_WINDOW_MS, type TakeoverState, TakeoverWatch } from "./takeover.js";

export interface ConnectionContext {
  readonly config: MqttConfig;
  readonly log: Logger;
  /** The Last Will (retained `offline`): no will delay and no expiry, so a vanished daemon shows at once and for good. */
  readonly will: OutMessage;
  readonly onConnect: (sessionPresent: boolean) => void;
  /** The connection was up and is lost. */
  readonly onLost: () => void;
  readonly onMessage: (topic: string, payload: Buffer, retain: boolean) => void;
  /** A fight over our client id began or ended (more than 3 takeovers in 60 s). */
  readonly onTakeover?: (s: TakeoverState) => void;
}

export interface ConnectionStats {
  readonly connected: boolean;
  readonly reconnects: number;
  readonly connectFailures: number;
  /** Times another client took our session over (or the broker closed us while it stayed up). */
  readonly takeovers: number;
  /** More than 3 takeovers in 60 s, and not yet 60 s connected in peace. */
  readonly sessionTakeover: boolean;
  readonly lastError?: string;
}

/**
 * MQTT v5 session expiry for the persistent session: v5 ends a session at disconnect unless told
 * otherwise. A day outlasts any broker maintenance; a session the broker forgets costs nothing but
 * a re-subscribe, which we do on every connect anyway [operational choice].
 */
export const SESSION_EXPIRY_S = 86_400;
/** A TCP + TLS + CONNACK that takes longer than this is retried [operational choice]. */
const CONNECT_TIMEOUT_MS = 10_000;
/** How often the broker's port is probed while we wait to reconnect (real ms) [operational choice: 5 probes a second is nothing to a broker]. */
const PROBE_EVERY_MS = 200;
const PROBE_TIMEOUT_MS = 1000;
/** Failures that say "nothing answers at that address": worth a TCP probe. A TLS or credentials refusal is not (the broker is up and says no). */
const NOTHING_LISTENS = /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EPIPE|connack timeout/i;
/** How a socket the broker closes looks from our side ("EOF": closed with no error at all); a keepalive timeout is not that. */
const CLOSED_ON_US = /^EOF$|EPIPE|ECONNRESET/;
/** MQTT v5 DISCONNECT reason code: Session taken over (MQTT 5.0 §3.14.2.1). */
const SESSION_TAKEN_OVER = 0x8e;

export class BrokerConnection {
  readonly #ctx: ConnectionContext;
  readonly #addr: BrokerAddress | undefined;
  readonly #takeover = new TakeoverWatch();
  #client: MqttClient | undefined;
  #connected = false;
  #connectedSince: number | undefined;
  #everConnected = false;
  #stopping = false;
  #backoffMs: number;
  #retryTimer: NodeJS.Timeout | undefined;
  #probeTimer: NodeJS.Timeout | undefined;
  #takeoverTimer: NodeJS.Timeout | undefined;
  /** A close being judged (takeover or broker gone) by a probe: no retry scheduled until it is. */
  #judging = false;
  #announcedRetry = false;
  /** What ended the current connection or attempt: an error's text, a DISCONNECT reason code. */
  #errorText: string | undefined;
  #disconnectReason: number | undefined;
  #reconnects = 0;
  #connectFailures = 0;
  #takeovers = 0;
  #lastError: string | undefined;
  #loggedError: string | undefined;

  constructor(ctx: ConnectionContext) {
    this.#ctx = ctx;
    this.#addr = brokerAddress(ctx.config.url);
    this.#backoffMs = ctx.config.reconnectMinMs;
  }

  get connected(): boolean {
    return this.#connected;
  }

  get protocolVersion(): 4 | 5 {
    return this.#ctx.config.protocolVersion ?? 5;
  }

  /** Connect in the background; never throws or waits for the broker. */
  start(): void {
    if (this.#client !== undefined) return;
    const { config, will } = this.#ctx;
    const v5 = this.protocolVersion === 5;
    const opts: IClientOptions = {
      clientId: config.clientId,
      clean: config.cleanSession,
      keepalive: config.keepaliveS,
      protocolVersion: this.protocolVersion,
      // v5 keeps a session after disconnect only for its expiry interval (0 = not at all).
      ...(v5 ? { properties: { sessionExpiryInterval: config.cleanSession ? 0 : SESSION_EXPIRY_S } } : {}),
      // We schedule reconnects ourselves, with backoff and probes; mqtt.js only knows a fixed period.
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
    this.#ctx.log.info({ url: config.url, clientId: config.clientId, cleanSession: config.cleanSession, protocolVersion: this.protocolVersion }, "mqtt connecting");
    try {
      const client = mqtt.connect(config.url, opts);
      this.#client = client;
      client.on("connect", (connack) => {
        noDelay(client.stream);
        this.#onConnect(connack.sessionPresent);
      });
      client.on("close", () => this.#onClose());
      client.on("error", (err) => this.#onError(err));
      client.on("disconnect", (packet) => {
        this.#disconnectReason = packet.reasonCode ?? 0;
      });
      client.on("message", (topic, payload, packet) => this.#ctx.onMessage(topic, payload, packet.retain));
    } catch (err) {
      // A URL mqtt.js refuses: the config loader should have caught it; report, never crash.
      this.#onError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Hand one message to mqtt.js; `done` gets its outcome (QoS 1: the broker's acknowledgment). */
  publish(m: OutMessage, done: (err?: Error) => void): boolean {
    const client = this.#client;
    if (client === undefined) return false;
    const opts: IClientPublishOptions = { qos: m.qos, retain: m.retain };
    if (m.expiryS !== undefined && this.protocolVersion === 5) opts.properties = { messageExpiryInterval: m.expiryS };
    client.publish(m.topic, m.payload, opts, (err) => done(err ?? undefined));
    return true;
  }

  subscribe(filters: ISubscriptionMap, done: (err: Error | null) => void): void {
    this.#client?.subscribe(filters, (err) => done(err));
  }

  /** Disconnect: wait up to `flushMs` for in-flight QoS 1 acknowledgments, then close anyway. True if it had to force. */
  async end(flushMs: number): Promise<boolean> {
    this.#stopping = true;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#probeTimer);
    clearTimeout(this.#takeoverTimer);
    const client = this.#client;
    if (client === undefined) return false;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), flushMs);
    });
    const ended = client.endAsync(!this.#connected).then(() => false, () => false);
    const forced = await Promise.race([ended, timedOut]);
    if (forced) await client.endAsync(true).catch(() => undefined);
    clearTimeout(timer);
    this.#connected = false;
    return forced;
  }

  stats(): ConnectionStats {
    const s = {
      connected: this.#connected,
      reconnects: this.#reconnects,
      connectFailures: this.#connectFailures,
      takeovers: this.#takeovers,
      sessionTakeover: this.#takeover.active,
    };
    return this.#lastError === undefined ? s : { ...s, lastError: this.#lastError };
  }

  #onConnect(sessionPresent: boolean): void {
    if (this.#stopping) return;
    if (this.#everConnected) this.#reconnects++;
    this.#everConnected = true;
    this.#connected = true;
    this.#connectedSince = Date.now();
    this.#backoffMs = this.#ctx.config.reconnectMinMs;
    this.#announcedRetry = false;
    this.#loggedError = undefined;
    this.#lastError = undefined;
    this.#errorText = undefined;
    this.#disconnectReason = undefined;
    const quiet = this.#takeover.active;
    this.#ctx.log[quiet ? "debug" : "info"]({ url: this.#ctx.config.url, sessionPresent }, "mqtt connected");
    this.#armTakeoverCheck();
    this.#ctx.onConnect(sessionPresent);
  }

  #onClose(): void {
    const wasConnected = this.#connected;
    const reason = this.#disconnectReason;
    const errorText = this.#errorText;
    this.#disconnectReason = undefined;
    this.#errorText = undefined;
    if (wasConnected) {
      this.#connected = false;
      this.#connectedSince = undefined;
      const why = reason === SESSION_TAKEN_OVER ? "session taken over (0x8E)" : (this.#lastError ?? (reason === undefined ? "connection closed" : `DISCONNECT reason 0x${reason.toString(16)}`));
      this.#ctx.log[this.#takeover.active ? "debug" : "warn"]({ reason: why }, "mqtt disconnected");
      this.#ctx.onLost();
    } else if (!this.#stopping) {
      this.#connectFailures++;
    }
    if (this.#stopping || this.#retryTimer !== undefined || this.#judging) return;
    if (wasConnected && reason === SESSION_TAKEN_OVER) {
      this.#takenOver("the broker said: session taken over (MQTT v5 reason 0x8E)");
      return;
    }
    if (wasConnected && (reason === undefined || reason === 0) && CLOSED_ON_US.test(errorText ?? "EOF") && this.#addr !== undefined) {
      // Closed without a word (as Mosquitto 2.0 does to the older of two clients with one id, and on
      // shutdown; EPIPE or ECONNRESET when we were writing at that moment): a broker that still
      // accepts connections closed *us*.
      this.#judging = true;
      void probeTcp(this.#addr, PROBE_TIMEOUT_MS).then((up) => {
        this.#judging = false;
        if (this.#stopping) return;
        if (up) this.#takenOver("the broker closed our connection while it kept accepting others: most likely another client connected with our client id");
        else this.#retry(true);
      });
      return;
    }
    this.#retry(wasConnected || NOTHING_LISTENS.test(errorText ?? ""));
  }

  #takenOver(why: string): void {
    this.#takeovers++;
    const s = this.#takeover.note(Date.now());
    if (s.changed) {
      this.#ctx.log.error(
        { takeovers: s.count, windowS: TAKEOVER_WINDOW_MS / 1000, clientId: this.#ctx.config.clientId },
        `mqtt session taken over ${s.count} times in ${TAKEOVER_WINDOW_MS / 1000} s (more than ${TAKEOVER_LIMIT}): another client uses our client id ${this.#ctx.config.clientId}; backing off instead of fighting for it`,
      );
      this.#notifyTakeover(s);
    } else if (!s.active) {
      this.#ctx.log.warn({ takeovers: s.count, clientId: this.#ctx.config.clientId }, `mqtt session taken over: ${why}`);
    }
    this.#armTakeoverCheck();
    this.#retry(false, this.#takeover.backoffMs());
  }

  #notifyTakeover(s: TakeoverState): void {
    try {
      this.#ctx.onTakeover?.(s);
    } catch (err) {
      this.#ctx.log.error({ err }, "mqtt: the takeover listener threw");
    }
  }

  /** A timer for when the fight over our client id can end (a whole window connected in peace). */
  #armTakeoverCheck(): void {
    clearTimeout(this.#takeoverTimer);
    const at = this.#takeover.nextCheckAt(this.#connectedSince);
    if (at === undefined || this.#stopping) return;
    this.#takeoverTimer = setTimeout(() => {
      const s = this.#takeover.check(Date.now(), this.#connectedSince);
      if (s.changed) {
        this.#ctx.log.warn({ clientId: this.#ctx.config.clientId }, `mqtt session takeovers ended: connected ${TAKEOVER_WINDOW_MS / 1000} s without one`);
        this.#notifyTakeover(s);
      }
      this.#armTakeoverCheck();
    }, Math.max(10, at - Date.now() + 10));
    this.#takeoverTimer.unref();
  }

  /**
   * Try again after the backoff (or `delayMs`). With `probe`, the broker's port is probed meanwhile
   * and the attempt made as soon as it accepts: we return within a probe period of the broker.
   */
  #retry(probe: boolean, delayMs?: number): void {
    const delay = delayMs ?? this.#backoffMs;
    if (delayMs === undefined) this.#backoffMs = Math.min(this.#backoffMs * 2, this.#ctx.config.reconnectMaxMs);
    if (!this.#announcedRetry) {
      this.#announcedRetry = true;
      this.#ctx.log.info({ inMs: delay, maxMs: this.#ctx.config.reconnectMaxMs, probing: probe }, "mqtt reconnecting, with backoff");
    }
    // Real time, not the injected clock: reconnecting is about the network, not the incident's timeline.
    this.#retryTimer = setTimeout(() => this.#attempt(), delay);
    this.#retryTimer.unref();
    if (probe && this.#addr !== undefined && delay > PROBE_EVERY_MS) this.#probe(this.#addr);
  }

  #probe(addr: BrokerAddress): void {
    this.#probeTimer = setTimeout(() => {
      void probeTcp(addr, PROBE_TIMEOUT_MS).then((up) => {
        if (this.#retryTimer === undefined || this.#stopping) return; // the attempt came first
        if (up) this.#attempt();
        else this.#probe(addr);
      });
    }, PROBE_EVERY_MS);
    this.#probeTimer.unref();
  }

  #attempt(): void {
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#probeTimer);
    this.#retryTimer = undefined;
    const c = this.#client;
    if (c === undefined || this.#stopping) return;
    // Keep mqtt.js's stores: they hold QoS 1 messages sent but not yet acknowledged.
    c.reconnect({ incomingStore: c.incomingStore, outgoingStore: c.outgoingStore });
  }

  #onError(err: Error & { code?: string | number }): void {
    const msg = explainConnectionError(err);
    this.#errorText = `${err.message} ${String(err.code ?? "")}`;
    this.#lastError = msg;
    if (msg === this.#loggedError) return;
    this.#loggedError = msg;
    this.#ctx.log.warn({ err: { message: err.message, code: err.code }, url: this.#ctx.config.url }, `mqtt connection error: ${msg}`);
  }
}
