// The `<device>:poll_rate` trouble alarm (README "Overload"): a device polled below 90 % of its
// configured rate over the poll-load window (src/drivers/modbus/poll-load.ts) has stale readings
// between polls and finds a change later than its config promises, so it is trouble until the
// rate recovers. Pure: the poll results carry the verdict; this turns it into an alarm input.
import type { PollResult } from "../drivers/modbus/poller-status.js";
import { MIN_RATE_FRACTION, type RateVerdict } from "../drivers/modbus/poll-load.js";

export const POLL_RATE_ALARM = "poll_rate";

/**
 * `<device>:poll_rate`, after a rule's `<rule>:fault`: an alarm id is one MQTT topic level
 * (`alarm/<id>`), so it cannot hold a '/'; device ids hold no ':', so it names no rule's alarm.
 */
export function pollRateAlarmId(device: string): string {
  return `${device}:${POLL_RATE_ALARM}`;
}

/** What the alarm says: achieved against configured rate, over which window. */
export function pollRateMessage(device: string, v: RateVerdict): string {
  const figures = `${v.achievedPerS.toFixed(2)} polls/s of ${v.configuredPerS.toFixed(2)} configured over the last ${v.windowS} s`;
  return v.state === "overloaded"
    ? `device ${device} polled below ${MIN_RATE_FRACTION * 100} % of its configured rate: ${figures}; its readings are older than poll_interval_ms says (raise poll_interval_ms, set max_in_flight if the device pipelines, or split the load)`
    : `device ${device} polled at its configured rate again: ${figures}`;
}

export interface TroubleInput {
  readonly id: string;
  readonly zone: string;
  readonly active: boolean;
  readonly message: string;
}

/** The alarm input a poll result asks for (undefined: none, the rate was not judged or did not change). */
export function pollRateTrouble(r: PollResult, zoneOf: (device: string) => string | undefined): TroubleInput | undefined {
  if (r.rate === undefined) return undefined;
  const zone = zoneOf(r.device);
  if (zone === undefined) return undefined;
  return { id: pollRateAlarmId(r.device), zone, active: r.rate.state === "overloaded", message: pollRateMessage(r.device, r.rate) };
}
