// Every alarm of the room, keyed by id: advances them from rule results, carries out operator
// commands (acknowledge, shelve, out of service, maintenance), applies the chattering filter and
// the flood accounting, and exports its whole state as plain JSON. Pure apart from its own state:
// time is always the `now` argument; nothing here reads a clock or sets a timer.
import { defaultAlarmsConfig, type AlarmsConfig } from "../config/alarms-schema.js";
import type { Rule } from "../config/types.js";
import type { AlarmChange, AlarmOutOfService, AlarmSuppression } from "../events.js";
import { AlarmStateError } from "../errors.js";
import type { RuleResult } from "../rules/result.js";
import { calmAt, chatters, noteChange, type ChatterTrack } from "./chatter.js";
import * as check from "./commands.js";
import { refuse, type AckTarget, type CommandResult, type Known, type ServiceTarget } from "./commands.js";
import { FLOOD_ALARM_ID, FLOOD_ZONE, floodActive, floodInput, isAnnunciation, pruneWindow } from "./flood.js";
import { deviceOf, formatDuration, hidingFor, VISIBLE, type Hide, type HidingContext } from "./hiding.js";
import { acknowledgeAlarm, alarmInputs, latches, lifeSafetyRule, overlayAlarm, PRIORITY_RANK, quietRecord, stepAlarm, type AlarmInput, type AlarmRecord, type AlarmStep } from "./lifecycle.js";
import { ANNUNCIATOR_STATE_VERSION, type AnnunciatorState } from "./state.js";

export interface AnnunciatorOptions {
  readonly config?: AlarmsConfig;
  /** Zones an operator may name (maintenance, acknowledge by zone); the rules' zones are always known. */
  readonly zones?: readonly string[];
  /** Devices an operator may take out of service; the rules' devices are always known. */
  readonly devices?: readonly string[];
}

export class Annunciator {
  readonly #alarms = new Map<string, AlarmRecord>();
  readonly #rules: ReadonlyMap<string, Rule>;
  readonly #cfg: AlarmsConfig;
  /** Every configured alarm, inactive: what a command on a never-active alarm starts from. */
  readonly #templates = new Map<string, AlarmInput>();
  readonly #lifeSafety = new Set<string>();
  readonly #zones = new Set<string>();
  readonly #devices = new Set<string>();
  readonly #known: Known;
  readonly #maintenance = new Map<string, AlarmSuppression>();
  readonly #oosAlarms = new Map<string, AlarmOutOfService>();
  readonly #oosDevices = new Map<string, AlarmOutOfService>();
  readonly #ctx: HidingContext = { maintenance: this.#maintenance, oosAlarms: this.#oosAlarms, oosDevices: this.#oosDevices };
  readonly #chatter = new Map<string, ChatterTrack>();
  readonly #flood: number[] = [];
  #floodCount = 0;
  /** No shelf, maintenance or chatter is due before this; time-driven work is skipped until then. */
  #nextDueMs = Infinity;

  constructor(rules: readonly Rule[], opts: AnnunciatorOptions = {}) {
    this.#rules = new Map(rules.map((r) => [r.id, r]));
    this.#cfg = opts.config ?? defaultAlarmsConfig;
    for (const z of opts.zones ?? []) this.#zones.add(z);
    for (const d of opts.devices ?? []) this.#devices.add(d);
    for (const rule of rules) {
      this.#zones.add(rule.zone);
      for (const d of rule.kind === "comm_loss" ? rule.devices : rule.points.map(deviceOf)) this.#devices.add(d);
      for (const input of alarmInputs(rule, { rule: rule.id, zone: rule.zone, kind: rule.kind, active: false, evidence: [], faults: [] })) this.#templates.set(input.id, input);
      if (lifeSafetyRule(rule)) this.#lifeSafety.add(rule.id);
    }
    this.#templates.set(FLOOD_ALARM_ID, floodInput(false, 0, this.#cfg.flood));
    this.#known = {
      alarm: (id) => this.#templates.has(id) || this.#alarms.has(id),
      zone: (id) => this.#zones.has(id) || id === FLOOD_ZONE,
      device: (id) => this.#devices.has(id),
      lifeSafety: (id) => this.#lifeSafety.has(id) || latches(this.#alarms.get(id)?.priority ?? "low"),
    };
  }

  /** Advance every alarm by its rule's result, after what time alone changes (shelf and maintenance expiry, chatter calm, flood). */
  update(results: readonly RuleResult[], now: number): AlarmChange[] {
    const events: AlarmChange[] = [];
    this.#due(now, events);
    for (const r of results) {
      const rule = this.#rules.get(r.rule);
      if (rule === undefined) continue; // results only come from configured rules
      for (const input of alarmInputs(rule, r)) this.#condition(input, now, events);
    }
    this.#finish(now, events);
    return events;
  }

  /**
   * Conditions the deciding core judges outside the rules (the evacuation escalations of
   * src/evacuation/tracker.ts): each input advances its alarm like a rule's result would. An input
   * for an alarm that was never raised and is not active changes nothing.
   */
  raise(inputs: readonly AlarmInput[], now: number): AlarmChange[] {
    const r = this.#run(now, (events) => {
      for (const input of inputs) {
        if (!input.active && !this.#alarms.has(input.id)) continue;
        this.#condition(input, now, events);
      }
    });
    return r.ok ? r.events : [];
  }

  /**
   * A site-level trouble condition decided outside the rules (e.g. another MQTT client taking our
   * session over, src/outputs/mqtt/takeover.ts), raised or cleared like a rule's alarm in zone
   * `site`, as the flood alarm is; operator commands know it from then on.
   */
  siteTrouble(id: string, active: boolean, message: string, now: number): AlarmChange[] {
    return this.#trouble({ id, rule: id, zone: FLOOD_ZONE, class: "trouble", priority: "high", active, message, evidence: [] }, now);
  }

  /**
   * A device's trouble judged by its driver rather than a rule (its poll rate, ./poll-rate.ts), in
   * the device's zone with the trouble class's priority; operator commands know it from then on.
   */
  deviceTrouble(id: string, zone: string, active: boolean, message: string, now: number): AlarmChange[] {
    return this.#trouble({ id, rule: id, zone, class: "trouble", active, message, evidence: [] }, now);
  }

  #trouble(input: AlarmInput, now: number): AlarmChange[] {
    const id = input.id;
    this.#templates.set(id, { ...input, active: false });
    if (!input.active && !this.#alarms.has(id)) return [];
    const r = this.#run(now, (events) => this.#condition(input, now, events));
    return r.ok ? r.events : [];
  }

  /** What time alone changes: shelves and maintenance expiring, chattering calming down, a flood ending. */
  tick(now: number): AlarmChange[] {
    return this.update([], now);
  }

  acknowledge(target: AckTarget, by: string, now: number): CommandResult {
    const no = check.checkAcknowledge(this.#known, target, by);
    if (no !== undefined) return refuse(no);
    return this.#run(now, (events) => {
      for (const a of [...this.#alarms.values()]) {
        if ("alarm" in target ? a.id !== target.alarm : "zone" in target ? a.zone !== target.zone : false) continue;
        const step = acknowledgeAlarm(a, now, by);
        this.#commit(a, step, now, events, false);
      }
    });
  }

  shelve(alarmId: string, durationMs: number, reason: string, by: string, now: number): CommandResult {
    const no = check.checkShelve(this.#known, alarmId, durationMs, this.#cfg.shelving.maxDurationMs, reason, by);
    if (no !== undefined) return refuse(no);
    return this.#run(now, (events) => {
      const prev = this.#recordOf(alarmId, now);
      const shelved = { by, at: now, until: now + durationMs, reason };
      this.#nextDueMs = Math.min(this.#nextDueMs, shelved.until);
      this.#overlay(prev, this.#hideOf({ ...prev, shelved }), now, events, "shelved");
    });
  }

  unshelve(alarmId: string, by: string, now: number): CommandResult {
    const no = check.checkUnshelve(this.#known, alarmId, by);
    if (no !== undefined) return refuse(no);
    return this.#run(now, (events) => {
      const prev = this.#alarms.get(alarmId);
      if (prev?.shelved === undefined) return;
      this.#overlay(prev, this.#hideOf({ ...prev, shelved: undefined }), now, events, `unshelved by ${by}`);
    });
  }

  outOfService(target: ServiceTarget, reason: string, by: string, now: number): CommandResult {
    const no = check.checkService(this.#known, target, by, reason);
    if (no !== undefined) return refuse(no);
    return this.#run(now, (events) => {
      if ("alarm" in target) {
        this.#oosAlarms.set(target.alarm, { by, at: now, reason });
        const prev = this.#recordOf(target.alarm, now);
        this.#overlay(prev, this.#hideOf(prev), now, events, "out of service");
      } else {
        this.#oosDevices.set(target.device, { by, at: now, reason });
        this.#rehide((a) => a.class === "trouble", now, events, "out of service");
      }
    });
  }

  returnToService(target: ServiceTarget, by: string, now: number): CommandResult {
    const no = check.checkService(this.#known, target, by);
    if (no !== undefined) return refuse(no);
    return this.#run(now, (events) => {
      if ("alarm" in target) {
        if (!this.#oosAlarms.delete(target.alarm)) return;
        const prev = this.#alarms.get(target.alarm);
        if (prev !== undefined) this.#overlay(prev, this.#hideOf(prev), now, events, `returned to service by ${by}`);
      } else {
        if (!this.#oosDevices.delete(target.device)) return;
        this.#rehide((a) => a.class === "trouble", now, events, `device ${target.device} returned to service by ${by}`);
      }
    });
  }

  /** Put a zone in maintenance (its alarms suppressed by design), optionally until `untilMs`, or take it out. */
  maintenance(zone: string, on: boolean, untilMs: number | undefined, reason: string, by: string, now: number): CommandResult {
    const no = zone === FLOOD_ZONE && !this.#zones.has(zone) ? `unknown zone "${zone}"` : check.checkMaintenance(this.#known, zone, on, untilMs, reason, by, now);
    if (no !== undefined) return refuse(no);
    return this.#run(now, (events) => {
      if (on) {
        this.#maintenance.set(zone, { zone, by, at: now, ...(untilMs === undefined ? {} : { until: untilMs }), reason });
        if (untilMs !== undefined) this.#nextDueMs = Math.min(this.#nextDueMs, untilMs);
      } else if (!this.#maintenance.delete(zone)) return;
      this.#rehide((a) => a.zone === zone, now, events, `zone ${zone} out of maintenance (by ${by})`);
    });
  }

  get(alarmId: string): AlarmRecord | undefined {
    return this.#alarms.get(alarmId);
  }

  /** Alarms not in `normal`: what stays retained on MQTT. */
  standing(): AlarmRecord[] {
    return [...this.#alarms.values()].filter((a) => a.state !== "normal");
  }

  /** All records, for persistence. */
  all(): AlarmRecord[] {
    return [...this.#alarms.values()];
  }

  /** Alarms annunciated in the last 10 minutes, as of the last update, tick or command. */
  floodCount(): number {
    return this.#floodCount;
  }

  exportState(): AnnunciatorState {
    return {
      v: ANNUNCIATOR_STATE_VERSION,
      alarms: this.all(),
      maintenance: [...this.#maintenance.values()],
      outOfService: {
        alarms: [...this.#oosAlarms].map(([alarm, o]) => ({ alarm, ...o })),
        devices: [...this.#oosDevices].map(([device, o]) => ({ device, ...o })),
      },
      flood: { count: this.#floodCount, annunciations: [...this.#flood] },
      chatter: [...this.#chatter].map(([alarm, t]) => ({ alarm, ...t })),
    };
  }

  /** Continue from an exported state; everything held before is replaced. */
  restore(state: AnnunciatorState): void {
    if (state.v !== ANNUNCIATOR_STATE_VERSION) throw new AlarmStateError(`alarm state version ${String(state.v)} is not ${ANNUNCIATOR_STATE_VERSION}`);
    this.#alarms.clear();
    for (const a of state.alarms) this.#alarms.set(a.id, a);
    this.#maintenance.clear();
    for (const m of state.maintenance) this.#maintenance.set(m.zone, m);
    this.#oosAlarms.clear();
    for (const { alarm, ...o } of state.outOfService.alarms) this.#oosAlarms.set(alarm, o);
    this.#oosDevices.clear();
    for (const { device, ...o } of state.outOfService.devices) this.#oosDevices.set(device, o);
    this.#flood.splice(0, this.#flood.length, ...state.flood.annunciations);
    this.#floodCount = state.flood.count;
    this.#chatter.clear();
    for (const { alarm, ...t } of state.chatter) this.#chatter.set(alarm, t);
    this.#nextDueMs = -Infinity; // look at every shelf, maintenance and chatter at the next step
  }

  /** Run a command's changes after what time alone changed, then count them towards a flood. */
  #run(now: number, change: (events: AlarmChange[]) => void): CommandResult {
    const events: AlarmChange[] = [];
    this.#due(now, events);
    change(events);
    this.#finish(now, events);
    return { ok: true, events };
  }

  #recordOf(alarmId: string, now: number): AlarmRecord {
    const a = this.#alarms.get(alarmId);
    if (a !== undefined) return a;
    const t = this.#templates.get(alarmId)!;
    return quietRecord(t, now);
  }

  #hideOf(a: Pick<AlarmRecord, "id" | "zone" | "class" | "evidence" | "shelved">): Hide {
    if (a.shelved === undefined && this.#maintenance.size === 0 && this.#oosAlarms.size === 0 && this.#oosDevices.size === 0) return VISIBLE;
    return hidingFor(a, this.#ctx);
  }

  /** A rule's word on one alarm. */
  #condition(input: AlarmInput, now: number, events: AlarmChange[]): void {
    const prev = this.#alarms.get(input.id);
    const evidence = input.active ? input.evidence : (prev?.evidence ?? input.evidence);
    const hide = this.#hideOf({ id: input.id, zone: input.zone, class: input.class, evidence, shelved: prev?.shelved });
    const step = stepAlarm(prev, input, now, hide, "its evidence now concerns a device in service");
    this.#commit(prev, step, now, events, step.state !== undefined && step.state.active !== (prev?.active ?? false));
  }

  #overlay(prev: AlarmRecord, hide: Hide, now: number, events: AlarmChange[], unhideWhy: string): void {
    this.#commit(this.#alarms.get(prev.id), overlayAlarm(prev, hide, now, unhideWhy), now, events, false);
  }

  /** Re-apply the mutings to every alarm `which` selects (after maintenance or a device changed). */
  #rehide(which: (a: AlarmRecord) => boolean, now: number, events: AlarmChange[], unhideWhy: string): void {
    for (const a of [...this.#alarms.values()]) if (which(a)) this.#overlay(a, this.#hideOf(a), now, events, unhideWhy);
  }

  /**
   * Store a step's record and pass on its events through the chattering filter: a condition change
   * of a chattering alarm is recorded silently unless it raises the priority; commands always speak.
   */
  #commit(prev: AlarmRecord | undefined, step: AlarmStep, now: number, events: AlarmChange[], conditionChanged: boolean): void {
    let rec = step.state;
    if (rec === undefined) return;
    const limits = this.#cfg.chatter;
    let speak = step.events.length > 0;
    let why = rec.reason;
    if (conditionChanged) {
      const track = noteChange(this.#chatter.get(rec.id), now, limits);
      this.#chatter.set(rec.id, track);
      const count = track.changes.length;
      if (rec.chattering !== undefined) {
        rec = { ...rec, chattering: { count, since: rec.chattering.since } };
        const told = track.announced;
        speak = told === undefined || PRIORITY_RANK[rec.priority] > PRIORITY_RANK[told.priority];
      } else if (chatters(track, limits)) {
        rec = { ...rec, chattering: { count, since: now } };
        why = `chattering: ${count} changes in ${formatDuration(limits.windowMs)}; ${rec.reason}`;
        rec = { ...rec, reason: why };
        speak = true;
      }
      if (rec.chattering !== undefined) this.#nextDueMs = Math.min(this.#nextDueMs, calmAt(track, limits));
    }
    this.#alarms.set(rec.id, rec);
    if (!speak) return;
    if (rec.chattering !== undefined) this.#chatter.set(rec.id, { ...this.#chatter.get(rec.id)!, announced: { state: rec.state, priority: rec.priority } });
    events.push({ type: "alarm", alarm: rec, previous: prev?.state ?? "normal", reason: why });
  }

  /** Time-driven changes, only when something is due: shelves and maintenance expiring, chatter calming. */
  #due(now: number, events: AlarmChange[]): void {
    if (now < this.#nextDueMs) return;
    let next = Infinity;
    for (const [zone, m] of [...this.#maintenance]) {
      if (m.until === undefined) continue;
      if (m.until > now) next = Math.min(next, m.until);
      else {
        this.#maintenance.delete(zone);
        this.#rehide((a) => a.zone === zone, now, events, `maintenance of zone ${zone} ended (until ${new Date(m.until).toISOString()})`);
      }
    }
    for (const a of [...this.#alarms.values()]) {
      if (a.shelved === undefined) continue;
      if (a.shelved.until > now) next = Math.min(next, a.shelved.until);
      else this.#overlay(a, this.#hideOf({ ...a, shelved: undefined }), now, events, "shelf expired");
    }
    const limits = this.#cfg.chatter;
    for (const [id, track] of [...this.#chatter]) {
      const a = this.#alarms.get(id);
      const calm = calmAt(track, limits);
      if (calm > now) {
        if (a?.chattering !== undefined) next = Math.min(next, calm);
        continue;
      }
      this.#chatter.delete(id);
      if (a?.chattering === undefined) continue;
      const { chattering: _c, ...rest } = a;
      const reason = `chattering ended: no change for ${formatDuration(limits.windowMs)}`;
      const rec: AlarmRecord = { ...rest, reason };
      this.#alarms.set(id, rec);
      events.push({ type: "alarm", alarm: rec, previous: track.announced?.state ?? a.state, reason });
    }
    this.#nextDueMs = next;
  }

  /** Count this step's annunciations and raise or clear the site's flood alarm. */
  #finish(now: number, events: AlarmChange[]): void {
    const cfg = this.#cfg.flood;
    for (const e of events) if (isAnnunciation(e)) this.#flood.push(now);
    pruneWindow(this.#flood, now);
    const count = this.#flood.length;
    this.#floodCount = count;
    const prev = this.#alarms.get(FLOOD_ALARM_ID);
    const active = floodActive(prev?.active === true, count, cfg);
    if (prev === undefined && !active) return;
    this.#condition(floodInput(active, count, cfg), now, events);
  }
}
