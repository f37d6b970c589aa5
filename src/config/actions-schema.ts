// The `actions:` section of the site config (README "Protective actions"): interlocked, verified
// device writes bound to a zone's stage. Checked here for shape; ./actions.ts checks them against
// the devices, profiles and zones and builds the typed ProtectiveAction list.
import { z } from "zod";

const id = z.string().max(128, "must be at most 128 characters").regex(/^[A-Za-z0-9_-]+$/, "use letters, digits, '_' and '-' only");

/** The kinds firebreak ships; the kind names the purpose in logs and events, the write is the profile's. */
export const actionKinds = ["open_string_contactor", "stop_recirculation", "close_damper"] as const;

const readBack = z
  .object({
    /** A point of the same device, as the device's points are named (`s1/contactorClosed`). */
    point: z.string().min(1),
    value: z.number().finite(),
    /** |read - value| <= tolerance confirms (a current "about 0" is `value: 0, tolerance: 0.5`). */
    tolerance: z.number().finite().min(0).default(0),
  })
  .strict();

export const actionSchema = z
  .object({
    id,
    description: z.string().optional(),
    kind: z.enum(actionKinds),
    device: id,
    /** The raw value written to a writable point of the device's profile: 0/1 for a coil, the register value otherwise. */
    write: z.object({ point: z.string().min(1), value: z.number().int() }).strict(),
    /** What the device must read back once it has carried the write out; every entry must hold. */
    expect: z.array(readBack).min(1, "an action is verified by read-back: name at least one point and the value it must read"),
    /** The zone stage the action is bound to: it runs when the zone reaches this stage or a higher one. */
    on: z.object({ zone: id, stage: z.string().min(1) }).strict(),
    enabled: z.boolean().default(false),
    /** Log and publish what would be written, write nothing. On by default: a new action is watched before it acts. */
    dry_run: z.boolean().default(true),
    /**
     * Must hold at the moment of the write: the bound zone at `zone_stage` or higher, with at least
     * `min_knocks` independent knocks at alarm (README "Knocks"). Two at least: never one sensor.
     */
    interlock: z
      .object({
        zone_stage: z.string().min(1),
        min_knocks: z.number().int().min(2, "an interlock needs two independent knocks at least: never one sensor").max(16),
      })
      .strict()
      .optional(),
    verify: z
      .object({
        /** Read-backs after the write before the action is called unconfirmed. */
        retries: z.number().int().min(1).max(100).default(5),
        /** Between read-backs: one poll interval of the device is the natural figure. */
        interval_ms: z.number().int().min(50).max(600_000).default(1000),
        /** Bound on the whole verification, write included. */
        timeout_ms: z.number().int().min(100).max(3_600_000).default(10_000),
      })
      .strict()
      .default({ retries: 5, interval_ms: 1000, timeout_ms: 10_000 }),
    /** At most `max` attempts (writes and dry runs) in any `per_s` seconds [operational choice: once per 5 minutes]. */
    rate_limit: z
      .object({ max: z.number().int().min(1).max(100).default(1), per_s: z.number().int().min(1).max(86_400).default(300) })
      .strict()
      .default({ max: 1, per_s: 300 }),
  })
  .strict()
  .refine((a) => !a.enabled || a.interlock !== undefined, {
    message: "an enabled action needs an interlock (e.g. interlock: { zone_stage: evacuate, min_knocks: 2 }): firebreak never writes to a device on one sensor's word",
    path: ["interlock"],
  });

export type ActionParsed = z.output<typeof actionSchema>;
