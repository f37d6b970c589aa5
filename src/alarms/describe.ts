// Evidence in plain words, for alarm messages and the demo: "cab2/s1/m3/c7/tempC = 40.5
// (groupMedian 24.0, deviation 16.5, threshold 15.0)". One formatter, so every place reads alike.
import type { Evidence } from "../events.js";

const quiet = new Set(["rule", "point", "value", "quality", "reason", "detail"]);

export function describeEvidence(e: Evidence): string {
  const figures = Object.entries(e)
    .filter(([k, v]) => !quiet.has(k) && typeof v === "number")
    // A deadline (a panel's countdown, src/rules/state.ts) is a time, not a figure.
    .map(([k, v]) => (k === "deadline" && Number.isFinite(v) ? `${k} ${new Date(v as number).toISOString()}` : `${k} ${(v as number).toFixed(1)}`))
    .join(", ");
  const value = typeof e.value === "number" ? ` = ${e.value.toFixed(1)}` : "";
  const bad = e.quality !== undefined && e.quality !== "good" ? ` ${String(e.quality)}/${String(e.reason)}` : "";
  return `${e.point ?? e.rule}${value}${bad}${figures ? ` (${figures})` : ""}`;
}

export function describeEvidenceList(list: readonly Evidence[], max = 3): string {
  if (list.length === 0) return "no active rule";
  const shown = list.slice(0, max).map((e) => `${e.rule}: ${describeEvidence(e)}`);
  return list.length > max ? `${shown.join("; ")}; and ${list.length - max} more` : shown.join("; ");
}
