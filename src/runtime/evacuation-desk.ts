// The daemon's evacuation desk: follows the triggers the core issues and the incidents operators
// close, verifies consumers' acknowledgments (src/evacuation/ack-wire.ts), and turns the pure
// tracker's decisions (src/evacuation/tracker.ts) into events: re-announcements, the retained
// `evacuate/<zone>/status`, and the escalation alarms through the annunciator. Its state is
// exported to the state store with the rest of the core's picture.
import type { KeyObject } from "node:crypto";
import type { Logger } from "pino";
import type { Annunciator } from "../alarms/annunciator.js";
import { publicKeyFromPem } from "../commands/keys.js";
import type { EvacuationConfig } from "../config/types.js";
import { verifyAck } from "../evacuation/ack-wire.js";
import { applyAck, closeTracking, dueAnnouncements, escalationInputs, openTracking, requiredFor, statusOf, type TrackerState, type Tracking } from "../evacuation/tracker.js";
import type { CoreEvent, EvacuationStatus, EvacuationTrigger } from "../events.js";

/** Without an `evacuation:` section nobody is required, and nothing is re-announced. */
const NO_REANNOUNCE_MS = Number.POSITIVE_INFINITY;

export class EvacuationDesk {
  readonly #cfg: EvacuationConfig | undefined;
  readonly #alarms: Annunciator;
  readonly #log: Logger;
  readonly #keys: ReadonlyMap<string, KeyObject>;
  #state: TrackerState = {};
  /** What each zone's status said when last published, so a tick publishes only changes. */
  readonly #told = new Map<string, string>();

  constructor(opts: { config: EvacuationConfig | undefined; alarms: Annunciator; log: Logger }) {
    this.#cfg = opts.config;
    this.#alarms = opts.alarms;
    this.#log = opts.log;
    this.#keys = new Map((opts.config?.consumers ?? []).map((c) => [c.id, publicKeyFromPem(c.publicKeyPem, `evacuation consumer ${c.id}`)]));
  }

  exportState(): TrackerState {
    return this.#state;
  }

  restore(records: readonly unknown[]): void {
    const state: Record<string, Tracking> = {};
    for (const r of records as Tracking[]) state[r.trigger.zone] = r;
    this.#state = state;
  }

  /** Open triggers of the ledger not tracked yet (restored from a version without tracking). */
  adoptOpen(triggers: readonly EvacuationTrigger[], now: number): void {
    for (const t of triggers) if (this.#state[t.zone]?.trigger.id !== t.id) this.#state = openTracking(this.#state, t, this.#required(t.zone), now);
  }

  /** Statuses of every tracked trigger, for the retained republish on (re)connect. */
  statuses(now: number): EvacuationStatus[] {
    return Object.values(this.#state).map((t) => statusOf(t, now));
  }

  /**
   * What follows from events the core decided: a new trigger starts its tracking, a closed incident
   * ends it (its alarms' conditions clear, its status is removed). Events this desk made itself
   * (re-announcements, statuses, alarms) change nothing here.
   */
  observe(events: readonly CoreEvent[], now: number): CoreEvent[] {
    const out: CoreEvent[] = [];
    for (const e of events) {
      if (e.type === "evacuate" && (e.announcement ?? 1) === 1 && this.#state[e.zone]?.trigger.id !== e.id) {
        this.#state = openTracking(this.#state, e, this.#required(e.zone), now);
        out.push(...this.#changed(e.zone, now, true));
      } else if (e.type === "evacuate" && this.#state[e.zone]?.trigger.id === e.id && e.deadline !== this.#state[e.zone]!.trigger.deadline) {
        // The same trigger with a deadline learnt since (src/evacuation/trigger.ts tighten): re-announcements carry it.
        const t = this.#state[e.zone]!;
        this.#state = { ...this.#state, [e.zone]: { ...t, trigger: { ...t.trigger, ...(e.deadline === undefined ? {} : { deadline: e.deadline }) } } };
      } else if (e.type === "incident_closed" && this.#state[e.zone] !== undefined) {
        const t = this.#state[e.zone]!;
        this.#state = closeTracking(this.#state, e.zone);
        this.#told.delete(e.zone);
        out.push({ ...statusOf(t, now), closed: true }, ...this.#alarms.raise(escalationInputs(e.zone, undefined, now), now));
      }
    }
    return out;
  }

  /** Time passing: re-announcements that are due, and ackBy deadlines passing. */
  tick(now: number): CoreEvent[] {
    const due = dueAnnouncements(this.#state, now, this.#cfg?.reannounceIntervalMs ?? NO_REANNOUNCE_MS);
    this.#state = due.state;
    const out: CoreEvent[] = [];
    for (const t of due.triggers) {
      this.#log.warn({ trigger: t.id, zone: t.zone, announcement: t.announcement, missing: this.#state[t.zone] === undefined ? [] : statusOf(this.#state[t.zone]!, now).missing }, `evacuation trigger ${t.id} re-announced (announcement ${t.announcement}): not accepted by every required consumer`);
      out.push(t);
    }
    for (const zone of Object.keys(this.#state)) out.push(...this.#changed(zone, now, due.triggers.some((t) => t.zone === zone)));
    return out;
  }

  /** A consumer's acknowledgment from MQTT: verified, applied, and what changed. */
  ack(zone: string, consumer: string, payload: Buffer, now: number): CoreEvent[] {
    const v = verifyAck(zone, consumer, payload, this.#keys);
    if (!v.ok) {
      this.#log.warn({ zone, consumer, code: v.code }, `evacuation acknowledgment refused (${v.code}): ${v.reason}`);
      return [];
    }
    const r = applyAck(this.#state, zone, consumer, v.ack, now);
    if (!r.applied) {
      this.#log.info({ zone, consumer, trigger: v.ack.id, state: v.ack.state }, `evacuation acknowledgment ignored: ${r.why}`);
      return [];
    }
    this.#state = r.state;
    const a = v.ack;
    const line = `evacuation ${a.id}: ${consumer} ${a.state}${a.hosts.failed.length > 0 ? `, failed ${a.hosts.failed.join(", ")}` : ""}${a.reason === undefined ? "" : ` (${a.reason})`}`;
    if (a.state === "failed") this.#log.error({ trigger: a.id, zone, consumer, done: a.hosts.done, failed: a.hosts.failed }, line);
    else this.#log.info({ trigger: a.id, zone, consumer, done: a.hosts.done.length, failed: a.hosts.failed.length }, line);
    return this.#changed(zone, now, true);
  }

  #required(zone: string): string[] {
    return requiredFor(zone, this.#cfg?.consumers ?? []);
  }

  /** The zone's escalation alarms advanced, and its status when it changed (or `force`). */
  #changed(zone: string, now: number, force: boolean): CoreEvent[] {
    const t = this.#state[zone];
    if (t === undefined) return [];
    const alarms = this.#alarms.raise(escalationInputs(zone, t, now), now);
    const status = statusOf(t, now);
    const key = JSON.stringify([status.state, status.announcements, status.missing, status.failedHosts, status.consumers]);
    if (!force && alarms.length === 0 && this.#told.get(zone) === key) return [];
    this.#told.set(zone, key);
    return [...alarms, status];
  }
}
