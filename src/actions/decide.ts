// What a protective action does now (README "Protective actions"): nothing while disabled or below
// its bound stage; once per episode at or above it (an episode ends when the zone falls below the
// bound stage, after an operator's clear), refused while its interlock does not hold or past its rate
// limit, else a dry run or a write. A refusal is reported once per reason, not on every tick. Pure:
// the action's memory, the zone's stage and rule results and `now` in; a decision and the new memory out.
import type { ProtectiveAction, Stage, Zone } from "../config/types.js";
import { stageRank, type RuleResult } from "../rules/result.js";
import { judgeInterlock } from "./interlock.js";
import { checkRate } from "./rate-limit.js";

/** What the executor remembers of one action; rebuilt from the audit after a restart (./memory.ts). */
export interface ActionMemory {
  /** Performed (dry run, or a write decided) in the current episode: not again until re-armed. */
  readonly fired: boolean;
  /** Times of the attempts (dry runs and writes) still inside the rate window. */
  readonly attempts: readonly number[];
  /** The refusal last reported in this episode, so a standing refusal is not repeated every tick. */
  readonly lastRefusal?: string;
}

export const FRESH: ActionMemory = { fired: false, attempts: [] };

export type RefusalCode = "interlock" | "rate_limit";

export type Decision =
  | { readonly kind: "idle" }
  | { readonly kind: "rearm" }
  | { readonly kind: "refused"; readonly code: RefusalCode; readonly detail: string; readonly knocks: readonly string[] }
  | { readonly kind: "dry_run"; readonly knocks: readonly string[] }
  | { readonly kind: "write"; readonly knocks: readonly string[] };

export interface Decided {
  readonly decision: Decision;
  readonly memory: ActionMemory;
}

export function decide(action: ProtectiveAction, mem: ActionMemory, zone: Zone, stage: Stage | undefined, results: readonly RuleResult[], now: number): Decided {
  // A disabled action is inert: no decision, no event (the example site carries one; its demo is unchanged).
  if (!action.enabled) return { decision: { kind: "idle" }, memory: mem };
  const bound = stage !== undefined && stageRank(stage) >= stageRank(action.on.stage);
  if (!bound) {
    if (mem.fired) return { decision: { kind: "rearm" }, memory: { fired: false, attempts: mem.attempts } };
    return { decision: { kind: "idle" }, memory: mem.lastRefusal === undefined ? mem : { fired: false, attempts: mem.attempts } };
  }
  if (mem.fired) return { decision: { kind: "idle" }, memory: mem };
  const refuse = (code: RefusalCode, detail: string, knocks: readonly string[]): Decided => {
    const key = `${code}:${detail}`;
    if (mem.lastRefusal === key) return { decision: { kind: "idle" }, memory: mem };
    return { decision: { kind: "refused", code, detail, knocks }, memory: { ...mem, lastRefusal: key } };
  };
  const lock = judgeInterlock(action, zone, stage, results);
  if (!lock.holds) return refuse("interlock", `interlock does not hold: ${lock.reason}`, lock.knocks);
  const rate = checkRate(mem.attempts, action.rateLimit, now);
  if (!rate.allowed) return refuse("rate_limit", `rate limit: ${action.rateLimit.max} attempt(s) per ${action.rateLimit.perMs / 1000} s reached; next allowed at ${new Date(rate.nextAt ?? now).toISOString()}`, lock.knocks);
  const memory: ActionMemory = { fired: true, attempts: [...rate.recent, now] };
  return { decision: action.dryRun ? { kind: "dry_run", knocks: lock.knocks } : { kind: "write", knocks: lock.knocks }, memory };
}
