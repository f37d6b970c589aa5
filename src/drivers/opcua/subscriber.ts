// Reads one OPC UA device by subscription, not polling (README.md#opc-ua-devices): connect with the configured
// security and identity, resolve the profile's namespace, monitor every node (sampling interval,
// queue size, deadband), and write each notification to the store with its source timestamp.
// Outages turn every point bad/comm_fail at once; node-opcua reconnects and transfers or re-creates
// the subscription, after which a read brings every point back without a restart of the daemon.
import {
  AttributeIds,
  coerceNodeId,
  TimestampsToReturn,
  type ClientSession,
  type ClientSubscription,
  type DataValue,
  type OPCUACertificateManager,
  type OPCUAClient,
} from "node-opcua";
import type { Logger } from "pino";
import type { OpcuaDevice } from "../../config/types.js";
import { bad, pointKey, type QualityReason } from "../../points/point.js";
import type { PointStore } from "../../points/store.js";
import type { Clock, TimerHandle } from "../../runtime/clock.js";
import type { PollerStatus, PollResult } from "../modbus/poller.js";
import { certificateManager, createClient, explainConnectFailure, OPCUA_KEEPALIVE_COUNT, userIdentityOf } from "./client.js";
import { Backoff, DEFAULT_BACKOFF } from "../backoff.js";
import { OpcuaServerMismatchError } from "./errors.js";
import { filterOf, limitsOf, parametersKey, rawSample } from "./monitoring.js";
import { toPointValue } from "./quality.js";
import { newestRejected } from "./trust.js";

export interface OpcuaSubscriberContext {
  readonly device: OpcuaDevice;
  readonly clock: Clock;
  readonly store: PointStore;
  readonly log: Logger;
  /** Called after each batch of notifications (one publish response), so rules re-evaluate. */
  readonly onPoll?: (result: PollResult) => void;
}

export interface OpcuaSubscriberStatus extends PollerStatus {
  readonly state: OpcuaState;
  /** Clock time of the last batch of notifications. */
  readonly lastSuccessAt?: number;
  /** Connection losses and retried connects. */
  readonly reconnects: number;
  readonly monitoredItems: number;
  readonly notifications: number;
}

/** After a bug-class failure: the longest backoff, not a storm. */
const AFTER_UNEXPECTED_MS = DEFAULT_BACKOFF.maxMs;
/** Certificate, identity or namespace problems need a person; retry them slowly. */
const OPERATOR_RETRY_MS = 30_000;
/** Values read per Read request when resynchronising (a server's MaxNodesPerRead is often 1000+). */
const READ_CHUNK = 500;

export type OpcuaState = "idle" | "connecting" | "connected" | "disconnected" | "needs_operator" | "stopped";
type State = OpcuaState;

interface Live {
  readonly client: OPCUAClient;
  session?: ClientSession;
  subscription?: ClientSubscription;
  /** Absolute node id per point, in device point order. */
  nodeIds: string[];
}

export class OpcuaSubscriber {
  readonly #ctx: OpcuaSubscriberContext;
  readonly #keys: string[];
  #cm: OPCUACertificateManager | undefined;
  #live: Live | undefined;
  #timer: TimerHandle | undefined;
  #watchdog: TimerHandle | undefined;
  #busy: Promise<void> | undefined;
  #state: State = "idle";
  /** The drivers' one backoff (../backoff.ts): 250 ms doubling to 30 s, ±20 % jitter. */
  readonly #backoff = new Backoff();
  #lastError: string | undefined;
  #lastHeard = 0;
  #batches = 0;
  #lastBatchAt: number | undefined;
  #reconnects = 0;
  #notifications = 0;
  #failures = 0;
  #monitored = 0;
  #pendingBatch = 0;
  #batchStart = 0;

  constructor(ctx: OpcuaSubscriberContext) {
    this.#ctx = ctx;
    this.#keys = ctx.device.points.map((p) => pointKey(ctx.device.id, p.pointId));
  }

  start(): void {
    if (this.#state !== "idle" && this.#state !== "stopped") return;
    this.#state = "idle";
    this.#after(0);
    const every = Math.max(50, this.#ctx.device.silenceLimitMs / 3);
    this.#watchdog = this.#ctx.clock.setInterval(() => this.#checkSilence(), every);
  }

  /** Cancel timers, close the session and the channel, and wait for a connect in flight. */
  async stop(): Promise<void> {
    this.#state = "stopped";
    this.#timer?.cancel();
    this.#watchdog?.cancel();
    await this.#busy?.catch(() => undefined);
    await this.#teardown();
    await this.#cm?.dispose();
    this.#cm = undefined;
  }

  status(): OpcuaSubscriberStatus {
    return {
      connected: this.#state === "connected",
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
      polls: this.#batches,
      failures: this.#failures,
      overruns: 0,
      lastPollMs: 0,
      requestsPerPoll: 1,
      state: this.#state,
      ...(this.#lastBatchAt !== undefined ? { lastSuccessAt: this.#lastBatchAt } : {}),
      reconnects: this.#reconnects,
      monitoredItems: this.#monitored,
      notifications: this.#notifications,
    };
  }

  #after(delayMs: number): void {
    this.#timer?.cancel();
    this.#timer = this.#ctx.clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#state === "stopped") return;
      const run = this.#connect().catch((e: unknown) => {
        this.#failures++;
        this.#ctx.log.error({ device: this.#ctx.device.id, err: e }, "opcua subscriber failed unexpectedly; reconnecting");
        void this.#teardown().then(() => this.#reconnectLater(AFTER_UNEXPECTED_MS));
      });
      this.#busy = run.finally(() => (this.#busy = undefined));
    }, Math.max(0, delayMs));
  }

  async #connect(): Promise<void> {
    const { device } = this.#ctx;
    const cfg = device.opcua;
    this.#cm ??= await certificateManager(cfg.pkiDir);
    const client = createClient({ config: cfg, certificateManager: this.#cm });
    const live: Live = { client, nodeIds: [] };
    this.#live = live;
    this.#setState("connecting", `connecting to ${cfg.endpoint}`);
    let stage: "connect" | "session" = "connect";
    try {
      await client.connect(cfg.endpoint);
      if (this.#isStale(live)) return;
      stage = "session";
      live.session = await client.createSession(userIdentityOf(cfg));
      if (this.#isStale(live)) return;
      live.nodeIds = await this.#resolveNodes(live.session);
      await this.#subscribe(live, live.session);
    } catch (e) {
      if (this.#isStale(live)) return;
      const f = explainConnectFailure(device.id, cfg, e, stage);
      const thumb = f.error.name === "OpcuaCertificateError" && stage === "connect" ? await newestRejected(cfg.pkiDir) : undefined;
      const message = thumb !== undefined ? `${f.error.message}; rejected certificate: ${thumb}` : f.error.message;
      const needsOperator = f.needsOperator || e instanceof OpcuaServerMismatchError;
      const text = e instanceof OpcuaServerMismatchError ? e.message : message;
      await this.#teardown();
      this.#markAll(needsOperator ? "config" : "comm_fail", text, needsOperator ? "needs_operator" : "disconnected");
      this.#reconnectLater(needsOperator ? OPERATOR_RETRY_MS : undefined);
      return;
    }
    this.#backoff.reset();
    this.#lastHeard = this.#ctx.clock.now();
    this.#watchClient(live);
    this.#setState("connected", `connected to ${cfg.endpoint} (${cfg.securityMode}/${cfg.securityPolicy}, user ${cfg.user.type}), ${this.#monitored} monitored items`);
  }

  /** The profile's namespace URI to its index on this server, and every point's node id with it. */
  async #resolveNodes(session: ClientSession): Promise<string[]> {
    const { device } = this.#ctx;
    const uris = await session.readNamespaceArray();
    const ns = uris.indexOf(device.profile.namespaceUri);
    if (ns < 0) {
      throw new OpcuaServerMismatchError(device.id, `the server has no namespace ${device.profile.namespaceUri} (profile ${device.profile.id}); it has: ${uris.join(", ")}`);
    }
    return device.points.map((p) => `ns=${ns};${p.node}`);
  }

  async #subscribe(live: Live, session: ClientSession): Promise<void> {
    const { device } = this.#ctx;
    const sub = await session.createSubscription2({
      requestedPublishingInterval: device.opcua.publishingIntervalMs,
      requestedMaxKeepAliveCount: OPCUA_KEEPALIVE_COUNT,
      requestedLifetimeCount: OPCUA_KEEPALIVE_COUNT * 10, // the spec wants >= 3x the keep-alive count
      maxNotificationsPerPublish: 0, // no limit: a burst arrives in one batch
      publishingEnabled: true,
      priority: 100,
    });
    live.subscription = sub;
    sub.on("keepalive", () => this.#heard());
    sub.on("received_notifications", () => this.#heard());
    sub.on("terminated", () => this.#lost(live, "the server terminated the subscription"));
    // Items with the same monitoring parameters go in one CreateMonitoredItems call (a group).
    const groups = new Map<string, number[]>();
    device.points.forEach((p, i) => {
      const k = parametersKey(p);
      groups.set(k, [...(groups.get(k) ?? []), i]);
    });
    this.#monitored = 0;
    for (const idx of groups.values()) {
      const first = device.points[idx[0]!]!;
      const group = await sub.monitorItems(
        idx.map((i) => ({ nodeId: coerceNodeId(live.nodeIds[i]!), attributeId: AttributeIds.Value })),
        { samplingInterval: first.samplingIntervalMs, queueSize: first.queueSize, discardOldest: true, ...filterOf(first) },
        TimestampsToReturn.Both,
      );
      group.on("changed", (_item, dv: DataValue, k: number) => this.#onValue(idx[k]!, dv));
      group.monitoredItems.forEach((item, k) => {
        if (item.statusCode.isGood()) this.#monitored++;
        else {
          const p = device.points[idx[k]!]!;
          this.#ctx.store.update(this.#keys[idx[k]!]!, bad("config", this.#ctx.clock.now(), `cannot monitor ${live.nodeIds[idx[k]!]}: ${item.statusCode.name}; check node "${p.node}" in profile ${device.profile.id}`));
        }
      });
    }
  }

  #onValue(i: number, dv: DataValue): void {
    const p = this.#ctx.device.points[i]!;
    const now = this.#ctx.clock.now();
    if (this.#pendingBatch === 0) {
      this.#batchStart = now;
      queueMicrotask(() => this.#flushBatch());
    }
    this.#pendingBatch++;
    this.#notifications++;
    this.#ctx.store.update(this.#keys[i]!, toPointValue(rawSample(dv), limitsOf(p), now, p.def.unit));
  }

  /** One publish response's notifications are all in the store: let the rules look. */
  #flushBatch(): void {
    const n = this.#pendingBatch;
    this.#pendingBatch = 0;
    this.#batches++;
    this.#heard();
    this.#lastBatchAt = this.#lastHeard;
    try {
      this.#ctx.onPoll?.({ device: this.#ctx.device.id, startedAt: this.#batchStart, durationMs: this.#ctx.clock.now() - this.#batchStart, requests: n, failedRequests: 0, overrun: false });
    } catch (e) {
      this.#ctx.log.error({ device: this.#ctx.device.id, err: e }, "onPoll listener failed");
    }
  }

  #heard(): void {
    this.#lastHeard = this.#ctx.clock.now();
  }

  /** node-opcua repairs the connection itself; we mark the outage and resynchronise after it. */
  #watchClient(live: Live): void {
    live.client.on("connection_lost", () => {
      if (this.#live !== live) return;
      this.#reconnects++;
      this.#markAll("comm_fail", `connection to ${this.#ctx.device.opcua.endpoint} lost; reconnecting`, "disconnected");
    });
    live.client.on("connection_reestablished", () => {
      if (this.#live !== live || live.session === undefined) return;
      this.#heard();
      void this.#resync(live, live.session);
    });
  }

  /**
   * After a reconnection the subscription was transferred or re-created, but unchanged values may
   * not be sent again: read every node once so no point stays bad from the outage.
   */
  async #resync(live: Live, session: ClientSession): Promise<void> {
    try {
      for (let start = 0; start < live.nodeIds.length; start += READ_CHUNK) {
        const ids = live.nodeIds.slice(start, start + READ_CHUNK);
        const values = await session.read(ids.map((nodeId) => ({ nodeId: coerceNodeId(nodeId), attributeId: AttributeIds.Value })));
        if (this.#live !== live) return;
        values.forEach((dv, k) => this.#onValue(start + k, dv));
      }
      this.#setState("connected", "connection re-established; subscription restored and values re-read");
    } catch (e) {
      if (this.#live !== live) return;
      this.#lost(live, `re-reading values after reconnection failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** No notification or keep-alive for longer than the device's silence limit: the link is dead. */
  #checkSilence(): void {
    const live = this.#live;
    if (this.#state !== "connected" || live === undefined) return;
    const { clock, device } = this.#ctx;
    // node-opcua's keep-alives run in real time; the limit is in real milliseconds too.
    const silentMs = (clock.now() - this.#lastHeard) / clock.speed;
    if (silentMs > device.silenceLimitMs) this.#lost(live, `no notification or keep-alive for ${Math.round(silentMs / 1000)} s`, "stale");
  }

  /** Give up on this client entirely and start over with a new connection. */
  #lost(live: Live, detail: string, reason: QualityReason = "comm_fail"): void {
    if (this.#live !== live || this.#state === "stopped") return;
    this.#markAll(reason, detail, "disconnected");
    void this.#teardown().then(() => this.#reconnectLater());
  }

  async #teardown(): Promise<void> {
    const live = this.#live;
    this.#live = undefined;
    if (live === undefined) return;
    live.client.removeAllListeners();
    try {
      await live.subscription?.terminate().catch(() => undefined);
      await live.session?.close().catch(() => undefined);
    } finally {
      await live.client.disconnect().catch(() => undefined);
    }
  }

  #isStale(live: Live): boolean {
    return this.#live !== live || this.#state === "stopped";
  }

  #reconnectLater(delayMs?: number): void {
    if (this.#state === "stopped") return;
    this.#reconnects++;
    const backoff = this.#backoff.next();
    this.#after(delayMs ?? backoff);
  }

  #markAll(reason: QualityReason, detail: string, state: State): void {
    const v = bad(reason, this.#ctx.clock.now(), detail);
    for (const k of this.#keys) this.#ctx.store.update(k, v);
    this.#lastError = detail;
    this.#failures++;
    this.#setState(state, detail);
    try {
      this.#ctx.onPoll?.({ device: this.#ctx.device.id, startedAt: v.sourceTs, durationMs: 0, requests: 0, failedRequests: 1, overrun: false, error: detail });
    } catch (e) {
      this.#ctx.log.error({ device: this.#ctx.device.id, err: e }, "onPoll listener failed");
    }
  }

  #setState(state: State, detail: string): void {
    if (this.#state === "stopped") return;
    const previous = this.#state;
    this.#state = state;
    if (previous === state && state !== "connected") return; // logged once per state, not per retry
    const fields = { device: this.#ctx.device.id, endpoint: this.#ctx.device.opcua.endpoint, state, previous, detail };
    if (state === "connected") this.#ctx.log.info(fields, "opcua device connected");
    else if (state === "needs_operator") this.#ctx.log.error(fields, "opcua device refused the connection; points bad/config until an operator fixes it (retrying slowly)");
    else if (state === "disconnected") this.#ctx.log.warn(fields, "opcua device not reachable; points bad, reconnecting");
    else this.#ctx.log.debug(fields, "opcua device connecting");
  }
}
