// A small room for the alarm-lifecycle tests: rules of every alarm kind, and rule results built
// by name, so tests read as "og goes active at alarm", "det1 stops answering".
import type { AlarmsConfig } from "../../src/config/alarms-schema.js";
import { defaultAlarmsConfig } from "../../src/config/alarms-schema.js";
import type { RaisedStage } from "../../src/config/types.js";
import { Annunciator } from "../../src/alarms/annunciator.js";
import type { RuleResult } from "../../src/rules/result.js";
import { commLossRule, offgasRule, thresholdRule } from "./fixtures-rules.js";

export { T0 } from "./fixtures-rules.js";

export const MIN = 60_000;

/** og: off-gas in z1 (pre_alarm, alarm); ev: cell temperature in z1 that can evacuate (life safety);
 * comm: det1 silent (trouble); t2: a threshold in z2; hot: z2 with a configured critical priority. */
export const rules = [
  offgasRule({ id: "og", points: ["det1/ppm"] }),
  thresholdRule({ id: "ev", points: ["cab1/tempC"], levels: [{ name: "high", value: 40, stage: "alarm" }, { name: "high_high", value: 60, stage: "evacuate" }] }),
  commLossRule({ id: "comm", devices: ["det1"] }),
  thresholdRule({ id: "t2", zone: "z2", points: ["cab2/tempC"], levels: [{ name: "high", value: 40, stage: "alarm" }] }),
  thresholdRule({ id: "hot", zone: "z2", points: ["cab2/tempC"], levels: [{ name: "high", value: 50, stage: "pre_alarm" }], priority: "critical" }),
];

export const POINT: Record<string, string> = { og: "det1/ppm", ev: "cab1/tempC", comm: "det1", t2: "cab2/tempC", hot: "cab2/tempC" };
const KIND: Record<string, RuleResult["kind"]> = { og: "offgas", ev: "threshold", comm: "comm_loss", t2: "threshold", hot: "threshold" };
const ZONE: Record<string, string> = { og: "z1", ev: "z1", comm: "z1", t2: "z2", hot: "z2" };

export function annunciator(config: Partial<AlarmsConfig> = {}): Annunciator {
  return new Annunciator(rules, { zones: ["z1", "z2", "z3"], devices: ["det1", "cab1", "cab2", "spare"], config: { ...defaultAlarmsConfig, ...config } });
}

/** Rule `rule` active at `stage` (comm_loss: active with no stage), or clear; `faults` bad points of its own device. */
export function res(rule: string, stage: RaisedStage | "off", faults = 0): RuleResult {
  const active = stage !== "off";
  const kind = KIND[rule]!;
  return {
    rule,
    zone: ZONE[rule]!,
    kind,
    active,
    ...(active && kind !== "comm_loss" ? { stage } : {}),
    evidence: active ? [{ rule, point: POINT[rule]!, value: 1, quality: "good" }] : [],
    faults: Array.from({ length: faults }, () => ({ rule, point: POINT[rule]!, quality: "bad" as const, reason: "stale" })),
  };
}
