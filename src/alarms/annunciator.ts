// Every alarm of the room, keyed by id: advances them from rule results and takes acknowledgments.
// Alarms come into being on their first activation; the whole map is plain records (serializable).
import type { Rule } from "../config/types.js";
import type { AlarmChange } from "../events.js";
import type { RuleResult } from "../rules/result.js";
import { acknowledgeAlarm, alarmInputs, stepAlarm, type AlarmRecord } from "./lifecycle.js";

export class Annunciator {
  readonly #alarms = new Map<string, AlarmRecord>();
  readonly #rules: ReadonlyMap<string, Rule>;

  constructor(rules: readonly Rule[]) {
    this.#rules = new Map(rules.map((r) => [r.id, r]));
  }

  /** Advance every alarm by its rule's result; events in result order, condition before fault. */
  update(results: readonly RuleResult[], now: number): AlarmChange[] {
    const events: AlarmChange[] = [];
    for (const r of results) {
      const rule = this.#rules.get(r.rule);
      if (rule === undefined) continue; // results only come from configured rules
      for (const input of alarmInputs(rule, r)) {
        const step = stepAlarm(this.#alarms.get(input.id), input, now);
        if (step.state !== undefined) this.#alarms.set(input.id, step.state);
        events.push(...step.events);
      }
    }
    return events;
  }

  acknowledge(alarmId: string, now: number, by: string): AlarmChange[] {
    const prev = this.#alarms.get(alarmId);
    if (prev === undefined) return [];
    const step = acknowledgeAlarm(prev, now, by);
    this.#alarms.set(alarmId, step.state);
    return step.events;
  }

  /** Continue from stored records (before the first update): nothing already announced is announced again. */
  restore(records: readonly AlarmRecord[]): void {
    for (const r of records) if (this.#rules.has(r.rule)) this.#alarms.set(r.id, r);
  }

  get(alarmId: string): AlarmRecord | undefined {
    return this.#alarms.get(alarmId);
  }

  /** Alarms not in `normal`: what stays retained on MQTT. */
  standing(): AlarmRecord[] {
    return [...this.#alarms.values()].filter((a) => a.state !== "normal");
  }

  /** All records, for persistence. */
  all(): AlarmRecord[] {
    return [...this.#alarms.values()];
  }
}
