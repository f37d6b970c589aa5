// The annunciator's whole state as plain JSON, for the state store (DESIGN: a restart neither
// forgets an acknowledgment nor re-fires what was already announced). restore(export()) continues
// exactly where it left off.
import type { AlarmOutOfService, AlarmSuppression } from "../events.js";
import type { ChatterTrack } from "./chatter.js";
import type { AlarmRecord } from "./lifecycle.js";

export const ANNUNCIATOR_STATE_VERSION = 1;

export interface AnnunciatorState {
  readonly v: typeof ANNUNCIATOR_STATE_VERSION;
  /** Every alarm that ever left normal (or was shelved / taken out of service), in first-seen order. */
  readonly alarms: readonly AlarmRecord[];
  /** Zones in maintenance: their alarms are suppressed by design. */
  readonly maintenance: readonly AlarmSuppression[];
  readonly outOfService: {
    readonly alarms: readonly (AlarmOutOfService & { readonly alarm: string })[];
    readonly devices: readonly (AlarmOutOfService & { readonly device: string })[];
  };
  /** Annunciations in the sliding 10 minutes (clock ms, oldest first) and their count at the last evaluation. */
  readonly flood: { readonly count: number; readonly annunciations: readonly number[] };
  /** Recent condition changes per alarm, for the chattering filter. */
  readonly chatter: readonly (ChatterTrack & { readonly alarm: string })[];
}
