// The `alarms:` section of the site config: chattering filter, flood accounting and shelving
// limits for the ISA-18.2 lifecycle in src/alarms/. Every default carries its source.
import { z } from "zod";

/** The defaults, in the user's YAML units. */
export const alarmDefaults = {
  chatter: {
    /**
     * More than this many condition changes within `window_s` is chattering. 4 changes in 60 s means
     * the third occurrence within a minute is flagged: "an alarm that occurs and clears three or more
     * times in a minute" is the usual starting criterion (PAS, "Fixing chattering and fleeting alarms",
     * used with ISA-18.2 alarm-system monitoring; EEMUA 191 names chattering alarms as a defect to remove).
     */
    max_changes: 4,
    window_s: 60,
  },
  flood: {
    /** ISA-18.2: an alarm flood is "more than 10 alarms per 10 minutes" per operator. */
    per_10_min: 10,
    /** ISA-18.2 flood accounting ends the flood when fewer than 5 alarms fell in the last 10 minutes. */
    end_below_per_10_min: 5,
  },
  shelving: {
    /** ISA-18.2 asks shelving to be time-limited; one 8-hour operator shift [operational choice]. */
    max_duration_s: 8 * 3600,
  },
} as const;

export const alarmsSchema = z
  .object({
    chatter: z
      .object({
        max_changes: z.number().int().min(1).default(alarmDefaults.chatter.max_changes),
        window_s: z.number().finite().gt(0).default(alarmDefaults.chatter.window_s),
      })
      .strict()
      .default(alarmDefaults.chatter),
    flood: z
      .object({
        per_10_min: z.number().int().min(1).default(alarmDefaults.flood.per_10_min),
        end_below_per_10_min: z.number().int().min(1).default(alarmDefaults.flood.end_below_per_10_min),
      })
      .strict()
      .refine((f) => f.end_below_per_10_min <= f.per_10_min + 1, { message: "end_below_per_10_min must not exceed per_10_min + 1 (a flood must be able to end)" })
      .default(alarmDefaults.flood),
    shelving: z
      .object({ max_duration_s: z.number().finite().gt(0).default(alarmDefaults.shelving.max_duration_s) })
      .strict()
      .default(alarmDefaults.shelving),
  })
  .strict()
  .prefault({}); // zod 4: prefault parses {} so every nested default applies

export type AlarmsParsed = z.output<typeof alarmsSchema>;

/** The typed `alarms` config (ms, camelCase). */
export interface AlarmsConfig {
  readonly chatter: { readonly maxChanges: number; readonly windowMs: number };
  readonly flood: { readonly per10Min: number; readonly endBelowPer10Min: number };
  readonly shelving: { readonly maxDurationMs: number };
}

export function toAlarmsConfig(a: AlarmsParsed): AlarmsConfig {
  return {
    chatter: { maxChanges: a.chatter.max_changes, windowMs: a.chatter.window_s * 1000 },
    flood: { per10Min: a.flood.per_10_min, endBelowPer10Min: a.flood.end_below_per_10_min },
    shelving: { maxDurationMs: a.shelving.max_duration_s * 1000 },
  };
}

/** What a site config without an `alarms:` section gets. */
export const defaultAlarmsConfig: AlarmsConfig = toAlarmsConfig(alarmsSchema.parse(undefined));
