// The deciding core's one entry point for the runtime: evaluates the rules at a time, advances the
// alarms, the zone stages and the evacuation triggers, and returns what changed as CoreEvents.
// Pure apart from its own state: time is the `now` argument, the store is read-only here. The
// runtime builds the parts (rule engine, annunciator, ledger) and hands them in; the state store
// persists what exportState() returns and gives it back through restore().
import type { Stage, Zone } from "../config/types.js";
import type { Annunciator } from "../alarms/annunciator.js";
import type { AlarmRecord } from "../alarms/lifecycle.js";
import { deadlineOf, type EvacuationLedger, type IncidentRecord } from "../evacuation/trigger.js";
import type { CoreEvent, EvacuationTrigger } from "../events.js";
import type { PointStore } from "../points/store.js";
import type { RuleEngine } from "../rules/engine.js";
import { sameResult, stageRank, type PointReader, type RuleResult } from "../rules/result.js";
import { clearZone, initialZone, LATCHING_STAGES, stepZone, unjudgedZone, type ZoneSnapshot } from "./stage.js";

const EVACUATE_RANK = stageRank("evacuate");

export interface RoomWatchSnapshot {
  readonly zones: ZoneSnapshot[];
  readonly alarms: AlarmRecord[];
  readonly triggers: EvacuationTrigger[];
}

/** What the state store keeps of the core: zone pictures, incidents; alarms through the annunciator. */
export interface CoreState {
  readonly zones: readonly ZoneSnapshot[];
  readonly incidents: readonly IncidentRecord[];
}

export interface RoomWatchParts {
  readonly zones: readonly Zone[];
  readonly store: PointStore | PointReader;
  readonly engine: RuleEngine;
  readonly alarms: Annunciator;
  readonly ledger: EvacuationLedger;
  /** Clock time the watch began. */
  readonly startedAt?: number;
}

export class RoomWatch {
  readonly #zones: readonly Zone[];
  readonly #store: PointReader;
  readonly #engine: RuleEngine;
  readonly #alarms: Annunciator;
  readonly #ledger: EvacuationLedger;
  readonly #state = new Map<string, ZoneSnapshot>();
  /** The last results per zone, in config order: what an operator's clear is judged against. */
  readonly #results = new Map<string, RuleResult[]>();
  /** Per rule (config order): its zone's result list, and its place in that list. */
  readonly #slotOf: { readonly list: RuleResult[]; readonly at: number }[] = [];
  /** Zones waiting out their clear hold: time alone can step them down. */
  readonly #holding = new Set<string>();
  /** Zone id -> index in #zones: a step visits the zones whose rules' results changed, in config order. */
  readonly #zoneIndex = new Map<string, number>();
  /** The store's stale scan, when the store also reports its changes. */
  readonly #visitStale: PointStore["visitStale"] | undefined;
  /** The first step judges every rule and zone; later ones only what changed or time can change. */
  #judged = false;

  /** Clock time the watch began: a zone not yet judged has been `normal` since then, as far as we know. */
  readonly #startedAt: number;

  constructor(opts: RoomWatchParts) {
    this.#startedAt = opts.startedAt ?? 0;
    this.#zones = [...opts.zones];
    this.#zones.forEach((z, i) => this.#zoneIndex.set(z.id, i));
    this.#store = opts.store;
    this.#engine = opts.engine;
    this.#alarms = opts.alarms;
    this.#ledger = opts.ledger;
    // A store that reports its changes lets the periodic step re-run only what changed or time can
    // change; a bare reader gets a full evaluation at every periodic step.
    const store = opts.store as Partial<Pick<PointStore, "onMark" | "visitStale" | "keyAt">>;
    if (typeof store.onMark === "function" && typeof store.visitStale === "function") {
      this.#visitStale = store.visitStale.bind(opts.store);
      // Watcher lists by the store's point index, so a write marks its rules without a lookup by key.
      const reader = opts.store as PointStore;
      const starts = new Int32Array(reader.size);
      for (const key of reader.keys()) {
        const h = reader.handle(key);
        if (h !== undefined) starts[h.index] = this.#engine.watchStart(key);
      }
      reader.onMark((index, changed) => {
        if (index < starts.length) this.#engine.markChangedAt(starts[index]!, changed);
        else {
          const key = reader.keyAt(index); // declared after the watch was built
          if (key !== undefined) this.#engine.markChanged(key, changed);
        }
      });
    }
    for (const r of this.#engine.rules) {
      let list = this.#results.get(r.zone);
      if (list === undefined) this.#results.set(r.zone, (list = []));
      this.#slotOf.push({ list, at: list.length });
      list.length++;
    }
  }

  #zoneState(zone: string, now: number): ZoneSnapshot {
    return this.#state.get(zone) ?? initialZone(zone, now);
  }

  /**
   * A point got a new value (`changed` false: the same reading again); `step(now, true)` re-evaluates
   * only the rules that read changed points.
   * A PointStore given to the constructor reports its changes itself; this is for other readers.
   */
  markChanged(key: string, changed = true): void {
    this.#engine.markChanged(key, changed);
  }

  /**
   * Evaluate at `now`: alarm changes, then zone changes, then new evacuation triggers. With
   * `changedOnly` (after a poll), only rules whose points changed since their last evaluation are
   * re-run; without it (the periodic step), also the rules of points that went stale and the rules
   * time alone can change (delays, sliding windows). Rules not re-run keep their last result; only
   * their alarms and zones are left alone, and zones waiting out a clear hold are always stepped.
   * The first step evaluates everything.
   */
  step(now: number, changedOnly = false): CoreEvent[] {
    const engine = this.#engine;
    const store = this.#store;
    let results: RuleResult[];
    if (!this.#judged || (!changedOnly && this.#visitStale === undefined)) {
      results = engine.evaluate(store, now);
    } else if (changedOnly) {
      results = engine.evaluateChanged(store, now);
    } else {
      this.#visitStale!(now, (key) => engine.markChanged(key));
      results = engine.evaluateDue(store, now);
    }
    const evaluated = engine.evaluated;
    const touched = new Set<string>(this.#holding);
    const changed: RuleResult[] = [];
    for (const i of evaluated) {
      const r = results[i]!;
      const slot = this.#slotOf[i]!;
      const prev = slot.list[slot.at];
      slot.list[slot.at] = r;
      // A zone is re-stepped only when a result of its rules says something new: stepping it with
      // the same results changes nothing (zones waiting out a clear hold are stepped anyway).
      if (prev === undefined || !sameResult(prev, r)) touched.add(r.zone);
      changed.push(r);
    }

    const events: CoreEvent[] = [...this.#alarms.update(changed, now)];
    const triggers: EvacuationTrigger[] = [];
    const order = this.#judged ? [...touched].map((id) => this.#zoneIndex.get(id) ?? -1).filter((i) => i >= 0).sort((a, b) => a - b) : this.#zones.map((_, i) => i);
    for (const zi of order) {
      const zone = this.#zones[zi]!;
      const stored = this.#state.get(zone.id);
      const prev = stored ?? initialZone(zone.id, now);
      const { state, events: zoneEvents } = stepZone(prev, zone, this.#results.get(zone.id) ?? [], now);
      this.#state.set(zone.id, state);
      // A zone judged for the first time is news even when it is normal: until now it was published
      // as not yet judged, and consumers must see the verdict.
      if (stored === undefined && !zoneEvents.some((e) => e.type === "zone_stage")) {
        const { latched: _l, clearSince: _c, ...change } = state;
        zoneEvents.unshift({ ...change, firstJudgement: true });
      }
      if (state.clearSince === undefined) this.#holding.delete(zone.id);
      else this.#holding.add(zone.id);
      events.push(...zoneEvents);
      // Entering evacuate, or straight to released (a panel that released with no countdown seen), issues the trigger.
      if (stageRank(state.stage) >= EVACUATE_RANK && stageRank(prev.stage) < EVACUATE_RANK) triggers.push(this.#ledger.issue(zone.id, state.evidence, now));
      else if (stageRank(state.stage) >= EVACUATE_RANK) {
        // Already evacuating: a countdown seen now gives the open trigger its deadline (announced again, same id).
        const { deadline } = deadlineOf(state.evidence);
        const tightened = deadline === undefined ? undefined : this.#ledger.tighten(zone.id, deadline);
        if (tightened !== undefined) triggers.push(tightened);
      }
    }
    this.#judged = true;
    events.push(...triggers);
    return events;
  }

  /** The room's alarms, for operator commands (shelve, out of service, maintenance) and the state store. */
  get alarms(): Annunciator {
    return this.#alarms;
  }

  /**
   * An operator's clear of a latched zone, judged against the conditions of the last step. It also
   * closes the zone's open evacuation incident (even one adopted from the broker while this
   * instance's zone is not latched), so the next evacuation gets the next incident number.
   */
  clearZone(zoneId: string, now: number, by: string): { ok: boolean; reason?: string; events: CoreEvent[] } {
    const zone = this.#zones.find((z) => z.id === zoneId);
    if (zone === undefined) return { ok: false, reason: `unknown zone ${zoneId}`, events: [] };
    // Conditions are judged from this run's evaluations, never from none: a restored latch waits for one.
    if (!this.#judged) return { ok: false, reason: `zone ${zoneId} has not been judged since firebreak started; try again once its devices have answered`, events: [] };
    const prev = this.#zoneState(zoneId, now);
    const closeIncident = (): CoreEvent[] => {
      const closed = this.#ledger.close(zoneId);
      return closed === undefined ? [] : [{ type: "incident_closed", zone: zoneId, id: closed.id, incident: closed.incident, by, since: now }];
    };
    if (!prev.latched && this.#ledger.hasOpen(zoneId)) return { ok: true, events: closeIncident() };
    // Nothing latched, no incident open: already clear. Accepted with nothing changed, so that an
    // operator repeating a clear that a redundant peer refused the first time (README "Redundancy
    // (active/active)") gets the same answer from both daemons.
    if (!prev.latched && !LATCHING_STAGES.has(prev.stage)) return { ok: true, events: [] };
    const outcome = clearZone(prev, zone, this.#results.get(zoneId) ?? [], now);
    if (!outcome.ok) return { ok: false, reason: outcome.reason, events: [] };
    this.#state.set(zoneId, outcome.state);
    this.#holding.delete(zoneId);
    return { ok: true, events: [...outcome.events, ...closeIncident()] };
  }

  /** Adopt an evacuation trigger already retained on the broker; false (with nothing changed) when it does not fit. */
  adoptRetainedTrigger(zoneId: string, triggerId: string): boolean {
    return this.#ledger.adopt(zoneId, triggerId).adopted;
  }

  /** Everything retained on MQTT, for a republish after a reconnect. Zones never judged say so. */
  snapshot(): RoomWatchSnapshot {
    return {
      zones: this.#zones.map((z) => this.#state.get(z.id) ?? unjudgedZone(z.id, this.#startedAt)),
      alarms: this.#alarms.standing(),
      triggers: this.#ledger.openTriggers(),
    };
  }

  /** The zone pictures and incidents, for the state store (alarms: see the annunciator). */
  exportState(): CoreState {
    return { zones: [...this.#state.values()], incidents: this.#ledger.exportState() };
  }

  /**
   * Continue from a stored picture, before the first step: zones keep their stage, latch and
   * evidence (a latched zone stays latched until an operator clears it), incidents their numbers and
   * open triggers. Zones no longer in the config are dropped.
   */
  restore(state: CoreState): void {
    const known = new Set(this.#zones.map((z) => z.id));
    for (const z of state.zones) {
      if (!known.has(z.zone)) continue;
      this.#state.set(z.zone, z);
      if (z.clearSince !== undefined) this.#holding.add(z.zone);
    }
    this.#ledger.restore(state.incidents.filter((i) => known.has(i.zone)));
  }

  /** The zones this watch covers, in config order. */
  zones(): readonly Zone[] {
    return this.#zones;
  }

  /** The zone's stage as last decided (undefined: not judged yet). */
  stageOf(zoneId: string): Stage | undefined {
    return this.#state.get(zoneId)?.stage;
  }

  /** The zone's rule results as last evaluated (what protective actions' interlocks read). */
  resultsOf(zoneId: string): readonly RuleResult[] {
    return this.#results.get(zoneId) ?? [];
  }

  /** The open incident of a zone, if any. */
  openIncident(zoneId: string): number | undefined {
    return this.#ledger.openIncident(zoneId);
  }
}
