// /metrics in the Prometheus text format, through prom-client. Every figure is read on scrape
// (collect() callbacks over DaemonFigures), so nothing is counted twice in the poll or rule paths;
// the one exception is the poll duration histogram, which needs each poll's duration as it ends.
// Counters that the parts keep as running totals are exported as counters set on scrape.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { stages } from "../../config/site-schema.js";
import type { PollResult } from "../../drivers/modbus/poller-status.js";
import { isReady, type DaemonFigures } from "./figures.js";

/** prom-client has no set() for counters: a running total kept elsewhere is written as reset + inc. */
function setTotal<T extends string>(c: Counter<T>, labels: Partial<Record<T, string>>, value: number): void {
  c.inc(labels, Math.max(0, value));
}

/**
 * Poll durations from 5 ms to 10 s: a healthy Modbus TCP poll of a cabinet on a LAN takes a few ms
 * to tens of ms; one near the 1 s poll interval overruns (bench/ results).
 */
const POLL_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class FirebreakMetrics {
  readonly registry = new Registry();
  readonly #pollDuration: Histogram<"device">;

  constructor(figures: DaemonFigures, opts: { defaultMetrics?: boolean } = {}) {
    const register = [this.registry];
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry }); // process and event loop lag figures
    new Gauge({ name: "firebreak_info", help: "Always 1; the labels say which firebreak this is", labelNames: ["version", "site", "instance"], registers: register }).set(
      { version: figures.version, site: figures.site, instance: figures.instance },
      1,
    );
    new Gauge({
      name: "firebreak_ready",
      help: "1 when every device was started, the state restored and the broker connected (what /readyz answers)",
      labelNames: ["check"],
      registers: register,
      collect() {
        const r = figures.readiness();
        this.set({}, isReady(r) ? 1 : 0);
        this.set({ check: "devices_started" }, r.devicesStarted ? 1 : 0);
        this.set({ check: "state_restored" }, r.stateRestored ? 1 : 0);
        this.set({ check: "broker_connected" }, r.brokerConnected ? 1 : 0);
      },
    });
    this.#devices(figures, register);
    this.#pollDuration = new Histogram({ name: "firebreak_poll_duration_seconds", help: "Duration of each completed poll (Modbus) or notification batch (OPC UA)", labelNames: ["device"], buckets: POLL_BUCKETS_S, registers: register });
    new Gauge({
      name: "firebreak_points",
      help: "Declared points by device, quality and reason, as read at scrape time (stale points are bad/stale)",
      labelNames: ["device", "quality", "reason"],
      registers: register,
      collect() {
        this.reset();
        for (const p of figures.points()) this.set({ device: p.device, quality: p.quality, reason: p.reason }, p.count);
      },
    });
    new Counter({
      name: "firebreak_rule_evaluations_total",
      help: "Rule evaluation passes: after a poll (rules whose points changed) and on the tick (staleness, delays, windows)",
      labelNames: ["trigger"],
      registers: register,
      collect() {
        const e = figures.evaluations();
        this.reset();
        setTotal(this, { trigger: "poll" }, e.poll);
        setTotal(this, { trigger: "tick" }, e.tick);
      },
    });
    new Counter({
      name: "firebreak_rule_evaluation_failures_total",
      help: "Evaluation passes that threw (logged with component rules); the next tick tries again",
      registers: register,
      collect() {
        this.reset();
        setTotal(this, {}, figures.evaluations().failed);
      },
    });
    this.#core(figures, register);
    this.#mqtt(figures, register);
    new Counter({
      name: "firebreak_state_store_failures_total",
      help: "State store writes that failed: decisions published but not kept across a restart",
      registers: register,
      collect() {
        this.reset();
        setTotal(this, {}, figures.stateFailures());
      },
    });
  }

  /** One completed poll (the daemon's onPoll). */
  observePoll(r: PollResult): void {
    this.#pollDuration.observe({ device: r.device }, r.durationMs / 1000);
  }

  contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  #devices(figures: DaemonFigures, registers: Registry[]): void {
    new Gauge({
      name: "firebreak_device_connected",
      help: "1 while the device's driver has a working connection",
      labelNames: ["device", "protocol"],
      registers,
      collect() {
        this.reset();
        for (const d of figures.devices()) this.set({ device: d.device, protocol: d.protocol }, d.connected ? 1 : 0);
      },
    });
    type Pick = (d: ReturnType<DaemonFigures["devices"]>[number]) => number | undefined;
    // Each device's figure, where the driver has one (OPC UA has no timeouts, for example).
    const eachDevice = (pick: Pick, put: (labels: { device: string }, v: number) => void): void => {
      for (const d of figures.devices()) {
        const v = pick(d);
        if (v !== undefined) put({ device: d.device }, v);
      }
    };
    const total = (name: string, help: string, pick: Pick) =>
      new Counter({
        name,
        help,
        labelNames: ["device"],
        registers,
        collect() {
          this.reset();
          eachDevice(pick, (labels, v) => setTotal(this, labels, v));
        },
      });
    total("firebreak_device_polls_total", "Polls (Modbus) or notification batches (OPC UA) completed", (d) => d.polls);
    total("firebreak_device_poll_failures_total", "Polls or connects that failed", (d) => d.failures);
    total("firebreak_device_poll_overruns_total", "Polls that took longer than the poll interval", (d) => d.overruns);
    total("firebreak_device_timeouts_total", "Requests that got no answer within the device timeout (Modbus TCP and RTU; absent for OPC UA)", (d) => d.timeouts);
    total("firebreak_device_reconnects_total", "Connections made after the first: losses, retries, reopened links", (d) => d.reconnects);
    total("firebreak_device_late_polls_total", "Polls that started more than half an interval after their slot (Modbus)", (d) => d.latePolls);
    const gauge = (name: string, help: string, pick: Pick) =>
      new Gauge({
        name,
        help,
        labelNames: ["device"],
        registers,
        collect() {
          this.reset();
          eachDevice(pick, (labels, v) => this.set(labels, v));
        },
      });
    gauge("firebreak_device_achieved_polls_per_second", "Polls per second achieved over the last 10 poll intervals (Modbus)", (d) => d.achievedPollsPerS);
    gauge("firebreak_device_poll_rate_low", "1 while the achieved poll rate stays below 90 % of the configured one (the <device>:poll_rate trouble alarm)", (d) => (d.overloaded === undefined ? undefined : d.overloaded ? 1 : 0));
  }

  #core(figures: DaemonFigures, registers: Registry[]): void {
    new Gauge({
      name: "firebreak_alarms",
      help: "Standing alarms by ISA-18.2 state and priority",
      labelNames: ["state", "priority"],
      registers,
      collect() {
        this.reset();
        const n = new Map<string, { state: string; priority: string; count: number }>();
        for (const a of figures.alarms()) {
          const k = `${a.state}\0${a.priority}`;
          const e = n.get(k) ?? { state: a.state, priority: a.priority, count: 0 };
          e.count++;
          n.set(k, e);
        }
        for (const e of n.values()) this.set({ state: e.state, priority: e.priority }, e.count);
      },
    });
    new Gauge({
      name: "firebreak_zone_stage",
      help: "1 for each zone's current stage, 0 for the others",
      labelNames: ["zone", "stage"],
      registers,
      collect() {
        this.reset();
        for (const z of figures.zones()) for (const s of stages) this.set({ zone: z.zone, stage: s }, z.stage === s ? 1 : 0);
      },
    });
    new Gauge({
      name: "firebreak_zone_sensing_fault",
      help: "1 while a zone's sensing is degraded (a rule it needs cannot judge)",
      labelNames: ["zone"],
      registers,
      collect() {
        this.reset();
        for (const z of figures.zones()) this.set({ zone: z.zone }, z.fault ? 1 : 0);
      },
    });
    new Gauge({
      name: "firebreak_open_triggers",
      help: "Evacuation triggers open (retained on the broker, incident not closed)",
      registers,
      collect() {
        this.set(figures.openTriggers().length);
      },
    });
    new Gauge({
      name: "firebreak_trigger_ack_deadline_seconds",
      help: "Per open evacuation trigger: the Unix time by which it should be acknowledged (ack_by)",
      labelNames: ["zone", "trigger"],
      registers,
      collect() {
        this.reset();
        for (const t of figures.openTriggers()) this.set({ zone: t.zone, trigger: t.trigger }, t.ackByMs / 1000);
      },
    });
  }

  #mqtt(figures: DaemonFigures, registers: Registry[]): void {
    const gauge = (name: string, help: string, pick: (m: NonNullable<ReturnType<DaemonFigures["mqtt"]>>) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const m = figures.mqtt();
          this.reset();
          if (m !== undefined) this.set(pick(m));
        },
      });
    const total = (name: string, help: string, pick: (m: NonNullable<ReturnType<DaemonFigures["mqtt"]>>) => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          const m = figures.mqtt();
          this.reset();
          if (m !== undefined) setTotal(this, {}, pick(m));
        },
      });
    gauge("firebreak_mqtt_connected", "1 while the broker session is up", (m) => (m.connected ? 1 : 0));
    gauge("firebreak_mqtt_queue_depth", "Messages in firebreak's own queue, waiting for the broker", (m) => m.queued);
    gauge("firebreak_mqtt_queue_limit", "The queue's bound (mqtt.queue_limit); beyond it telemetry, then the oldest events, are dropped", (m) => m.queueLimit);
    gauge("firebreak_mqtt_in_flight", "QoS 1 messages handed to the broker and not yet acknowledged", (m) => m.inFlight);
    new Counter({
      name: "firebreak_mqtt_dropped_total",
      help: "Messages dropped from the full queue, by kind",
      labelNames: ["kind"],
      registers,
      collect() {
        const m = figures.mqtt();
        this.reset();
        if (m === undefined) return;
        setTotal(this, { kind: "telemetry" }, m.droppedTelemetry);
        setTotal(this, { kind: "event" }, m.droppedEvents);
      },
    });
    total("firebreak_mqtt_published_total", "Messages the broker acknowledged (QoS 1) or that were written (QoS 0)", (m) => m.published);
    total("firebreak_mqtt_reconnects_total", "Broker connections after the first", (m) => m.reconnects);
    total("firebreak_mqtt_connect_failures_total", "Connection attempts that ended without a session", (m) => m.connectFailures);
  }
}
