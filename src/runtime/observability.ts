// How the running daemon is seen from outside: the systemd notify protocol (READY=1 once devices
// are started and the state restored, WATCHDOG=1 from the evaluation tick, STATUS=, STOPPING=1)
// and the HTTP health and metrics output. Reads the daemon's figures; changes nothing in it.
import type { Logger } from "pino";
import type { SiteConfig } from "../config/types.js";
import type { PollResult } from "../drivers/modbus/poller-status.js";
import type { DaemonFigures, DeviceFigures, PointCount } from "../outputs/http/figures.js";
import { FirebreakMetrics } from "../outputs/http/metrics.js";
import { HttpOutput } from "../outputs/http/server.js";
import { pointKey } from "../points/point.js";
import type { Clock, TimerHandle } from "./clock.js";
import { firebreakVersion, type Daemon } from "./daemon.js";
import { SystemdNotifier } from "./systemd.js";

/** The daemon's figures for /metrics and /readyz, read when asked. */
export function daemonFigures(daemon: Daemon, config: SiteConfig, clock: Clock): DaemonFigures {
  const points = [...config.devices, ...(config.opcuaDevices ?? [])].flatMap((d) => d.points.map((p) => ({ device: d.id, key: pointKey(d.id, p.pointId) })));
  const opcua = new Set((config.opcuaDevices ?? []).map((d) => d.id));
  return {
    site: config.site,
    instance: config.instance,
    version: firebreakVersion(),
    readiness: () => daemon.readiness(),
    devices: () =>
      daemon.pollerStatus().map((s): DeviceFigures => {
        const base = {
          device: s.device,
          connected: s.connected,
          polls: s.polls,
          failures: s.failures,
          overruns: s.overruns ?? 0,
          reconnects: s.reconnects,
          ...(s.timeouts !== undefined ? { timeouts: s.timeouts } : {}),
          ...(s.latePolls !== undefined ? { latePolls: s.latePolls } : {}),
          ...(s.achievedPollsPerS !== undefined ? { achievedPollsPerS: s.achievedPollsPerS } : {}),
          ...(s.overloaded !== undefined ? { overloaded: s.overloaded } : {}),
        };
        return { ...base, protocol: s.protocol === "opcua" || opcua.has(s.device) ? "opcua" : "modbus" };
      }),
    points: () => {
      const now = clock.now();
      const counts = new Map<string, PointCount>();
      for (const p of points) {
        const v = daemon.store.read(p.key, now);
        const reason = v.quality === "good" ? "" : (v.reason ?? "unknown");
        const k = `${p.device}\0${v.quality}\0${reason}`;
        const c = counts.get(k);
        counts.set(k, { device: p.device, quality: v.quality, reason, count: (c?.count ?? 0) + 1 });
      }
      return [...counts.values()];
    },
    evaluations: () => daemon.evaluationCounts(),
    alarms: () => daemon.watch.snapshot().alarms.map((a) => ({ state: a.state, priority: a.priority ?? "none" })),
    zones: () => daemon.watch.snapshot().zones.map((z) => ({ zone: z.zone, stage: z.stage, fault: z.fault })),
    openTriggers: () => daemon.watch.snapshot().triggers.map((t) => ({ zone: t.zone, trigger: t.id, issuedAtMs: t.issuedAt, ackByMs: t.ackBy })),
    mqtt: () => {
      const m = daemon.mqttStats();
      return m === undefined || config.mqtt === undefined ? undefined : { ...m, queueLimit: config.mqtt.queueLimit };
    },
    stateFailures: () => daemon.stateFailures(),
  };
}

/** The one-line STATUS= summary: what `systemctl status firebreak` shows under the unit. */
export function statusLine(f: DaemonFigures): string {
  const devices = f.devices();
  const up = devices.filter((d) => d.connected).length;
  const zones = f.zones();
  const worst = zones.filter((z) => z.stage !== "normal").map((z) => `${z.zone} ${z.stage}`);
  const triggers = f.openTriggers().length;
  const m = f.mqtt();
  const mqtt = m === undefined ? "no mqtt" : `mqtt ${m.connected ? "connected" : "DISCONNECTED"}${m.queued > 0 ? `, ${m.queued} queued` : ""}`;
  return `devices ${up}/${devices.length} connected; zones ${worst.length === 0 ? `${zones.length} normal` : worst.join(", ")}; ${triggers} open trigger${triggers === 1 ? "" : "s"}; ${mqtt}`;
}

export interface ObservabilityContext {
  readonly config: SiteConfig;
  readonly clock: Clock;
  readonly log: Logger;
  readonly notifier?: SystemdNotifier;
}

/** Hooks for the DaemonContext (onPoll, onTick), then start() once the daemon was started. */
export class Observability {
  readonly #ctx: ObservabilityContext;
  readonly notifier: SystemdNotifier;
  #metrics: FirebreakMetrics | undefined;
  #http: HttpOutput | undefined;
  #figures: DaemonFigures | undefined;
  #lastWatchdog = -Infinity;
  #statusTimer: TimerHandle | undefined;

  constructor(ctx: ObservabilityContext) {
    this.#ctx = ctx;
    const log = ctx.log.child({ component: "systemd" });
    let logged = false;
    this.notifier =
      ctx.notifier ??
      new SystemdNotifier({
        onError: (err) => {
          if (logged) return; // one line, not one per watchdog ping; the count is in the notifier's stats
          logged = true;
          log.error({ err }, "cannot send to NOTIFY_SOCKET: systemd will not see READY=1 or WATCHDOG=1");
        },
      });
    if (this.notifier.problem !== undefined) log.error(this.notifier.problem);
  }

  readonly onPoll = (r: PollResult): void => this.#metrics?.observePoll(r);

  /** From the evaluation tick: WATCHDOG=1 at most every half watchdog interval, in real time. */
  readonly onTick = (): void => {
    const every = this.notifier.watchdogIntervalMs;
    if (every === undefined) return;
    const now = performance.now();
    if (now - this.#lastWatchdog < every / 2) return;
    this.#lastWatchdog = now;
    this.notifier.watchdog();
  };

  get httpPort(): number | undefined {
    return this.#http?.port;
  }

  /** Start the HTTP output (when configured), wait for the devices, then READY=1. */
  async start(daemon: Daemon): Promise<void> {
    const { config, clock, log } = this.#ctx;
    const figures = daemonFigures(daemon, config, clock);
    this.#figures = figures;
    if (config.http !== undefined) {
      this.#metrics = new FirebreakMetrics(figures);
      this.#http = new HttpOutput({ config: config.http, figures, metrics: this.#metrics, log: log.child({ component: "http" }) });
      await this.#http.start();
    }
    await daemon.started;
    this.notifier.ready(statusLine(figures));
    // STATUS= follows the picture every 10 s (real time): often enough for `systemctl status`, rare enough to cost nothing.
    const timer = setInterval(() => this.notifier.status(statusLine(figures)), 10_000);
    timer.unref();
    this.#statusTimer = { cancel: () => clearInterval(timer) };
  }

  /** STOPPING=1 first, so systemd knows the exit is meant; then close the listener. */
  async stop(): Promise<void> {
    this.#statusTimer?.cancel();
    this.notifier.stopping("stopping");
    await this.#http?.stop();
  }

  close(): void {
    this.notifier.close();
  }

  figures(): DaemonFigures | undefined {
    return this.#figures;
  }
}
