// Evacuation triggers and their deterministic ids `<site>:<zone>:<incident, 4 digits>` (README.md#rules).
// Two redundant daemons must issue the same id for the same incident, so the incident number is
// built only from what both see: it advances when an operator's clear (which both receive) closes
// the zone's last incident, or when a trigger already retained on the broker is adopted. Never from
// a local clock.
import type { Rule, Zone } from "../config/types.js";
import type { EvacuationTrigger, Evidence } from "../events.js";

/**
 * The default ack window (`evacuation.ack_window_s`): consumers must accept a trigger within this
 * time or `evacuation-unacknowledged` is raised. 60 s is a first choice [unverified: no published
 * figure]: a few re-announcements at the default 15 s interval, far inside the minutes between a
 * cell's first vent and its runaway (docs/sources.md#vent-to-runaway).
 */
export const ACK_WINDOW_MS = 60_000;

/**
 * A countdown read at each poll gives a deadline that moves by up to one poll and one rounded
 * second; only a deadline earlier than the announced one by more than this is announced again.
 */
export const DEADLINE_SLACK_MS = 2_000;

export function triggerId(site: string, zone: string, incident: number): string {
  return `${site}:${zone}:${String(incident).padStart(4, "0")}`;
}

export function parseTriggerId(id: string): { site: string; zone: string; incident: number } | undefined {
  const m = /^([A-Za-z0-9_-]+):([A-Za-z0-9_-]+):(\d{4,})$/.exec(id);
  if (m === null) return undefined;
  const incident = Number(m[3]);
  return incident >= 1 && Number.isSafeInteger(incident) ? { site: m[1]!, zone: m[2]!, incident } : undefined;
}

/** What a point measures, in words a facilities engineer reads in a page. */
function measureOf(point: string | undefined): string {
  if (point === undefined) return "signal";
  const parts = point.split("/");
  const last = parts[parts.length - 1] ?? point;
  if (last === "tempC") return parts.length >= 5 ? "cell temperature" : "temperature";
  if (last === "ppm") return "offgas";
  if (last === "lflPct") return "flammable gas %LFL";
  return last;
}

/** A short human label of why one rule is active, e.g. "cell temperature deviation". */
export function ruleLabel(rule: Rule | undefined, evidence: Evidence | undefined): string {
  // A zone's own evidence (src/zones/knock-policy.ts), not a configured rule's.
  if (rule === undefined) return evidence?.rule.endsWith(":degraded-knock") === true ? "degraded knock" : (evidence?.rule ?? "unknown rule");
  const measure = measureOf(evidence?.point);
  switch (rule.kind) {
    case "offgas":
      return "offgas";
    case "deviation":
      return `${measure} deviation`;
    case "rate_of_rise":
      return `${measure} rate of rise`;
    case "threshold":
      return `${measure} ${typeof evidence?.["level"] === "string" ? evidence["level"].replace("_", "-") : "limit"}`;
    case "state": {
      // "panel-1 pre-release": the device and the state it reports.
      const device = evidence?.point?.split("/")[0] ?? rule.id;
      const state = typeof evidence?.["state"] === "string" ? evidence["state"].replace(/_/g, "-") : "state";
      return `${device} ${state}`;
    }
    case "vote":
      return `${rule.votes} of ${rule.points.length} detectors`;
    case "comm_loss":
      return "communication loss";
    case "stuck":
      return `${measure} sensor stuck`;
    case "disagree":
      return `${measure} sensors disagree`;
  }
}

/** "offgas + cell temperature deviation": one label per distinct rule, in evidence order. */
export function reasonFrom(evidence: readonly Evidence[], rules: ReadonlyMap<string, Rule>): string {
  const labels: string[] = [];
  const seen = new Set<string>();
  for (const e of evidence) {
    if (seen.has(e.rule)) continue;
    seen.add(e.rule);
    const label = ruleLabel(rules.get(e.rule), e);
    if (!labels.includes(label)) labels.push(label);
  }
  return labels.length > 0 ? labels.join(" + ") : "zone at evacuate";
}

/**
 * The earliest deadline any evidence carries (a panel's pre-release countdown, src/rules/state.ts):
 * consumers order their work by it. Empty when none does.
 */
export function deadlineOf(evidence: readonly Evidence[]): { deadline?: number } {
  let best: number | undefined;
  for (const e of evidence) {
    const d = e["deadline"];
    if (typeof d === "number" && Number.isFinite(d) && (best === undefined || d < best)) best = d;
  }
  return best === undefined ? {} : { deadline: best };
}

/** What the state store keeps per zone: incident numbers and the open trigger (with its first issuedAt). */
export interface IncidentRecord {
  readonly zone: string;
  readonly closedUpTo: number;
  readonly open?: number;
  readonly trigger?: EvacuationTrigger;
}

interface ZoneIncidents {
  /** The highest incident number closed by an operator's clear (0: none yet). */
  closedUpTo: number;
  /** The open incident, if any: issued here or adopted from the broker. */
  open: number | undefined;
  /** The trigger issued for the open incident, once issued by this instance. */
  trigger: EvacuationTrigger | undefined;
}

/** Incident numbers and open triggers per zone. Plain state; no clock, no I/O. */
export class EvacuationLedger {
  readonly #site: string;
  readonly #zones: ReadonlyMap<string, Zone>;
  readonly #rules: ReadonlyMap<string, Rule>;
  readonly #incidents = new Map<string, ZoneIncidents>();
  readonly #ackWindowMs: number;

  constructor(opts: { site: string; zones: ReadonlyMap<string, Zone>; rules: readonly Rule[]; ackWindowMs?: number }) {
    this.#site = opts.site;
    this.#ackWindowMs = opts.ackWindowMs ?? ACK_WINDOW_MS;
    this.#zones = opts.zones;
    this.#rules = new Map(opts.rules.map((r) => [r.id, r]));
  }

  #of(zone: string): ZoneIncidents {
    let z = this.#incidents.get(zone);
    if (z === undefined) {
      z = { closedUpTo: 0, open: undefined, trigger: undefined };
      this.#incidents.set(zone, z);
    }
    return z;
  }

  /**
   * The zone entered evacuate: the trigger of its open incident, or of a new one. Re-entering within
   * the same incident (e.g. after a restart that adopted the retained trigger) re-uses its id.
   */
  issue(zone: string, evidence: readonly Evidence[], now: number): EvacuationTrigger {
    const z = this.#of(zone);
    const incident = z.open ?? z.closedUpTo + 1;
    const racks = this.#zones.get(zone)?.racks ?? [];
    const trigger: EvacuationTrigger = {
      type: "evacuate",
      id: triggerId(this.#site, zone, incident),
      zone,
      incident,
      racks: racks.map((r) => r.id),
      hosts: racks.flatMap((r) => r.hosts),
      rackOf: Object.fromEntries(racks.flatMap((r) => r.hosts.map((h) => [h, r.id]))),
      reason: reasonFrom(evidence, this.#rules),
      evidence,
      issuedAt: now,
      ackBy: now + this.#ackWindowMs,
      ...deadlineOf(evidence),
    };
    z.open = incident;
    z.trigger = trigger;
    return trigger;
  }

  /**
   * A deadline learnt while the zone already evacuates (the panel starts its countdown after the
   * knocks evacuated the zone): the open trigger takes it when it had none or this one is earlier
   * by more than DEADLINE_SLACK_MS, and the updated trigger (same id and issuedAt) is returned to
   * be announced. Undefined when nothing changes, or the open trigger was not issued here.
   */
  tighten(zone: string, deadline: number): EvacuationTrigger | undefined {
    const z = this.#incidents.get(zone);
    const t = z?.trigger;
    if (z === undefined || t === undefined) return undefined;
    if (t.deadline !== undefined && deadline >= t.deadline - DEADLINE_SLACK_MS) return undefined;
    z.trigger = { ...t, deadline };
    return z.trigger;
  }

  /** An operator's clear closes the zone's open incident; the next evacuation is a new incident. */
  close(zone: string): { id: string; incident: number } | undefined {
    const z = this.#of(zone);
    if (z.open === undefined) return undefined;
    const closed = { id: triggerId(this.#site, zone, z.open), incident: z.open };
    z.closedUpTo = Math.max(z.closedUpTo, z.open);
    z.open = undefined;
    z.trigger = undefined;
    return closed;
  }

  hasOpen(zone: string): boolean {
    return this.#incidents.get(zone)?.open !== undefined;
  }

  /**
   * Adopt a trigger already retained on the broker for the zone: its incident is open (only a clear
   * removes it), so this instance continues from its number instead of issuing a new incident.
   * Returns why not when the id does not fit.
   */
  adopt(zone: string, id: string): { adopted: boolean; reason?: string } {
    const parsed = parseTriggerId(id);
    if (parsed === undefined) return { adopted: false, reason: `"${id}" is not a trigger id <site>:<zone>:<incident>` };
    if (parsed.site !== this.#site || parsed.zone !== zone) return { adopted: false, reason: `trigger ${id} is not for ${this.#site}:${zone}` };
    const z = this.#of(zone);
    if (parsed.incident <= z.closedUpTo) return { adopted: false, reason: `incident ${parsed.incident} of ${zone} is already closed` };
    if (z.open !== undefined && z.open >= parsed.incident) return { adopted: false, reason: `incident ${z.open} of ${zone} is already open` };
    z.open = parsed.incident;
    z.trigger = undefined;
    return { adopted: true };
  }

  /** The open incident of a zone (issued here or adopted), if any. */
  openIncident(zone: string): number | undefined {
    return this.#incidents.get(zone)?.open;
  }

  exportState(): IncidentRecord[] {
    return [...this.#incidents].map(([zone, z]) => ({
      zone,
      closedUpTo: z.closedUpTo,
      ...(z.open === undefined ? {} : { open: z.open }),
      ...(z.trigger === undefined ? {} : { trigger: z.trigger }),
    }));
  }

  /** Continue from stored incidents: numbers never go back, an open trigger keeps its id and issuedAt. */
  restore(records: readonly IncidentRecord[]): void {
    for (const r of records) this.#incidents.set(r.zone, { closedUpTo: r.closedUpTo, open: r.open, trigger: r.trigger });
  }

  /** Triggers issued by this instance for open incidents (what is retained on MQTT). */
  openTriggers(): EvacuationTrigger[] {
    return [...this.#incidents.values()].flatMap((z) => (z.trigger === undefined ? [] : [z.trigger]));
  }
}
