// The daemon: the one place that knows every part. It builds drivers, the point store, the
// deciding core and the outputs from a validated config, starts them in order (outputs first, so
// nothing decided is lost; drivers last) and stops them in reverse.
import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { packageRoot } from "../config/load.js";
import { siteDevices, type SiteConfig } from "../config/types.js";
import type { Driver, DriverStatus } from "../drivers/driver.js";
import { DriverFactory } from "../drivers/factory.js";
import type { PollResult } from "../drivers/modbus/poller.js";
import type { AlarmRecord } from "../alarms/lifecycle.js";
import type { AnnunciatorState } from "../alarms/state.js";
import type { IncidentRecord } from "../evacuation/trigger.js";
import { triggerSigner } from "../evacuation/trigger-wire.js";
import type { CoreEvent } from "../events.js";
import { InfluxHistory } from "../outputs/influx/history.js";
import { MqttOutput } from "../outputs/mqtt/publisher.js";
import { AlertmanagerOutput } from "../outputs/pager/alertmanager.js";
import type { OutMessage } from "../outputs/mqtt/payloads.js";
import { pollRateTrouble } from "../alarms/poll-rate.js";
import { SESSION_TAKEOVER_ALARM_ID, TAKEOVER_WINDOW_MS } from "../outputs/mqtt/takeover.js";
import { pointDecimals } from "../outputs/mqtt/rounding.js";
import { pointKey } from "../points/point.js";
import { DEFAULT_HISTORY, PointStore } from "../points/store.js";
import { StateStore } from "../state/store.js";
import type { ZoneSnapshot } from "../zones/stage.js";
import type { RoomWatch } from "../zones/room-watch.js";
import type { Clock, TimerHandle } from "./clock.js";
import { buildRoomWatch } from "./core.js";
import { EvacuationDesk } from "./evacuation-desk.js";
import { ActionDesk, RECALL_ROWS } from "./action-desk.js";
import { ActionWriteError } from "../errors.js";
import type { ActionOutcomeName } from "../events.js";
import { OperatorCommands } from "./operator-commands.js";
import { type FlooredLimit, MIN_REAL_STALE_MS, withRealTimeFloors } from "./real-time-floors.js";

export function firebreakVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version?: string };
  return pkg.version ?? "0.0.0";
}

/** Samples a rate-of-rise window needs at a poll interval, with room for jitter; never more than the store's default. */
function historyFor(windowMs: number, pollIntervalMs: number): number {
  return windowMs === 0 ? 0 : Math.min(DEFAULT_HISTORY, Math.ceil((1.25 * windowMs) / pollIntervalMs) + 2);
}

export interface DaemonContext {
  readonly config: SiteConfig;
  readonly clock: Clock;
  /** The root logger (src/runtime/logger.ts), with no `component` bound: the daemon binds one per part. */
  readonly log: Logger;
  /** Rules whose points changed are evaluated after every completed poll; this tick adds staleness, delays and sliding windows. */
  readonly evaluateEveryMs?: number;
  /** Every event the core decides, for the demo's narration and for tests. */
  readonly onEvent?: (e: CoreEvent) => void;
  /** Every completed poll of every device (the poll duration histogram of /metrics). */
  readonly onPoll?: (result: PollResult) => void;
  /** After each evaluation tick: proof that the loop runs (the systemd watchdog). */
  readonly onTick?: () => void;
}

/** Evaluation passes so far, for /metrics. */
export interface EvaluationCounts {
  readonly poll: number;
  readonly tick: number;
  readonly failed: number;
}

export class Daemon {
  readonly store = new PointStore();
  readonly watch: RoomWatch;
  readonly #ctx: DaemonContext;
  #drivers: readonly Driver[] = [];
  #factory: DriverFactory | undefined;
  #mqtt: MqttOutput | undefined;
  /** Outputs that take every decided event after MQTT: the pager and the history (each off unless configured). */
  #pager: AlertmanagerOutput | undefined;
  #history: InfluxHistory | undefined;
  #state: StateStore | undefined;
  #commands: OperatorCommands | undefined;
  readonly #desk: EvacuationDesk;
  /** Protective actions (README "Protective actions"); undefined when the config has none. */
  #actions: ActionDesk | undefined;
  /** The alarm records as last written to the state store, by id. */
  readonly #savedAlarms = new Map<string, AlarmRecord>();
  /** State store writes that failed: each decision was published anyway, but would not survive a restart. */
  #stateFailures = 0;
  #tick: TimerHandle | undefined;
  #evaluating = false;
  /** Rules start once every point has its first reading (good or bad), or the start-up grace is over. */
  #warm = false;
  readonly #graceMs: number;
  #stopped = false;
  readonly startedAt: number;
  readonly #evaluations = { poll: 0, tick: 0, failed: 0 };
  #stateRestored = false;
  #devicesStarted = false;
  #markStarted: () => void = () => undefined;
  /** Resolves once every device's driver was started (the OPC UA ones load asynchronously) and the state restored. */
  readonly started: Promise<void> = new Promise((resolve) => (this.#markStarted = resolve));
  /** Staleness and comm-loss limits raised to their real-time floors on an accelerated clock. */
  readonly #floored: readonly FlooredLimit[];

  constructor(ctx: DaemonContext) {
    // Every part below reads the floored config: the floors live in one place (./real-time-floors.ts).
    const floored = withRealTimeFloors(ctx.config, ctx.clock.speed);
    this.#floored = floored.raised;
    ctx = { ...ctx, config: floored.config };
    this.#ctx = ctx;
    this.startedAt = ctx.clock.now();
    // History is only read by rate-of-rise rules, over their window: a Modbus point keeps enough
    // samples for the longest window that reads it at its poll interval, others none. At 100,000
    // points a fixed 300 samples each would be ~480 MB.
    const windowOf = new Map<string, number>();
    for (const r of ctx.config.rules) if (r.kind === "rate_of_rise") for (const k of r.points) windowOf.set(k, Math.max(windowOf.get(k) ?? 0, r.windowMs));
    const intervalOf = new Map(ctx.config.devices.map((d) => [d.id, d.pollIntervalMs]));
    for (const d of siteDevices(ctx.config)) {
      for (const p of d.points) {
        const key = pointKey(d.id, p.pointId);
        const windowMs = windowOf.get(key) ?? 0;
        const interval = intervalOf.get(d.id);
        this.store.declare(
          { key, deviceId: d.id, pointId: p.pointId, unit: p.def.unit, zone: d.zone, ...(p.def.range ? { range: p.def.range } : {}) },
          d.staleAfterMs,
          interval === undefined ? undefined : historyFor(windowMs, interval),
        );
      }
    }
    // The watch follows the store's changes: after a poll only the rules that read changed points
    // run again; the tick adds those of points gone stale and those time alone can change.
    this.watch = buildRoomWatch(ctx.config, this.store, this.startedAt);
    this.#desk = new EvacuationDesk({ config: ctx.config.evacuation, alarms: this.watch.alarms, log: ctx.log.child({ component: "evacuation" }) });
    const actions = ctx.config.actions ?? [];
    if (actions.length > 0) {
      this.#actions = new ActionDesk({
        actions,
        watch: this.watch,
        clock: ctx.clock,
        log: ctx.log.child({ component: "actions" }),
        write: (device, point, value) => this.#write(device, point, value),
        read: (key) => this.store.read(key, ctx.clock.now()),
        commit: (events) => this.#commitAndPublish(events),
      });
    }
    // Until a device has had its chance to answer, "no reading yet" is not news: without this grace
    // every start would raise, then clear, a trouble alarm per rule.
    // On an accelerated clock (simulator runs) the devices still answer in real time: allow them at
    // least two real seconds.
    this.#graceMs = Math.max(
      ...ctx.config.devices.map((d) => d.staleAfterMs),
      ...(ctx.config.opcuaDevices ?? []).map((d) => d.silenceLimitMs),
      MIN_REAL_STALE_MS * ctx.clock.speed,
    );
  }

  /**
   * Open the state store and continue from its picture: latched zones, alarm states, incidents and
   * open triggers, the event sequence number and the messages the broker never acknowledged. Throws
   * (before anything is published) when the store cannot be used: a daemon that would forget its
   * decisions must not start.
   */
  #restore(): { seq: number; pending: OutMessage[] } {
    const { config, log } = this.#ctx;
    const state = StateStore.open({ dir: config.stateDir, site: config.site, instance: config.instance });
    this.#state = state;
    const pic = state.load();
    this.watch.restore({ zones: pic.zones as ZoneSnapshot[], incidents: pic.incidents as IncidentRecord[] });
    if (pic.alarmState !== undefined) this.watch.alarms.restore({ ...(pic.alarmState as AnnunciatorState), alarms: pic.alarms as AlarmRecord[] });
    for (const a of pic.alarms as AlarmRecord[]) this.#savedAlarms.set(a.id, a);
    this.#desk.restore(pic.evacuations);
    this.#actions?.restore((id) => state.actionAudit(id, RECALL_ROWS).map((r) => ({ at: r.at, action: r.action, outcome: r.outcome as ActionOutcomeName, ...(r.code === undefined ? {} : { code: r.code }), detail: r.detail })));
    this.#desk.adoptOpen(this.watch.snapshot().triggers, this.#ctx.clock.now());
    const latched = (pic.zones as ZoneSnapshot[]).filter((z) => z.latched).map((z) => `${z.zone}:${z.stage}`);
    log.info(
      { file: state.file, boot: pic.boots, seq: pic.seq, zones: pic.zones.length, alarms: pic.alarms.length, latched, unsent: pic.outbox.length },
      pic.boots === 1 ? "state store created: no earlier picture" : `state restored from ${state.file}`,
    );
    return { seq: pic.seq, pending: pic.outbox.map((e) => ({ ...e.msg, journalId: e.id })) };
  }

  start(): void {
    const { config, clock, log } = this.#ctx;
    const version = firebreakVersion();
    log.info({ site: config.site, instance: config.instance, devices: siteDevices(config).length, points: this.store.size, rules: config.rules.length, version }, "firebreak starting");
    if (this.#floored.length > 0) {
      log.warn({ speed: clock.speed, raised: this.#floored.slice(0, 10), count: this.#floored.length }, `accelerated clock: ${this.#floored.length} staleness and comm-loss limits raised to at least ${(MIN_REAL_STALE_MS * clock.speed) / 1000} s of clock time (${MIN_REAL_STALE_MS / 1000} s real)`);
    }
    const restored = this.#restore();
    this.#stateRestored = true;
    const evac = config.evacuation;
    if (evac === undefined) log.warn("no evacuation section in the config: triggers go out unsigned and no consumer's acknowledgment is awaited (README \"Evacuation\")");
    if (config.mqtt !== undefined) {
      const state = this.#state!;
      const alarmIds = new Set(config.rules.flatMap((r) => [r.id, `${r.id}:fault`]));
      this.#mqtt = new MqttOutput({
        journal: {
          append: (msgs, seq) =>
            state.transaction(() => {
              state.saveSeq(seq);
              return state.appendOutbox(msgs, clock.now());
            }),
          done: (ids) => state.outboxDone(ids),
        },
        initialSeq: restored.seq,
        pending: restored.pending,
        legacyOwned: (ref) => (ref.kind === "alarm" ? alarmIds.has(ref.id) : config.zones.has(ref.id)),
        adoptTrigger: (zone, id) => this.#adopt(zone, id),
        triggerSigning: { site: config.site, ...(evac === undefined ? {} : { kid: evac.kid, signer: triggerSigner(createPrivateKey(evac.signingKeyPem)) }) },
        onAck: (zone, consumer, payload) => this.#onAck(zone, consumer, payload),
        onCommand: (verb, payload) => this.#commands?.handle(verb, payload),
        onSessionTakeover: (s) =>
          this.#siteTrouble(
            SESSION_TAKEOVER_ALARM_ID,
            s.active,
            s.active
              ? `MQTT session taken over ${s.count} times in ${TAKEOVER_WINDOW_MS / 1000} s: another client uses this daemon's client id ${config.mqtt?.clientId ?? ""}; the daemon backs off and is offline between attempts`
              : `MQTT session takeovers ended: connected ${TAKEOVER_WINDOW_MS / 1000} s without one`,
          ),
        config: config.mqtt,
        site: config.site,
        instance: config.instance,
        version,
        zones: [...config.zones.keys()],
        clock,
        log: log.child({ component: "mqtt" }),
        pointDecimals: pointDecimals(config),
        retained: () => {
          const snap = this.watch.snapshot();
          return { zones: snap.zones, alarms: snap.alarms, triggers: snap.triggers, evacuations: this.#desk.statuses(clock.now()) };
        },
      });
      const mqtt = this.#mqtt;
      this.#commands = new OperatorCommands({
        config,
        clock,
        wallNow: () => Date.now(),
        log: log.child({ component: "commands" }),
        watch: this.watch,
        state: this.#state,
        topics: mqtt.topics,
        commit: (events, also) => this.#commitAndPublish(events, also),
        reply: (m) => mqtt.publishMessage(m),
      });
      this.#mqtt.start();
      if (config.mqtt.pointTelemetry.enabled) {
        const out = this.#mqtt;
        this.store.onChange((key, value) => out.publishPoint(key, value));
      }
    } else {
      log.warn("no mqtt section in the config: alarms and triggers go to the log only");
    }
    this.#startOutputs();
    // One factory builds every device's driver (Modbus TCP, RTU on a line or gateway, OPC UA, which
    // loads node-opcua only when the site has OPC UA devices).
    this.#factory = new DriverFactory({ clock, store: this.store, log, onPoll: (r) => this.#onPoll(r) });
    this.#drivers = this.#factory.createAll(siteDevices(config));
    this.#tick = clock.setInterval(() => {
      this.evaluate();
      this.#ctx.onTick?.();
      this.#evacuationTick();
    }, this.#ctx.evaluateEveryMs ?? 1000);
    for (const d of this.#drivers) d.start();
    this.#actions?.start();
    this.#devicesAreStarted();
  }

  /** The pager and the history, after the restore (the pager starts from the restored alarms) and before the drivers. */
  #startOutputs(): void {
    const { config, clock, log } = this.#ctx;
    if (config.alertmanager !== undefined) {
      this.#pager = new AlertmanagerOutput({ config: config.alertmanager, site: config.site, instance: config.instance, clock, log: log.child({ component: "pager" }) });
      this.#pager.start(this.watch.snapshot().alarms);
    }
    if (config.influx !== undefined) {
      const history = new InfluxHistory({ config: config.influx, site: config.site, instance: config.instance, stateDir: config.stateDir, clock, log: log.child({ component: "history" }), pointInfo: (key) => this.store.handle(key)?.info });
      try {
        history.start();
        this.#history = history;
        this.store.onChange((key, value) => history.point(key, value));
      } catch (err) {
        // History is a record, not a decision: a buffer that cannot be opened costs the history, never the watch.
        log.error({ err, component: "history" }, "history off: its disk buffer cannot be used");
      }
    }
  }

  /** Hand decided events to the pager and the history; one failing never stops the other or the daemon. */
  #fanOut(events: readonly CoreEvent[]): void {
    for (const [name, out] of [["pager", this.#pager], ["history", this.#history]] as const) {
      if (out === undefined) continue;
      try {
        out.accept(events);
      } catch (err) {
        this.#ctx.log.error({ err, component: name }, `${name} output failed to take events`);
      }
    }
  }

  /**
   * Evaluate the rules now and hand what changed to the outputs: every rule, or with `changedOnly`
   * (after a poll) the rules whose points changed since. A failure is logged and counted, never fatal.
   */
  evaluate(changedOnly = false): void {
    if (this.#evaluating || this.#stopped) return;
    const now = this.#ctx.clock.now();
    if (!this.#warm) {
      const unread = this.store.neverWritten();
      if (unread > 0 && now - this.startedAt < this.#graceMs) return;
      this.#warm = true;
      this.#ctx.log.info({ unread }, unread === 0 ? "every point has its first reading: rules evaluating" : "start-up grace over: rules evaluating; unread points count as stale");
    }
    this.#evaluating = true;
    if (changedOnly) this.#evaluations.poll++;
    else this.#evaluations.tick++;
    try {
      const events = this.watch.step(now, changedOnly);
      if (events.length > 0) this.#commitAndPublish(events);
      // Protective actions follow the zones just decided; each step is committed before it writes.
      this.#actions?.step(now);
    } catch (err) {
      this.#evaluations.failed++;
      this.#ctx.log.error({ err, component: "rules" }, "rule evaluation failed; the next tick tries again");
    } finally {
      this.#evaluating = false;
    }
  }

  /** Re-announcements and ackBy deadlines: time alone changes these. */
  #evacuationTick(): void {
    if (this.#stopped) return;
    try {
      const events = this.#desk.tick(this.#ctx.clock.now());
      if (events.length > 0) this.#commitAndPublish(events);
    } catch (err) {
      this.#ctx.log.error({ err, component: "evacuation" }, "evacuation tracking failed; the next tick tries again");
    }
  }

  #onAck(zone: string, consumer: string, payload: Buffer): void {
    if (this.#stopped) return;
    try {
      const events = this.#desk.ack(zone, consumer, payload, this.#ctx.clock.now());
      if (events.length > 0) this.#commitAndPublish(events);
    } catch (err) {
      this.#ctx.log.error({ err, component: "evacuation", zone, consumer }, "handling an evacuation acknowledgment failed");
    }
  }

  /**
   * Commit what the core decided (zone pictures, incidents, changed alarms, the numbered messages)
   * in one transaction, then publish it. A store that fails is logged and counted, and the decision
   * is published anyway: people must hear of a fire even when the disk is full.
   */
  #commitAndPublish(decided: readonly CoreEvent[], alsoInTransaction?: (state: StateStore) => void): void {
    // A new trigger starts its tracking, a closed incident ends it: committed with the decision.
    const events = [...decided, ...this.#desk.observe(decided, this.#ctx.clock.now())];
    const mqtt = this.#mqtt;
    const prepared = mqtt?.prepare(events);
    let ids: number[] | undefined;
    const state = this.#state;
    if (state !== undefined) {
      try {
        ids = state.transaction(() => {
          this.#persistCore(state);
          alsoInTransaction?.(state);
          for (const e of events) if (e.type === "action") state.auditAction({ at: e.since, action: e.action, device: e.device, point: e.point, value: e.value, zone: e.zone, outcome: e.outcome, ...(e.code === undefined ? {} : { code: e.code }), detail: e.detail, record: JSON.stringify(e) });
          if (prepared === undefined || prepared.messages.length === 0) return undefined;
          state.saveSeq(prepared.seq);
          return state.appendOutbox(prepared.messages, this.#ctx.clock.now());
        });
      } catch (err) {
        this.#stateFailures++;
        this.#ctx.log.error({ err, failures: this.#stateFailures }, "state store write failed: publishing the decision anyway, but it will not survive a restart; check the disk and state_dir");
      }
    }
    for (const e of events) this.#log(e);
    if (prepared !== undefined) mqtt!.send(prepared, ids);
    this.#fanOut(events);
    for (const e of events) this.#ctx.onEvent?.(e);
  }

  #persistCore(state: StateStore): void {
    const core = this.watch.exportState();
    state.saveZones(core.zones);
    state.saveIncidents(core.incidents);
    state.saveEvacuations(this.#desk.exportState());
    // Records are immutable: a record object not the one last saved has changed (also the silent
    // changes, e.g. a chattering alarm's count), so only those rows are written.
    const alarmState = this.watch.alarms.exportState();
    const changed = alarmState.alarms.filter((a) => this.#savedAlarms.get(a.id) !== a);
    state.saveAlarms(changed);
    state.saveAlarmState({ ...alarmState, alarms: [] });
    for (const a of changed) this.#savedAlarms.set(a.id, a);
  }

  /** A site trouble condition found outside the rules (e.g. by the MQTT output): raised or cleared, committed and published like any decision. */
  #siteTrouble(id: string, active: boolean, message: string): void {
    try {
      const events = this.watch.alarms.siteTrouble(id, active, message, this.#ctx.clock.now());
      if (events.length > 0) this.#commitAndPublish(events);
    } catch (err) {
      this.#ctx.log.error({ err, alarm: id }, "raising a site trouble alarm failed");
    }
  }

  /** A trigger retained on the broker for one of our zones: adopt its incident (and keep it stored). */
  #adopt(zone: string, triggerId: string): boolean {
    if (!this.watch.adoptRetainedTrigger(zone, triggerId)) return false;
    try {
      this.#state?.transaction(() => this.#persistCore(this.#state!));
    } catch (err) {
      this.#stateFailures++;
      this.#ctx.log.error({ err }, "state store write failed while adopting a retained trigger");
    }
    return true;
  }

  #log(e: CoreEvent): void {
    const log = this.#ctx.log;
    switch (e.type) {
      case "zone_stage":
        log.warn({ zone: e.zone, stage: e.stage, previous: e.previous, skipped: e.skipped, fault: e.fault }, `zone ${e.zone}: ${e.previous} -> ${e.stage}`);
        break;
      case "zone_fault":
        log.warn({ zone: e.zone, fault: e.fault, faults: e.faults.slice(0, 5) }, e.fault ? `zone ${e.zone}: sensing degraded` : `zone ${e.zone}: sensing restored`);
        break;
      case "alarm":
        log.info({ alarm: e.alarm.id, state: e.alarm.state, active: e.alarm.active, class: e.alarm.class }, `alarm ${e.alarm.id}: ${e.previous} -> ${e.alarm.state}`);
        break;
      case "evacuate":
        log.error({ trigger: e.id, zone: e.zone, racks: e.racks, hosts: e.hosts }, `evacuation trigger ${e.id} for zone ${e.zone}: ${e.reason}`);
        break;
      case "evacuation_status":
        if (e.closed !== true) log.info({ trigger: e.id, zone: e.zone, state: e.state, missing: e.missing, failedHosts: e.failedHosts }, `evacuation ${e.id}: ${e.state}`);
        break;
      case "incident_closed":
        log.warn({ trigger: e.id, zone: e.zone, by: e.by }, `incident ${e.id} closed by ${e.by}: the retained trigger is removed`);
        break;
      case "command":
        break; // logged where it is decided (operator-commands.ts)
      case "action": {
        const fields = { action: e.action, device: e.device, point: e.point, value: e.value, zone: e.zone, outcome: e.outcome, code: e.code, dryRun: e.dryRun, knocks: e.knocks, readBack: e.readBack, incident: e.incident };
        if (e.outcome === "failed") log.error(fields, `protective action ${e.action}: ${e.detail}`);
        else if (e.outcome === "rearmed") log.info(fields, `protective action ${e.action}: ${e.detail}`);
        else log.warn(fields, `protective action ${e.action} ${e.outcome}: ${e.detail}`);
        break;
      }
    }
  }

  /** A protective action's write, through the device's own driver (its request queue). */
  #write(device: string, point: string, value: number): Promise<void> {
    const d = this.#drivers.find((x) => x.device === device);
    if (d?.write === undefined) return Promise.reject(new ActionWriteError(device, point, d === undefined ? "no driver for this device" : `its ${d.protocol} driver does not write`));
    return d.write(point, value);
  }

  #onPoll(r: PollResult): void {
    this.#ctx.onPoll?.(r);
    if (r.rate !== undefined) this.#pollRate(r);
    this.evaluate(true);
  }

  /** The device's poll rate was judged anew: raise or clear its `<device>:poll_rate` trouble alarm. */
  #pollRate(r: PollResult): void {
    const t = pollRateTrouble(r, (device) => this.#ctx.config.devices.find((d) => d.id === device)?.zone);
    if (t === undefined) return;
    try {
      const events = this.watch.alarms.deviceTrouble(t.id, t.zone, t.active, t.message, this.#ctx.clock.now());
      if (events.length > 0) this.#commitAndPublish(events);
    } catch (err) {
      this.#ctx.log.error({ err, alarm: t.id }, "raising a poll-rate trouble alarm failed");
    }
  }

  #devicesAreStarted(): void {
    this.#devicesStarted = true;
    this.#markStarted();
  }

  /** What /readyz and READY=1 wait for: devices started, state restored, broker connected (when there is one). */
  readiness(): { devicesStarted: boolean; stateRestored: boolean; brokerConnected: boolean } {
    return { devicesStarted: this.#devicesStarted, stateRestored: this.#stateRestored, brokerConnected: this.#mqtt === undefined || this.#mqtt.stats().connected };
  }

  evaluationCounts(): EvaluationCounts {
    return { ...this.#evaluations };
  }

  stateFailures(): number {
    return this.#stateFailures;
  }

  /** Every driver's status, in config order (Modbus devices first). */
  pollerStatus(): DriverStatus[] {
    return this.#drivers.map((d) => d.status());
  }

  mqttStats() {
    return this.#mqtt?.stats();
  }

  pagerStats() {
    return this.#pager?.stats();
  }

  historyStats() {
    return this.#history?.stats();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#tick?.cancel();
    this.#actions?.stop();
    await Promise.all(this.#drivers.map((d) => d.stop()));
    await this.#factory?.close();
    await this.#mqtt?.stop();
    await this.#pager?.stop();
    await this.#history?.stop();
    this.#state?.close();
    this.#ctx.log.info("firebreak stopped");
  }
}
