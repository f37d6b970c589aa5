// An action's memory rebuilt from its audit trail (the state store's `actions` table), so that a
// restarted daemon neither repeats an action already performed in the current episode nor forgets
// a write whose read-back it had not finished. Pure: rows in, memory out.
import type { ActionOutcomeName } from "../events.js";
import { FRESH, type ActionMemory } from "./decide.js";

/** One audited step of an action, as the state store keeps it. */
export interface ActionAuditRow {
  readonly at: number;
  readonly action: string;
  readonly outcome: ActionOutcomeName;
  readonly code?: string;
  readonly detail: string;
}

export interface Recalled {
  readonly memory: ActionMemory;
  /** A write was decided or sent and no confirmation or failure followed: verify it (read-back only, never write again). */
  readonly unverified: boolean;
}

/** `rows` of one action, oldest first. */
export function recall(rows: readonly ActionAuditRow[]): Recalled {
  let fired = false;
  let unverified = false;
  let lastRefusal: string | undefined;
  const attempts: number[] = [];
  for (const r of rows) {
    switch (r.outcome) {
      case "rearmed":
        fired = false;
        unverified = false;
        lastRefusal = undefined;
        break;
      case "dry_run":
        fired = true;
        attempts.push(r.at);
        break;
      case "decided":
        fired = true;
        unverified = true;
        attempts.push(r.at);
        break;
      case "written":
        fired = true;
        break;
      case "confirmed":
      case "failed":
        fired = true;
        unverified = false;
        break;
      case "refused":
        lastRefusal = `${r.code ?? ""}:${r.detail}`;
        break;
    }
  }
  const memory: ActionMemory = { ...FRESH, fired, attempts, ...(lastRefusal === undefined ? {} : { lastRefusal }) };
  return { memory, unverified };
}
