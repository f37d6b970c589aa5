// Stuck-sensor rule: a point whose good readings stay within its resolution for longer than
// `flatMs` (and, if set, for at least `minReadings` readings) while its peers (the other points of
// its group, or its neighbours in the group) moved by the resolution in that time. A stuck sensor is
// trouble and blinds its knock; never a stage. Peers must move because a quiet room is flat
// everywhere: flat alone proves nothing. Readings count because a good sensor's last count
// flickers: its chance of a flat run falls with each reading, not with each second.
import type { StuckRule } from "../config/types.js";
import type { Evidence } from "../events.js";
import { ConditionTable } from "./delay.js";
import { groupKey } from "./deviation.js";
import { faultOf, PointRefs, worst, type PointReader, type RuleEvaluator, type RuleResult } from "./result.js";

/** Points of one group in key order with numbers compared as numbers (c2 before c10): neighbours in a module. */
const byKey = (keys: readonly string[]) => (a: number, b: number) => keys[a]!.localeCompare(keys[b]!, "en", { numeric: true });

/** For every point, the indices of the peers it is compared with. */
export function peersOf(rule: Pick<StuckRule, "points" | "groupByTrim" | "peers">): number[][] {
  const groups = new Map<string, number[]>();
  rule.points.forEach((p, i) => {
    const g = groupKey(p, rule.groupByTrim);
    const members = groups.get(g);
    if (members === undefined) groups.set(g, [i]);
    else members.push(i);
  });
  const peers: number[][] = rule.points.map(() => []);
  for (const members of groups.values()) {
    members.sort(byKey(rule.points));
    members.forEach((i, at) => {
      peers[i] = rule.peers === "group" ? members.filter((j) => j !== i) : [members[at - 1], members[at + 1]].filter((j): j is number => j !== undefined);
    });
  }
  return peers;
}

export function stuckEvaluator(rule: StuckRule): RuleEvaluator {
  const conditions = new ConditionTable(rule);
  const refs = new PointRefs(rule.points);
  const peers = peersOf(rule);
  const n = rule.points.length;
  // Per point: the value its flat run started at (NaN: no good reading), when that run started (the
  // first good reading or the last move), and when it last moved (-Infinity: not since it was good).
  const anchor = new Float64Array(n).fill(Number.NaN);
  const flatSince = new Float64Array(n);
  const movedAt = new Float64Array(n).fill(-Infinity);
  const values = new Float64Array(n);
  // Per point, with minReadings: the source time of the last reading counted and the readings since the flat run began.
  const minReadings = rule.minReadings ?? 0;
  const lastTs = new Float64Array(n).fill(-Infinity);
  const readings = new Float64Array(n);
  // Readings 0.1 apart are 0.0999999… apart in binary floating point: a step of one resolution must count.
  const step = rule.resolution * (1 - 1e-9);
  let changesAfter = Infinity;
  return {
    rule,
    watchedPoints: rule.points,
    pending: () => conditions.pending,
    dueAfter: () => changesAfter,
    evaluate(store: PointReader, now: number): RuleResult {
      const faults: Evidence[] = [];
      for (let i = 0; i < n; i++) {
        const value = refs.goodValue(store, i, now);
        if (value === undefined) {
          faults.push(faultOf(rule.id, rule.points[i]!, refs.read(store, i, now)));
          anchor[i] = Number.NaN;
          movedAt[i] = -Infinity;
          lastTs[i] = -Infinity;
          conditions.drop(i);
          continue;
        }
        values[i] = value;
        // With minReadings: a new reading (not the same one evaluated again after another device's poll).
        const ts = minReadings > 0 ? refs.read(store, i, now).sourceTs : 0;
        const fresh = ts > lastTs[i]!;
        lastTs[i] = ts;
        if (Number.isNaN(anchor[i]!)) {
          anchor[i] = value;
          flatSince[i] = now;
          readings[i] = 0;
        } else if (Math.abs(value - anchor[i]!) >= step) {
          anchor[i] = value;
          flatSince[i] = now;
          movedAt[i] = now;
          readings[i] = 0;
        } else if (fresh) {
          readings[i]!++;
        }
      }
      const windowStart = now - rule.flatMs;
      const hits: { flatMs: number; evidence: Evidence }[] = [];
      changesAfter = Infinity;
      for (let i = 0; i < n; i++) {
        if (Number.isNaN(anchor[i]!)) continue;
        // The result changes by time alone when a flat run passes flatMs or a move leaves the window.
        const flatEnds = flatSince[i]! + rule.flatMs;
        const moveLeaves = movedAt[i]! + rule.flatMs;
        if (flatEnds >= now && flatEnds < changesAfter) changesAfter = flatEnds;
        if (moveLeaves >= now && moveLeaves < changesAfter) changesAfter = moveLeaves;
        const mine = peers[i]!;
        if (mine.length < rule.minMovingPeers) continue; // too few peers to judge (e.g. a module's end cell with adjacent peers)
        const flatMs = now - flatSince[i]!;
        let movingCount = 0;
        if (flatMs > rule.flatMs && readings[i]! >= minReadings) for (const j of mine) if (movedAt[j]! >= windowStart) movingCount++;
        if (!conditions.step(i, movingCount >= rule.minMovingPeers, now)) continue;
        const moving = mine.filter((j) => movedAt[j]! >= windowStart);
        const names = moving.slice(0, 3).map((j) => rule.points[j]!);
        hits.push({
          flatMs,
          evidence: {
            rule: rule.id,
            point: rule.points[i]!,
            value: values[i]!,
            quality: "good",
            reason: "stuck",
            flatForS: Math.round(flatMs / 1000),
            resolution: rule.resolution,
            movingPeers: moving.length,
            ...(minReadings > 0 ? { readings: readings[i]! } : {}),
            detail: `no change of ${rule.resolution} in ${Math.round(flatMs / 1000)} s${minReadings > 0 ? ` (${readings[i]!} readings)` : ""} while ${moving.length} of its ${mine.length} peers moved (${names.join(", ")}${moving.length > 3 ? ", …" : ""})`,
          },
        });
      }
      const evidence = worst(hits, (h) => h.flatMs).map((h) => h.evidence);
      return { rule: rule.id, zone: rule.zone, kind: rule.kind, active: hits.length > 0, evidence, faults };
    },
  };
}
