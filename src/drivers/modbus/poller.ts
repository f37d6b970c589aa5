// Polls one Modbus TCP device on its own socket and timers (README.md#device-profiles): connect, discover the
// SunSpec map, plan once, then poll on a drift-free schedule and write every point to the store;
// on failure every affected point turns bad within the same poll, and the poller reconnects.
import type { Logger } from "pino";
import { ConfigError, DeviceLayoutError } from "../../errors.js";
import { bad, pointKey, type PointKey, type PointValue, type QualityReason } from "../../points/point.js";
import type { PointHandle, PointStore } from "../../points/store.js";
import type { Clock, TimerHandle } from "../../runtime/clock.js";
import type { Device } from "../../config/types.js";
import { classifyFailure, ModbusConnection } from "./connection.js";
import { RegisterImage } from "./decode.js";
import { planDevice, type DevicePlan } from "./device-plan.js";
import { discoverModels, mapSunspecPoints } from "./sunspec.js";

export interface PollResult {
  readonly device: string;
  readonly startedAt: number;
  readonly durationMs: number;
  readonly requests: number;
  readonly failedRequests: number;
  /** The poll took longer than the poll interval; the next one starts at the next free slot. */
  readonly overrun: boolean;
  readonly error?: string;
}

export interface PollerStatus {
  readonly connected: boolean;
  readonly lastError?: string;
  readonly polls: number;
  readonly failures: number;
  readonly overruns: number;
  readonly lastPollMs: number;
  readonly requestsPerPoll: number;
}

export interface PollerContext {
  readonly device: Device;
  readonly clock: Clock;
  readonly store: PointStore;
  readonly log: Logger;
  readonly onPoll?: (result: PollResult) => void;
}

// Reconnect backoff: 250 ms doubling to 30 s, ±20 % jitter so a hall of devices that lost one
// switch does not reconnect in lockstep (firebreak's choice).
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 30_000;
/** A layout or profile that does not match the device is retried this often, not hammered. */
const MISMATCH_RETRY_MS = 30_000;
/** Consecutive timed-out polls after which the socket is reopened (a late answer may still be queued). */
const TIMEOUTS_BEFORE_RECONNECT = 3;

/**
 * Floor for the real-time request timeout under an accelerated clock (simulator runs only): the
 * network and the simulator answer in real time, and a loaded 2-core test machine can take a
 * hundred milliseconds to schedule an answer, so compressing the timeout below this would report
 * a healthy device as timing out. Never more than the configured timeout itself.
 */
const MIN_REAL_TIMEOUT_MS = 200;

type State = "idle" | "connected" | "unreachable" | "timeout" | "mismatch" | "stopped";

export class ModbusPoller {
  readonly #ctx: PollerContext;
  #conn: ModbusConnection | undefined;
  #plan: DevicePlan | undefined;
  #timer: TimerHandle | undefined;
  #busy: Promise<void> | undefined;
  #plannedAt = 0;
  #attempt = 0;
  #timeouts = 0;
  #state: State = "idle";
  #lastError: string | undefined;
  #polls = 0;
  #failures = 0;
  #overruns = 0;
  #lastPollMs = 0;
  #handlesPlan: DevicePlan | undefined;
  #handles: readonly (PointHandle | undefined)[] = [];

  constructor(ctx: PollerContext) {
    this.#ctx = ctx;
  }

  start(): void {
    if (this.#state !== "idle" && this.#state !== "stopped") return;
    this.#state = "idle";
    this.#after(0, () => this.#connect());
  }

  /** Cancel timers, close the socket, and wait for a poll in flight to finish. */
  async stop(): Promise<void> {
    this.#state = "stopped";
    this.#timer?.cancel();
    this.#timer = undefined;
    const conn = this.#conn;
    this.#conn = undefined;
    await conn?.close();
    await this.#busy;
  }

  status(): PollerStatus {
    return {
      connected: this.#conn?.open === true && this.#plan !== undefined,
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
      polls: this.#polls,
      failures: this.#failures,
      overruns: this.#overruns,
      lastPollMs: this.#lastPollMs,
      requestsPerPoll: this.#plan?.requests.length ?? 0,
    };
  }

  /** Run `job` after delayMs of the injected clock; one job at a time, its failures caught and counted. */
  #after(delayMs: number, job: () => Promise<void>): void {
    this.#timer?.cancel();
    this.#timer = this.#ctx.clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#state === "stopped") return;
      const run = job().catch((e: unknown) => {
        this.#failures++;
        this.#lastError = e instanceof Error ? e.message : String(e);
        this.#ctx.log.error({ device: this.#ctx.device.id, err: e }, "modbus poll failed unexpectedly; polling goes on");
        this.#resumeAfterUnexpected();
      });
      this.#busy = run.finally(() => (this.#busy = undefined));
    }, Math.max(0, delayMs));
  }

  /** After a bug-class failure: keep polling on a live connection, else reconnect; never stop. */
  #resumeAfterUnexpected(): void {
    if (this.#state === "stopped" || this.#timer !== undefined) return;
    const conn = this.#conn;
    const plan = this.#plan;
    if (conn?.open === true && plan !== undefined) {
      const interval = this.#ctx.device.pollIntervalMs;
      this.#plannedAt = this.#ctx.clock.now() + interval;
      this.#after(interval, () => this.#poll(conn, plan));
    } else {
      this.#reconnectLater(BACKOFF_MAX_MS);
    }
  }

  async #connect(): Promise<void> {
    const { device, clock } = this.#ctx;
    const { host, port, unitId } = device.modbus;
    let conn: ModbusConnection;
    try {
      // timeout_ms is on the clock's timeline like the poll interval; sockets run in real time.
      conn = await ModbusConnection.open(host, port, unitId, Math.max(Math.min(MIN_REAL_TIMEOUT_MS, device.timeoutMs), Math.round(device.timeoutMs / clock.speed)));
    } catch (e) {
      const f = classifyFailure(e, device.timeoutMs);
      this.#markAll(f.reason === "timeout" ? "timeout" : "comm_fail", `connect to ${host}:${port} failed: ${f.detail}`, "unreachable");
      this.#reconnectLater();
      return;
    }
    if (this.#state === "stopped") return void (await conn.close());
    this.#conn = conn;
    conn.onLost((detail) => {
      // Runs from a socket event: nothing may escape into the event loop.
      try {
        this.#lost(conn, detail);
      } catch (e) {
        this.#ctx.log.error({ device: device.id, err: e }, "handling a lost connection failed");
      }
    });
    try {
      let sunspec;
      const ss = device.profile.sunspec;
      if (ss !== undefined && device.layout !== undefined) {
        const models = await discoverModels(device.id, ss.baseAddress, (a, n) => conn.read(ss.table, a, n));
        sunspec = mapSunspecPoints(device.id, device.layout, device.points, models);
      }
      this.#plan = planDevice(device, sunspec);
    } catch (e) {
      await this.#dropForSetupFailure(conn, e);
      return;
    }
    this.#attempt = 0;
    this.#timeouts = 0;
    this.#setState("connected", `connected to ${host}:${port} unit ${unitId}, ${this.#plan.requests.length} requests per poll`);
    this.#plannedAt = clock.now();
    await this.#poll(conn, this.#plan);
  }

  async #dropForSetupFailure(conn: ModbusConnection, e: unknown): Promise<void> {
    this.#plan = undefined;
    const handled = this.#conn !== conn; // the socket dropped: #lost already marked and rescheduled
    this.#conn = handled ? this.#conn : undefined;
    await conn.close();
    if (handled || this.#state === "stopped") return;
    if (e instanceof DeviceLayoutError || e instanceof ConfigError) {
      this.#markAll("config", e.message, "mismatch");
      this.#reconnectLater(MISMATCH_RETRY_MS);
      return;
    }
    const f = classifyFailure(e, this.#ctx.device.timeoutMs);
    this.#markAll(f.reason, `during SunSpec discovery: ${f.detail}`, f.reason === "timeout" ? "timeout" : "unreachable");
    this.#reconnectLater(f.reason === "device_exception" ? MISMATCH_RETRY_MS : undefined);
  }

  async #poll(conn: ModbusConnection, plan: DevicePlan): Promise<void> {
    const { clock, device } = this.#ctx;
    const startedAt = clock.now();
    const image = new RegisterImage();
    const failed = new Map<number, PointValue>();
    const readAt: number[] = [];
    let error: string | undefined;
    for (let i = 0; i < plan.requests.length && error === undefined; i++) {
      const req = plan.requests[i]!;
      try {
        image.add(req.table, req.start, await conn.read(req.table, req.start, req.count));
        readAt[i] = clock.now();
      } catch (e) {
        const f = classifyFailure(e, device.timeoutMs);
        const at = `${req.table} ${req.start}+${req.count}: ${f.detail}`;
        if (f.reason === "device_exception") failed.set(i, bad("device_exception", clock.now(), at));
        else error = `${f.reason}: ${at}`;
        if (f.reason === "timeout") this.#handleTimeout(conn, at);
        else if (f.reason === "comm_fail") this.#lost(conn, at);
      }
    }
    if (error === undefined) {
      this.#timeouts = 0;
      this.#writePoll(plan, image, failed, readAt, startedAt);
      if (this.#state !== "connected") this.#setState("connected", "device answers again");
    }
    this.#finishPoll(startedAt, plan, failed.size, error);
  }

  #handleTimeout(conn: ModbusConnection, detail: string): void {
    this.#markAll("timeout", detail, "timeout");
    if (++this.#timeouts >= TIMEOUTS_BEFORE_RECONNECT && this.#conn === conn) {
      this.#conn = undefined;
      this.#plan = undefined;
      void conn.close();
      this.#reconnectLater();
    }
  }

  #finishPoll(startedAt: number, plan: DevicePlan, failedRequests: number, error: string | undefined): void {
    const { clock, device } = this.#ctx;
    const now = clock.now();
    const interval = device.pollIntervalMs;
    this.#polls++;
    if (error !== undefined || failedRequests > 0) {
      this.#failures++;
      this.#lastError = error ?? `${failedRequests} request(s) answered with a Modbus exception`;
    }
    this.#lastPollMs = now - startedAt;
    // Next slot on the planned grid, not "now + interval": no drift. An overrun skips to the next
    // free slot instead of queueing polls behind each other.
    let next = this.#plannedAt + interval;
    const overrun = next < now;
    if (overrun) {
      this.#overruns++;
      next = this.#plannedAt + Math.ceil((now - this.#plannedAt) / interval) * interval;
    }
    this.#plannedAt = next;
    try {
      this.#ctx.onPoll?.({ device: device.id, startedAt, durationMs: this.#lastPollMs, requests: plan.requests.length, failedRequests, overrun, ...(error !== undefined ? { error } : {}) });
    } catch (e) {
      this.#ctx.log.error({ device: device.id, err: e }, "onPoll listener failed");
    }
    const conn = this.#conn;
    const current = this.#plan;
    if (this.#state === "stopped" || conn === undefined || current === undefined || this.#timer !== undefined) return;
    this.#after(next - now, () => this.#poll(conn, current));
  }

  /** The socket dropped: every point bad/comm_fail now, reconnect with backoff. */
  #lost(conn: ModbusConnection, detail: string): void {
    if (this.#conn !== conn || this.#state === "stopped") return;
    this.#conn = undefined;
    this.#plan = undefined;
    void conn.close();
    this.#markAll("comm_fail", `connection lost: ${detail}`, "unreachable");
    this.#reconnectLater();
  }

  #reconnectLater(delayMs?: number): void {
    if (this.#state === "stopped") return;
    const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.#attempt++);
    const jittered = delayMs ?? backoff * (0.8 + 0.4 * Math.random());
    this.#after(jittered, () => this.#connect());
  }

  /** Every point of the device bad with one reason, and the state change logged once. */
  #markAll(reason: QualityReason, detail: string, state: State): void {
    const { device, clock } = this.#ctx;
    const v = bad(reason, clock.now(), detail);
    this.#writeAll(device.points.map((p) => [pointKey(device.id, p.pointId), v]));
    this.#lastError = detail;
    this.#setState(state, detail);
  }

  /** The store handles of a plan's points, resolved once per plan (no lookup by key per write). */
  #handlesOf(plan: DevicePlan): readonly (PointHandle | undefined)[] {
    if (this.#handlesPlan !== plan) {
      this.#handlesPlan = plan;
      this.#handles = plan.points.map((p) => this.#ctx.store.handle(p.key));
    }
    return this.#handles;
  }

  /** Decode a poll's answers straight into the store: no list of values in between. */
  #writePoll(plan: DevicePlan, image: RegisterImage, failed: ReadonlyMap<number, PointValue>, readAt: readonly number[], startedAt: number): void {
    const store = this.#ctx.store;
    const handles = this.#handlesOf(plan);
    let failedWrites = 0;
    let first: unknown;
    for (let i = 0; i < plan.points.length; i++) {
      const p = plan.points[i]!;
      const failure = failed.size === 0 ? undefined : p.requests.map((r) => failed.get(r)).find((v) => v !== undefined);
      const v = failure ?? p.decoder.decode(image, readAt[p.requests[0] ?? 0] ?? startedAt);
      try {
        const h = handles[i];
        if (h === undefined) store.update(p.key, v);
        else store.updateHandle(h, v);
      } catch (e) {
        if (failedWrites++ === 0) first = e;
      }
    }
    this.#reportFailedWrites(failedWrites, first);
  }

  /** Write values to the store; one failing write (or store listener) neither stops the rest nor the poller. */
  #writeAll(values: readonly (readonly [PointKey, PointValue])[]): void {
    let failedWrites = 0;
    let first: unknown;
    for (const [key, v] of values) {
      try {
        this.#ctx.store.update(key, v);
      } catch (e) {
        if (failedWrites++ === 0) first = e;
      }
    }
    this.#reportFailedWrites(failedWrites, first);
  }

  #reportFailedWrites(failedWrites: number, first: unknown): void {
    if (failedWrites > 0) {
      this.#failures++;
      this.#lastError = `${failedWrites} point write(s) failed: ${first instanceof Error ? first.message : String(first)}`;
      this.#ctx.log.error({ device: this.#ctx.device.id, err: first, failedWrites }, "writing point values failed");
    }
  }

  #setState(state: State, detail: string): void {
    if (this.#state === state || this.#state === "stopped") return;
    const previous = this.#state;
    this.#state = state;
    const fields = { device: this.#ctx.device.id, state, previous, detail };
    if (state === "connected") this.#ctx.log.info(fields, "modbus device connected");
    else if (state === "mismatch") this.#ctx.log.error(fields, "modbus device does not match its config; points bad/config, retrying later");
    else this.#ctx.log.warn(fields, "modbus device not answering; points bad, reconnecting with backoff");
  }
}
