// What hides an alarm from the operator (ISA-18.2: shelved, suppressed by design, out of service)
// and why, in words. Like Alertmanager's silences and inhibitions, every kind of muting records its
// reason; the annunciator decides which apply and ./lifecycle.ts moves the alarm accordingly.
import type { AlarmClass, AlarmOutOfService, AlarmShelf, AlarmStateName, AlarmSuppression, Evidence } from "../events.js";

/** The mutings in effect for one alarm; empty when it is visible. */
export interface Hide {
  readonly shelved?: AlarmShelf;
  readonly suppressed?: AlarmSuppression;
  readonly outOfService?: AlarmOutOfService;
}

export const VISIBLE: Hide = Object.freeze({});

export type HiddenState = "out_of_service" | "shelved" | "suppressed";

const HIDDEN: ReadonlySet<AlarmStateName> = new Set<AlarmStateName>(["out_of_service", "shelved", "suppressed"]);

export function isHiddenState(s: AlarmStateName): s is HiddenState {
  return HIDDEN.has(s);
}

/** The state a set of mutings puts an alarm in: out of service over shelved over suppressed. */
export function hiddenStateOf(h: Hide): HiddenState | undefined {
  if (h.outOfService !== undefined) return "out_of_service";
  if (h.shelved !== undefined) return "shelved";
  if (h.suppressed !== undefined) return "suppressed";
  return undefined;
}

/** What the annunciator holds besides the alarms: zones in maintenance, things out of service. */
export interface HidingContext {
  readonly maintenance: ReadonlyMap<string, AlarmSuppression>;
  readonly oosAlarms: ReadonlyMap<string, AlarmOutOfService>;
  /** Entries without `devices`; the alarm's annotation lists the devices. */
  readonly oosDevices: ReadonlyMap<string, AlarmOutOfService>;
}

/** The device of a point key `<device>/<point>`; comm_loss evidence names the device itself. */
export function deviceOf(point: string): string {
  const slash = point.indexOf("/");
  return slash < 0 ? point : point.slice(0, slash);
}

/**
 * A TROUBLE alarm whose evidence concerns only devices out of service is out of service with them.
 * Condition (fire) alarms never are: a device taken away for repair must not hide a fire elsewhere
 * in its evidence, and evidence without a point (a group, a rule) is never hidden.
 */
function deviceOutOfService(cls: AlarmClass, evidence: readonly Evidence[], devices: ReadonlyMap<string, AlarmOutOfService>): AlarmOutOfService | undefined {
  if (cls !== "trouble" || devices.size === 0 || evidence.length === 0) return undefined;
  const names: string[] = [];
  for (const e of evidence) {
    if (typeof e.point !== "string") return undefined;
    const d = deviceOf(e.point);
    if (!devices.has(d)) return undefined;
    if (!names.includes(d)) names.push(d);
  }
  const first = devices.get(names[0]!)!;
  return { by: first.by, at: first.at, reason: first.reason, devices: names };
}

/** The mutings that apply to an alarm now, given its shelf (kept on the alarm) and the context. */
export function hidingFor(a: { readonly id: string; readonly zone: string; readonly class: AlarmClass; readonly evidence: readonly Evidence[]; readonly shelved?: AlarmShelf | undefined }, ctx: HidingContext): Hide {
  const outOfService = ctx.oosAlarms.get(a.id) ?? deviceOutOfService(a.class, a.evidence, ctx.oosDevices);
  const suppressed = ctx.maintenance.get(a.zone);
  if (outOfService === undefined && a.shelved === undefined && suppressed === undefined) return VISIBLE;
  return {
    ...(outOfService === undefined ? {} : { outOfService }),
    ...(a.shelved === undefined ? {} : { shelved: a.shelved }),
    ...(suppressed === undefined ? {} : { suppressed }),
  };
}

function sameEntry<T extends object>(a: T | undefined, b: T | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** True when both carry the same mutings (by value). */
export function sameHide(a: Hide, b: Hide): boolean {
  return sameEntry(a.shelved, b.shelved) && sameEntry(a.suppressed, b.suppressed) && sameEntry(a.outOfService, b.outOfService);
}

/** "30 min", "8 h", "45 s": durations as operators say them. */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 2 * 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${+(ms / 3_600_000).toFixed(1)} h`;
}

/** Why an alarm is in a hidden state, in words (the record's `reason`). */
export function describeHide(h: Hide, state: HiddenState): string {
  switch (state) {
    case "out_of_service": {
      const o = h.outOfService!;
      const what = o.devices === undefined ? "out of service" : `device${o.devices.length > 1 ? "s" : ""} ${o.devices.join(", ")} out of service`;
      return `${what} by ${o.by}: ${o.reason}`;
    }
    case "shelved": {
      const s = h.shelved!;
      return `shelved by ${s.by} for ${formatDuration(s.until - s.at)}: ${s.reason}`;
    }
    case "suppressed": {
      const m = h.suppressed!;
      return `zone ${m.zone} in maintenance${m.until === undefined ? "" : ` until ${new Date(m.until).toISOString()}`} (by ${m.by}): ${m.reason}`;
    }
  }
}
