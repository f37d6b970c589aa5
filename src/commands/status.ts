// The result of the `status` command: the daemon's picture of zones, alarms and open evacuation
// triggers, as `firebreak ctl status` prints it. The daemon builds exactly this; the schema lets
// the CLI check what it received instead of trusting it.
import { z } from "zod";
import type { Stage } from "../config/types.js";
import type { AlarmBody } from "../outputs/mqtt/payloads.js";

export interface ZoneStatus {
  readonly zone: string;
  readonly stage: Stage;
  /** The stage holds until an operator's `clear`. */
  readonly latched: boolean;
  /** The zone's own sensing is degraded. */
  readonly fault: boolean;
  /** ISO 8601 UTC: when the zone entered this stage. */
  readonly since: string;
  /** The zone's current incident number, when it has one. */
  readonly incident?: number;
}

/** An open (issued, not cleared) evacuation trigger. */
export interface TriggerStatus {
  readonly id: string;
  readonly zone: string;
  readonly incident: number;
  /** ISO 8601 UTC. */
  readonly issuedAt: string;
  /** ISO 8601 UTC: consumers must acknowledge by then. */
  readonly ackBy: string;
}

export interface StatusResult {
  readonly zones: readonly ZoneStatus[];
  /** Every alarm not in `normal`, as `alarm/<id>` carries it (src/outputs/mqtt/payloads.ts alarmBody). */
  readonly alarms: readonly AlarmBody[];
  readonly triggers: readonly TriggerStatus[];
}

/** What ctl checks before printing; unknown fields are allowed (schema v1 may add fields). */
export const statusResultSchema = z.object({
  zones: z.array(
    z.object({
      zone: z.string(),
      stage: z.string(),
      latched: z.boolean(),
      fault: z.boolean(),
      since: z.string(),
      incident: z.number().optional(),
    }),
  ),
  alarms: z.array(
    z.object({
      id: z.string(),
      zone: z.string(),
      priority: z.string(),
      state: z.string(),
      active: z.boolean(),
      since: z.string(),
      message: z.string(),
    }),
  ),
  triggers: z.array(z.object({ id: z.string(), zone: z.string(), incident: z.number(), issuedAt: z.string(), ackBy: z.string() })),
});
export type ParsedStatus = z.infer<typeof statusResultSchema>;
