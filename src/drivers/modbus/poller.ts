// Polls one Modbus device (TCP, or a unit on an RTU line) on its own timers (README.md#device-profiles): connect, discover the
// SunSpec map, plan once, then poll on a drift-free schedule and write every point to the store;
// on failure every affected point turns bad within the same poll, and the poller reconnects with
// backoff. State changes (connected, failing, recovered, mismatch) are logged once each.
import type { Logger } from "pino";
import { ActionWriteError, ConfigError, DeviceLayoutError } from "../../errors.js";
import { bad, good, pointKey, type PointKey, type PointValue, type QualityReason } from "../../points/point.js";
import type { PointStore } from "../../points/store.js";
import type { Clock, TimerHandle } from "../../runtime/clock.js";
import type { Device } from "../../config/types.js";
import { Backoff } from "../backoff.js";
import { classifyFailure, tcpLinkOpener, type LinkCounters, type LinkOpener, type ModbusLink } from "./connection.js";
import { DeviceState, type PollerState } from "./device-state.js";
import { planDevice, type DevicePlan } from "./device-plan.js";
import { PointWriter, type WriteReport } from "./point-writer.js";
import { PollLoad } from "./poll-load.js";
import { runRequests } from "./poll-requests.js";
import { discoverModels, layoutSurplus, mapSunspecPoints, type SunspecAddress } from "./sunspec.js";
import { planWrite } from "./write-plan.js";
import type { ModbusPollerStatus, PollResult } from "./poller-status.js";

export type { ModbusPollerStatus, PollerState, PollerStatus, PollResult } from "./poller-status.js";

export interface PollerContext {
  readonly device: Device;
  readonly clock: Clock;
  readonly store: PointStore;
  readonly log: Logger;
  readonly onPoll?: (result: PollResult) => void;
  /** How to reach the device; default: Modbus TCP to device.modbus. RTU devices get theirs from RtuLines (src/drivers/factory.ts). */
  readonly link?: LinkOpener;
}

/** After a bug-class failure with no live connection: the longest backoff, not a storm. */
const AFTER_UNEXPECTED_MS = 30_000;
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

export class ModbusPoller {
  readonly #ctx: PollerContext;
  readonly #writer: PointWriter;
  readonly #backoff = new Backoff();
  /** The device's `layout` point, when it has one (SunSpec devices with a layout). */
  readonly #layoutKey: PointKey | undefined;
  readonly #link: LinkOpener;
  #conn: ModbusLink | undefined;
  #plan: DevicePlan | undefined;
  /** SunSpec addresses found at the last discovery: where a protective action's write goes. */
  #sunspec: ReadonlyMap<string, SunspecAddress> | undefined;
  #timer: TimerHandle | undefined;
  #busy: Promise<void> | undefined;
  #plannedAt = 0;
  #timeouts = 0;
  readonly #state: DeviceState;
  #started = false;
  #lastError: string | undefined;
  #polls = 0;
  #failures = 0;
  #overruns = 0;
  /** Overruns, late polls and the achieved poll rate; a change of its state is logged once. */
  readonly #load: PollLoad;
  /** A rate verdict has gone out with a PollResult (after that, only changes do). */
  #rateReported = false;
  #lastPollMs = 0;
  #connectAttempts = 0;
  #lastSuccessAt: number | undefined;
  /** Counters of the connections already closed; the open one's are added in status(). */
  readonly #retired: LinkCounters = { requests: 0, exceptions: 0, malformed: 0, timeouts: 0, lateAnswers: 0 };
  readonly #retiredConns = new WeakSet<ModbusLink>();

  constructor(ctx: PollerContext) {
    this.#ctx = ctx;
    const { device } = ctx;
    this.#state = new DeviceState(ctx.log, device.id);
    this.#link = ctx.link ?? tcpLinkOpener(device);
    this.#load = new PollLoad(device.pollIntervalMs);
    this.#writer = new PointWriter(ctx.store, device.id, device.points.map((p) => p.pointId));
    const layoutPoint = device.points.find((p) => p.source === "layout");
    this.#layoutKey = layoutPoint === undefined ? undefined : pointKey(device.id, layoutPoint.pointId);
  }

  start(): void {
    if (this.#started && this.#state.state !== "stopped") return;
    this.#started = true;
    this.#state.reset("connecting");
    this.#after(0, () => this.#connect());
  }

  /** Cancel timers, close the socket, and wait for a poll in flight to finish. */
  async stop(): Promise<void> {
    this.#state.reset("stopped");
    this.#timer?.cancel();
    this.#timer = undefined;
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn !== undefined) await this.#retire(conn);
    await this.#busy;
  }

  status(): ModbusPollerStatus {
    const live = this.#conn?.counters;
    const sum = (k: keyof LinkCounters): number => this.#retired[k] + (live?.[k] ?? 0);
    return {
      connected: this.#conn?.open === true && this.#plan !== undefined,
      state: this.#state.state,
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
      polls: this.#polls,
      failures: this.#failures,
      overruns: this.#overruns,
      latePolls: this.#load.status().latePolls,
      ...(this.#load.status().achievedPerS === undefined ? {} : { achievedPollsPerS: this.#load.status().achievedPerS }),
      configuredPollsPerS: this.#load.status().configuredPerS,
      loadState: this.#load.status().loadState,
      lastPollMs: this.#lastPollMs,
      ...(this.#lastSuccessAt !== undefined ? { lastSuccessAt: this.#lastSuccessAt } : {}),
      requestsPerPoll: this.#plan?.requests.length ?? 0,
      connectAttempts: this.#connectAttempts,
      failedAttempts: this.#backoff.failures,
      stateChanges: this.#state.changes,
      malformedResponses: sum("malformed"),
      exceptionResponses: sum("exceptions"),
      timeouts: sum("timeouts"),
      lateAnswers: sum("lateAnswers"),
      ...(this.#state.layoutMismatch !== undefined ? { layoutMismatch: this.#state.layoutMismatch } : {}),
    };
  }

  /**
   * A protective action's write (src/actions/) on this device's own link: it waits in the same
   * request queue as the polls, never beside them. Throws ActionWriteError naming why it was not
   * carried out (not connected, a transport without writes, a Modbus exception, no answer).
   */
  async write(pointId: string, value: number): Promise<void> {
    const { device } = this.#ctx;
    const conn = this.#conn;
    if (conn === undefined || !conn.open || this.#plan === undefined) throw new ActionWriteError(device.id, pointId, `the device is not connected (${this.#state.state}${this.#lastError === undefined ? "" : `: ${this.#lastError}`})`);
    if (conn.write === undefined) throw new ActionWriteError(device.id, pointId, `${this.#link.describe} does not carry writes (Modbus RTU writes are not implemented)`);
    const cmd = planWrite(device, pointId, value, this.#sunspec);
    try {
      await conn.write(cmd);
    } catch (e) {
      throw new ActionWriteError(device.id, pointId, `FC ${cmd.fc} to address ${cmd.address}: ${classifyFailure(e, device.timeoutMs).detail}`);
    }
  }

  /** Close a connection that is done with, keeping its counters. */
  #retire(conn: ModbusLink): Promise<void> {
    if (!this.#retiredConns.has(conn)) {
      this.#retiredConns.add(conn);
      for (const [k, v] of Object.entries(conn.counters) as [keyof LinkCounters, number][]) this.#retired[k] += v;
    }
    return conn.close();
  }

  /** Run `job` after delayMs of the injected clock; one job at a time, its failures caught and counted. */
  #after(delayMs: number, job: () => Promise<void>): void {
    this.#timer?.cancel();
    this.#timer = this.#ctx.clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#state.state === "stopped") return;
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
    if (this.#state.state === "stopped" || this.#timer !== undefined) return;
    const conn = this.#conn;
    const plan = this.#plan;
    if (conn?.open === true && plan !== undefined) {
      const interval = this.#ctx.device.pollIntervalMs;
      this.#plannedAt = this.#ctx.clock.now() + interval;
      this.#after(interval, () => this.#poll(conn, plan));
    } else {
      this.#reconnectLater(AFTER_UNEXPECTED_MS);
    }
  }

  async #connect(): Promise<void> {
    const { device, clock } = this.#ctx;
    let conn: ModbusLink;
    this.#connectAttempts++;
    try {
      // timeout_ms is on the clock's timeline like the poll interval; sockets run in real time.
      const timeoutMs = Math.max(Math.min(MIN_REAL_TIMEOUT_MS, device.timeoutMs), Math.round(device.timeoutMs / clock.speed));
      conn = await this.#link.open(timeoutMs);
    } catch (e) {
      const f = classifyFailure(e, device.timeoutMs);
      this.#markAll(f.reason === "timeout" ? "timeout" : "comm_fail", `connect to ${this.#link.describe} failed: ${f.detail}`, "failing");
      this.#reconnectLater();
      return;
    }
    if (this.#state.state === "stopped") return void (await this.#retire(conn));
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
      let surplus: string[] = [];
      const ss = device.profile.sunspec;
      if (ss !== undefined && device.layout !== undefined) {
        const models = await discoverModels(device.id, ss.baseAddress, (a, n) => conn.read(ss.table, a, n));
        sunspec = mapSunspecPoints(device.id, device.layout, device.points, models);
        surplus = layoutSurplus(device.layout, models);
      }
      this.#plan = planDevice(device, sunspec);
      this.#sunspec = sunspec;
      this.#state.noteLayout(device.layout, surplus);
    } catch (e) {
      await this.#dropForSetupFailure(conn, e);
      return;
    }
    // The backoff is not reset here: a device that accepts TCP and then sends garbage would
    // otherwise be reconnected to 4 times a second. Only a poll that fully succeeds resets it.
    this.#timeouts = 0;
    this.#plannedAt = clock.now();
    await this.#poll(conn, this.#plan);
  }

  async #dropForSetupFailure(conn: ModbusLink, e: unknown): Promise<void> {
    this.#plan = undefined;
    const handled = this.#conn !== conn; // the socket dropped: #lost already marked and rescheduled
    this.#conn = handled ? this.#conn : undefined;
    await this.#retire(conn);
    if (handled || this.#state.state === "stopped") return;
    if (e instanceof DeviceLayoutError || e instanceof ConfigError) {
      this.#markAll("config", e.message, "mismatch");
      this.#reconnectLater(MISMATCH_RETRY_MS);
      return;
    }
    const f = classifyFailure(e, this.#ctx.device.timeoutMs);
    this.#markAll(f.reason, `during SunSpec discovery: ${f.detail}`, "failing");
    this.#reconnectLater(f.reason === "device_exception" ? MISMATCH_RETRY_MS : undefined);
  }

  async #poll(conn: ModbusLink, plan: DevicePlan): Promise<void> {
    const { clock, device } = this.#ctx;
    const startedAt = clock.now();
    const { image, failed, readAt, fatal } = await runRequests(conn, plan.requests, () => clock.now(), device.timeoutMs);
    const error = fatal === undefined ? undefined : `${fatal.failure.reason}: ${fatal.at}`;
    if (fatal?.failure.reason === "timeout") this.#handleTimeout(conn, fatal.at);
    else if (fatal?.failure.reason === "comm_fail") this.#lost(conn, fatal.failure.malformed === true ? `connection reset after a malformed response: ${fatal.at}` : `connection lost: ${fatal.at}`);
    if (error === undefined) {
      this.#timeouts = 0;
      if (failed.size < plan.requests.length) this.#lastSuccessAt = clock.now();
      this.#report(this.#writer.writePoll(plan, image, failed, readAt, startedAt));
      this.#writeLayout(startedAt, failed.size === plan.requests.length ? failed.values().next().value : undefined);
      if (failed.size === 0) {
        const failedAttempts = this.#backoff.failures;
        this.#backoff.reset();
        this.#state.set("ok", this.#state.state === "connecting" ? `connected to ${this.#link.describe}, ${plan.requests.length} requests per poll` : `device answers again after ${failedAttempts} failed attempt(s)`);
      } else if (failed.size === plan.requests.length) {
        this.#state.set("failing", `answers only with Modbus exceptions, e.g. ${failed.values().next().value?.detail ?? ""}`);
      } else {
        this.#state.set("ok", `answers, with Modbus exceptions for ${failed.size} of ${plan.requests.length} requests`);
      }
    }
    this.#finishPoll(startedAt, plan, failed.size, error);
  }

  /**
   * The `layout` point: good 0 while the device holds no more than its layout, bad/config naming the
   * rest. A poll that no request of was answered (`allFailed`) carries its failure to it as well,
   * so that a device answering only exceptions reads as such on every point (comm_loss counts it).
   */
  #writeLayout(ts: number, allFailed: PointValue | undefined): void {
    if (this.#layoutKey === undefined) return;
    const mismatch = this.#state.layoutMismatch;
    const v = allFailed ?? (mismatch === undefined ? good(0, ts) : bad("config", ts, mismatch));
    this.#report(this.#writer.write([[this.#layoutKey, v]]));
  }

  #handleTimeout(conn: ModbusLink, detail: string): void {
    this.#markAll("timeout", detail, "failing");
    if (++this.#timeouts >= TIMEOUTS_BEFORE_RECONNECT && this.#conn === conn) {
      this.#conn = undefined;
      this.#plan = undefined;
      void this.#retire(conn);
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
    const failed = error !== undefined || failedRequests > 0;
    const change = failed ? (this.#load.restartWindow(), undefined) : this.#load.note(this.#plannedAt, startedAt, overrun);
    // The first verdict is reported whatever it is: it clears a poll_rate alarm restored from before a restart.
    const verdict = change !== undefined || !this.#rateReported ? this.#load.verdict() : undefined;
    if (verdict !== undefined) this.#rateReported = true;
    if (change !== undefined) {
      if (change.state === "overloaded") this.#ctx.log.warn({ device: device.id, ...this.#load.status() }, change.detail);
      else this.#ctx.log.info({ device: device.id, ...this.#load.status() }, change.detail);
    }
    this.#plannedAt = next;
    try {
      this.#ctx.onPoll?.({ device: device.id, startedAt, durationMs: this.#lastPollMs, requests: plan.requests.length, failedRequests, overrun, ...(error !== undefined ? { error } : {}), ...(verdict !== undefined ? { rate: verdict } : {}) });
    } catch (e) {
      this.#ctx.log.error({ device: device.id, err: e }, "onPoll listener failed");
    }
    const conn = this.#conn;
    const current = this.#plan;
    if (this.#state.state === "stopped" || conn === undefined || current === undefined || this.#timer !== undefined) return;
    this.#after(next - now, () => this.#poll(conn, current));
  }

  /** The socket dropped or was reset: every point bad/comm_fail now, reconnect with backoff. */
  #lost(conn: ModbusLink, detail: string): void {
    if (this.#conn !== conn || this.#state.state === "stopped") return;
    this.#conn = undefined;
    this.#plan = undefined;
    void this.#retire(conn);
    this.#markAll("comm_fail", detail, "failing");
    this.#reconnectLater();
  }

  /** Whatever the failure, the next attempt waits the backoff (or `delayMs`), which grows with every failure. */
  #reconnectLater(delayMs?: number): void {
    if (this.#state.state === "stopped") return;
    this.#load.restartWindow(); // time spent reconnecting is a comm fault, not overload
    const backoff = this.#backoff.next();
    this.#after(delayMs ?? backoff, () => this.#connect());
  }

  /** Every point of the device bad with one reason, and the state change logged once. */
  #markAll(reason: QualityReason, detail: string, state: PollerState): void {
    const { clock } = this.#ctx;
    this.#report(this.#writer.writeAll(bad(reason, clock.now(), detail)));
    this.#lastError = detail;
    this.#state.set(state, detail);
  }

  #report({ failedWrites, first }: WriteReport): void {
    if (failedWrites > 0) {
      this.#failures++;
      this.#lastError = `${failedWrites} point write(s) failed: ${first instanceof Error ? first.message : String(first)}`;
      this.#ctx.log.error({ device: this.#ctx.device.id, err: first, failedWrites }, "writing point values failed");
    }
  }
}
