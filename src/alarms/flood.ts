// Flood accounting (ISA-18.2): alarms annunciated per site over a sliding 10 minutes, against the
// benchmark of 10 per 10 minutes. A flood raises the site alarm `alarm-flood`; it ends when the
// rate falls below `endBelowPer10Min` (src/config/alarms-schema.ts cites both figures).
import type { AlarmsConfig } from "../config/alarms-schema.js";
import type { AlarmChange } from "../events.js";
import type { AlarmInput } from "./lifecycle.js";

export const FLOOD_ALARM_ID = "alarm-flood";
/** The site alarm's zone: it concerns the whole site, not one zone. */
export const FLOOD_ZONE = "site";
/** ISA-18.2 measures alarm rates per operator per 10 minutes. */
export const FLOOD_WINDOW_MS = 10 * 60_000;

/** A new alarm put in front of the operator: into `unack` from anything else (the flood alarm itself excluded). */
export function isAnnunciation(e: AlarmChange): boolean {
  return e.alarm.state === "unack" && e.previous !== "unack" && e.alarm.id !== FLOOD_ALARM_ID;
}

/** Drop annunciations that left the window (now - 10 min, now]; `times` is oldest first. */
export function pruneWindow(times: number[], now: number): void {
  const from = now - FLOOD_WINDOW_MS;
  let i = 0;
  while (i < times.length && times[i]! <= from) i++;
  if (i > 0) times.splice(0, i);
}

/** Hysteresis: a flood begins above the benchmark and ends below the end rate. */
export function floodActive(wasActive: boolean, count: number, flood: AlarmsConfig["flood"]): boolean {
  return wasActive ? count >= flood.endBelowPer10Min : count > flood.per10Min;
}

export function floodInput(active: boolean, count: number, flood: AlarmsConfig["flood"]): AlarmInput {
  return {
    id: FLOOD_ALARM_ID,
    rule: FLOOD_ALARM_ID,
    zone: FLOOD_ZONE,
    class: "trouble",
    priority: "high",
    active,
    message: `alarm flood: ${count} alarms annunciated in the last 10 min (ISA-18.2 benchmark: ${flood.per10Min} per 10 min)`,
    evidence: [],
  };
}
