// Operator commands on alarms: their targets, their answers, and the checks that refuse them before
// anything changes (a refused command changes nothing). The annunciator carries them out.
import type { AlarmChange } from "../events.js";
import { formatDuration } from "./hiding.js";

export type CommandResult = { readonly ok: true; readonly events: AlarmChange[] } | { readonly ok: false; readonly reason: string };

export type AckTarget = { readonly alarm: string } | { readonly zone: string } | { readonly all: true };
export type ServiceTarget = { readonly alarm: string } | { readonly device: string };

export const refuse = (reason: string): CommandResult => ({ ok: false, reason });

/** The names of things a command may target, from the config. */
export interface Known {
  readonly alarm: (id: string) => boolean;
  readonly zone: (id: string) => boolean;
  readonly device: (id: string) => boolean;
  /** An alarm that is or can become critical: never shelved, never out of service. */
  readonly lifeSafety: (id: string) => boolean;
}

function checkWho(by: string, reason?: string): string | undefined {
  if (by.trim() === "") return "the operator (by) is missing";
  if (reason !== undefined && reason.trim() === "") return "a reason is required";
  return undefined;
}

export function checkAcknowledge(k: Known, t: AckTarget, by: string): string | undefined {
  if ("alarm" in t && !k.alarm(t.alarm)) return `unknown alarm "${t.alarm}"`;
  if ("zone" in t && !k.zone(t.zone)) return `unknown zone "${t.zone}"`;
  return checkWho(by);
}

export function checkShelve(k: Known, alarmId: string, durationMs: number, maxMs: number, reason: string, by: string): string | undefined {
  if (!k.alarm(alarmId)) return `unknown alarm "${alarmId}"`;
  if (!Number.isFinite(durationMs) || durationMs <= 0) return `shelving needs a duration above 0 (got ${durationMs} ms)`;
  if (durationMs > maxMs) return `${formatDuration(durationMs)} is longer than the longest shelving allowed, ${formatDuration(maxMs)} (alarms.shelving.max_duration_s)`;
  if (k.lifeSafety(alarmId)) return `alarm "${alarmId}" is a life-safety (critical) alarm: it cannot be shelved; acknowledge it, or fix the condition`;
  return checkWho(by, reason);
}

export function checkUnshelve(k: Known, alarmId: string, by: string): string | undefined {
  if (!k.alarm(alarmId)) return `unknown alarm "${alarmId}"`;
  return checkWho(by);
}

export function checkService(k: Known, t: ServiceTarget, by: string, reason?: string): string | undefined {
  if ("alarm" in t) {
    if (!k.alarm(t.alarm)) return `unknown alarm "${t.alarm}"`;
    if (reason !== undefined && k.lifeSafety(t.alarm)) return `alarm "${t.alarm}" is a life-safety (critical) alarm: it cannot be taken out of service; take the faulty device out of service instead`;
  } else if (!k.device(t.device)) return `unknown device "${t.device}"`;
  return checkWho(by, reason);
}

export function checkMaintenance(k: Known, zone: string, on: boolean, untilMs: number | undefined, reason: string, by: string, now: number): string | undefined {
  if (!k.zone(zone)) return `unknown zone "${zone}"`;
  if (on && untilMs !== undefined && (!Number.isFinite(untilMs) || untilMs <= now)) return `maintenance of zone "${zone}" must end in the future (until ${untilMs})`;
  return checkWho(by, on ? reason : undefined);
}
