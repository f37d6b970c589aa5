// Rate-of-rise rule: the least-squares slope of each point's good samples over a window, per minute.
// Too few samples (or too short a span) is "not enough data": neither active nor a pass, and a fault
// only when the point itself is not good (e.g. just after start-up, history is still filling).
import type { RaisedStage, RateOfRiseRule } from "../config/types.js";
import type { Evidence } from "../events.js";
import type { HistorySample, Trend } from "../points/store.js";
import { ConditionTable } from "./delay.js";
import { faultOf, pointRuleResult, PointRefs, type PointReader, type RuleEvaluator, type RuleResult } from "./result.js";

const MS_PER_MIN = 60_000;

/** Least-squares slope in value units per ms; centred on the means so epoch-sized times keep precision. */
export function leastSquaresSlope(samples: readonly HistorySample[]): number {
  const n = samples.length;
  let tMean = 0;
  let vMean = 0;
  for (const s of samples) {
    tMean += s.t;
    vMean += s.v;
  }
  tMean /= n;
  vMean /= n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    const dt = s.t - tMean;
    num += dt * (s.v - vMean);
    den += dt * dt;
  }
  return den === 0 ? 0 : num / den;
}

/** The trend of samples already copied out (for readers without PointStore.trend). */
function trendOf(samples: readonly HistorySample[]): Trend {
  const spanMs = samples.length > 0 ? samples[samples.length - 1]!.t - samples[0]!.t : 0;
  return { samples: samples.length, spanMs, slopePerMs: samples.length > 0 ? leastSquaresSlope(samples) : 0, ...(samples.length > 0 ? { firstMs: samples[0]!.t } : {}) };
}

/**
 * Why points sampled every `intervalMs` can never give this rule a verdict, or undefined when they
 * can. The rule judges only with at least `minSamples` good samples in its window spanning at least
 * half of it (evaluate() below); a window holds at most floor(window / interval) + 1 samples.
 */
export function sampleSpanProblem(windowMs: number, minSamples: number, intervalMs: number): string | undefined {
  if (!(intervalMs > 0)) return undefined;
  const most = Math.floor(windowMs / intervalMs) + 1;
  const span = (most - 1) * intervalMs;
  if (most < minSamples) return `a ${windowMs / 1000} s window holds at most ${most} samples at one every ${intervalMs / 1000} s, fewer than min_samples ${minSamples}`;
  if (span < windowMs / 2) return `samples every ${intervalMs / 1000} s span at most ${span / 1000} s of the ${windowMs / 1000} s window, less than the half (${windowMs / 2000} s) the rule needs`;
  return undefined;
}

export function rateOfRiseEvaluator(rule: RateOfRiseRule): RuleEvaluator {
  const conditions = new ConditionTable(rule);
  const stage: RaisedStage = rule.stage;
  const refs = new PointRefs(rule.points);
  /** After this time a sample leaves some point's window: the result can change with no new reading. */
  let slidesAfter = -Infinity;
  return {
    rule,
    watchedPoints: rule.points,
    pending: () => conditions.pending,
    dueAfter: () => slidesAfter,
    evaluate(store: PointReader, now: number): RuleResult {
      slidesAfter = Infinity;
      const faults: Evidence[] = [];
      const hits: { rate: number; evidence: Evidence }[] = [];
      for (let pi = 0; pi < rule.points.length; pi++) {
        const point = rule.points[pi]!;
        const value = refs.goodValue(store, pi, now);
        if (value === undefined) {
          faults.push(faultOf(rule.id, point, refs.read(store, pi, now)));
          conditions.drop(point);
          continue;
        }
        const { samples, spanMs, slopePerMs, firstMs } = refs.trend(store, pi, now - rule.windowMs) ?? trendOf(store.history(point, now - rule.windowMs));
        // The oldest sample stays in the window while now - windowMs <= firstMs.
        if (samples > 0) slidesAfter = Math.min(slidesAfter, firstMs === undefined ? -Infinity : firstMs + rule.windowMs);
        if (samples < rule.minSamples || spanMs < rule.windowMs / 2) {
          conditions.drop(point); // not enough data: no judgement either way
          continue;
        }
        const ratePerMin = slopePerMs * MS_PER_MIN;
        if (conditions.step(point, ratePerMin > rule.ratePerMin, now)) {
          hits.push({
            rate: ratePerMin,
            evidence: { rule: rule.id, point, value, quality: "good", ratePerMin, threshold: rule.ratePerMin },
          });
        }
      }
      return pointRuleResult(rule, hits.length > 0 ? stage : undefined, hits, (h) => h.rate, faults);
    },
  };
}
