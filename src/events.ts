// What the deciding core (rules -> zones -> alarms -> evacuation) hands to the outputs. Outputs
// know these types and nothing of drivers or rules (README.md#how-the-code-is-laid-out).
import type { RaisedStage, Stage } from "./config/types.js";
import type { Quality, QualityReason } from "./points/point.js";

/** One reason a rule is active or in fault: which point, what it read, and what it was compared to. */
export interface Evidence {
  readonly rule: string;
  readonly point?: string;
  readonly value?: number | null;
  readonly quality?: Quality;
  readonly reason?: QualityReason | string;
  /** Rule-specific figures: groupMedian, baseline, ratePerMin, threshold … */
  readonly [figure: string]: unknown;
}

export interface ZoneStageChange {
  readonly type: "zone_stage";
  readonly zone: string;
  readonly stage: Stage;
  readonly previous: Stage;
  /** Stages passed over when escalation jumped more than one step: never skipped silently. */
  readonly skipped: readonly Stage[];
  /** Clock time of the change, ms. */
  readonly since: number;
  readonly fault: boolean;
  readonly faults: readonly Evidence[];
  readonly evidence: readonly Evidence[];
  /** Not judged since this daemon started and nothing stored: published as stage `unknown`, never as normal. */
  readonly unjudged?: true;
  /** The zone's first verdict: it was published as not yet judged until now (`previous` is then `unknown`). */
  readonly firstJudgement?: true;
}

/** The zone's sensing went degraded or recovered, without a stage change. */
export interface ZoneFaultChange {
  readonly type: "zone_fault";
  readonly zone: string;
  readonly stage: Stage;
  readonly fault: boolean;
  readonly since: number;
  readonly faults: readonly Evidence[];
}

export type AlarmPriority = "critical" | "high" | "medium" | "low";
/**
 * ISA-18.2 / IEC 62682 alarm states (src/alarms/lifecycle.ts). `shelved`, `suppressed` and
 * `out_of_service` hide an alarm from the operator while its condition is still tracked in `active`.
 */
export type AlarmStateName = "normal" | "unack" | "ack" | "rtn_unack" | "shelved" | "suppressed" | "out_of_service";
/**
 * `condition`: the process (fire risk); `trouble`: firebreak's own sensing is degraded;
 * `supervisory`: a protection system reports itself off-normal (the panel's agent low pressure,
 * abort held), raised only by `state` rules that say so (README "State rules").
 */
export type AlarmClass = "condition" | "trouble" | "supervisory";

/** An operator shelved the alarm until `until` (clock ms); `at` is when. */
export interface AlarmShelf {
  readonly by: string;
  readonly at: number;
  readonly until: number;
  readonly reason: string;
}

/** Suppressed by design: the alarm's zone is in maintenance (optionally until `until`). */
export interface AlarmSuppression {
  readonly zone: string;
  readonly by: string;
  readonly at: number;
  readonly until?: number;
  readonly reason: string;
}

/** Out of service: the alarm itself, or (with `devices`) the only devices its evidence concerns. */
export interface AlarmOutOfService {
  readonly by: string;
  readonly at: number;
  readonly reason: string;
  readonly devices?: readonly string[];
}

/** The alarm changed state more than the chatter limit allows: `count` changes in the window, chattering since `since`. */
export interface AlarmChatter {
  readonly count: number;
  readonly since: number;
}

export interface AlarmState {
  readonly id: string;
  readonly rule: string;
  readonly zone: string;
  readonly class: AlarmClass;
  readonly priority: AlarmPriority;
  readonly state: AlarmStateName;
  /** The underlying condition, tracked in every state (also while shelved, suppressed or out of service). */
  readonly active: boolean;
  /** The stage an active condition alarm raises. */
  readonly stage?: RaisedStage;
  readonly latched: boolean;
  /** Clock time of the last state change, ms. */
  readonly since: number;
  readonly message: string;
  readonly evidence: readonly Evidence[];
  /** Why the last transition happened ("condition active: …", "acknowledged by alice", "shelf expired"). */
  readonly reason?: string;
  readonly ackedBy?: string;
  readonly ackedAt?: number;
  readonly shelved?: AlarmShelf;
  readonly suppressed?: AlarmSuppression;
  readonly outOfService?: AlarmOutOfService;
  readonly chattering?: AlarmChatter;
}

export interface AlarmChange {
  readonly type: "alarm";
  readonly alarm: AlarmState;
  readonly previous: AlarmStateName;
  /** Why this transition happened; the same text as `alarm.reason`. */
  readonly reason: string;
}

export interface EvacuationTrigger {
  readonly type: "evacuate";
  /** Deterministic from site, zone and incident number: `<site>:<zone>:<incident, 4 digits>`. */
  readonly id: string;
  readonly zone: string;
  readonly incident: number;
  readonly racks: readonly string[];
  readonly hosts: readonly string[];
  readonly reason: string;
  readonly evidence: readonly Evidence[];
  readonly issuedAt: number;
  readonly ackBy: number;
  /** Each host's rack, so a consumer can pass it to its action (absent in triggers stored by older versions). */
  readonly rackOf?: Readonly<Record<string, string>>;
  /** 1 for the first announcement; a re-announcement (same id and issuedAt, signed anew) counts up. */
  readonly announcement?: number;
  /**
   * Clock ms by which the room may be flooded and its power cut: the earliest `deadline` in the
   * evidence (a panel's pre-release countdown, from the reading's time plus the seconds it said
   * were left). Absent when no evidence carries one.
   */
  readonly deadline?: number;
}

/** One consumer's last acknowledgment of a trigger, as the tracker keeps it (src/evacuation/tracker.ts). */
export interface ConsumerAckState {
  readonly state: "accepted" | "progress" | "done" | "failed";
  readonly done: readonly string[];
  readonly failed: readonly string[];
  readonly reason?: string;
  /** The consumer's own time of the acknowledgment (wall clock), ms: orders its acknowledgments. */
  readonly ts: number;
  /** When the daemon received it, on the daemon's clock. */
  readonly receivedAt: number;
}

/** Where the evacuation of a zone stands across its consumers: `evacuate/<zone>/status`, retained. */
export interface EvacuationStatus {
  readonly type: "evacuation_status";
  readonly zone: string;
  /** The trigger id; with `closed`, the trigger whose incident an operator closed. */
  readonly id: string;
  /** waiting: not every required consumer accepted yet; unacknowledged: and ackBy has passed. */
  readonly state: "waiting" | "unacknowledged" | "accepted" | "progress" | "done" | "failed" | "no_consumers";
  readonly issuedAt: number;
  readonly ackBy: number;
  readonly announcements: number;
  readonly required: readonly string[];
  /** Required consumers that have not accepted yet. */
  readonly missing: readonly string[];
  readonly consumers: Readonly<Record<string, ConsumerAckState>>;
  /** Hosts some consumer reported failed. */
  readonly failedHosts: readonly string[];
  readonly since: number;
  /** The incident was closed: the retained status is removed. */
  readonly closed?: true;
}

/** An operator's clear closed the zone's incident: its retained trigger is removed; the next evacuation is a new incident. */
export interface IncidentClosed {
  readonly type: "incident_closed";
  readonly zone: string;
  /** The trigger id of the closed incident. */
  readonly id: string;
  readonly incident: number;
  readonly by: string;
  readonly since: number;
}

/** An operator command and what became of it (accepted, or refused with a code), for the record on `events`. */
export interface CommandOutcome {
  readonly type: "command";
  readonly requestId?: string;
  readonly verb: string;
  readonly by?: string;
  readonly ok: boolean;
  readonly code?: string;
  readonly detail: string;
  readonly since: number;
}

/**
 * One step of a protective action (src/actions/, README "Protective actions"), for the record on
 * `events`, in the log and in the state store's `actions` table. `decided`: the write is about to be
 * sent; `dry_run`: what would have been written; `written`: the device echoed it; `confirmed`: the
 * read-back holds; `failed`: not written or not confirmed (the critical `action-unconfirmed` alarm);
 * `refused`: interlock or rate limit (a disabled action is inert); `rearmed`: the zone fell below the bound stage.
 */
export type ActionOutcomeName = "decided" | "dry_run" | "written" | "confirmed" | "failed" | "refused" | "rearmed";

export interface ActionReadBack {
  readonly point: string;
  readonly expected: number;
  readonly value: number | null;
  readonly quality: Quality;
  readonly ok: boolean;
}

export interface ActionEvent {
  readonly type: "action";
  readonly action: string;
  readonly kind: string;
  readonly device: string;
  readonly point: string;
  readonly value: number;
  readonly zone: string;
  /** The zone's stage when this step was taken. */
  readonly stage: Stage;
  readonly outcome: ActionOutcomeName;
  /** refused: interlock | rate_limit; failed: write_failed | unconfirmed. */
  readonly code?: string;
  readonly detail: string;
  readonly dryRun: boolean;
  /** The knocks sounding when the interlock was judged. */
  readonly knocks?: readonly string[];
  readonly readBack?: readonly ActionReadBack[];
  readonly incident?: number;
  readonly since: number;
}

export type CoreEvent = ZoneStageChange | ZoneFaultChange | AlarmChange | EvacuationTrigger | EvacuationStatus | IncidentClosed | CommandOutcome | ActionEvent;
