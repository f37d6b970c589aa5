// Comm-loss rule: a device whose points ALL read bad because it does not answer (comm_fail, timeout),
// answers only with Modbus exceptions (device_exception) or has gone silent (stale) for at least
// `afterMs` is active trouble. A device point that reads bad/config (the Modbus driver's `layout`
// point, listed first, when the device holds more than its config watches) is a fault of the rule. It never raises a stage: it
// marks the zone's sensing as degraded (fault), which is trouble, not fire.
import type { CommLossRule } from "../config/types.js";
import type { Evidence } from "../events.js";
import type { QualityReason } from "../points/point.js";
import { ConditionTable } from "./delay.js";
import type { PointReader, RuleEvaluator, RuleResult } from "./result.js";

/** Reasons that mean "the device is not talking to us" (an exception to every request included), as opposed to a bad reading from a live device. */
const SILENT_REASONS: ReadonlySet<QualityReason> = new Set<QualityReason>(["comm_fail", "timeout", "stale", "device_exception"]);

export function commLossEvaluator(rule: CommLossRule, devicePoints: ReadonlyMap<string, readonly string[]>): RuleEvaluator {
  const conditions = new ConditionTable({ onDelayMs: rule.afterMs, offDelayMs: 0 });
  const devices = rule.devices.map((id) => ({ id, points: devicePoints.get(id) ?? [] }));
  return {
    rule,
    watchedPoints: devices.flatMap((d) => d.points),
    pending: () => conditions.pending,
    evaluate(store: PointReader, now: number): RuleResult {
      const evidence: Evidence[] = [];
      const faults: Evidence[] = [];
      for (const d of devices) {
        if (d.points.length === 0) {
          // A device with no points cannot be watched: that is a config fault, never a silent pass.
          faults.push({ rule: rule.id, point: d.id, quality: "bad", reason: "config", detail: `device ${d.id} has no points to watch` });
          continue;
        }
        let silent = true;
        let reason: string | undefined;
        let detail: string | undefined;
        for (const p of d.points) {
          const v = store.read(p, now);
          if (v.quality !== "bad" || v.reason === undefined || !SILENT_REASONS.has(v.reason)) {
            silent = false;
            if (v.quality === "bad" && v.reason === "config") faults.push({ rule: rule.id, device: d.id, point: p, quality: "bad", reason: "config", ...(v.detail !== undefined ? { detail: v.detail } : {}) });
            break;
          }
          reason ??= v.reason;
          detail ??= v.detail;
        }
        if (conditions.step(d.id, silent, now)) {
          evidence.push({
            rule: rule.id,
            device: d.id,
            point: d.id,
            quality: "bad",
            reason: reason ?? "comm_fail",
            detail: `all ${d.points.length} points bad for at least ${rule.afterMs / 1000} s${detail === undefined ? "" : `: ${detail}`}`,
          });
        }
      }
      return { rule: rule.id, zone: rule.zone, kind: rule.kind, active: evidence.length > 0, evidence, faults };
    },
  };
}
