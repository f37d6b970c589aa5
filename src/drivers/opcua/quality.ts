// OPC UA status codes and values -> point quality (README.md#quality): Good/Uncertain/Bad by the status
// code's severity bits (OPC UA Part 4, 7.39), the status name kept as the detail, and range,
// sentinel and NaN checks as the Modbus decoder applies them. Pure: no node-opcua types here.
import type { PointValue, QualityReason } from "../../points/point.js";
import { outOfRange, type PointLimits } from "../limits.js";

/** What the driver extracts from a node-opcua DataValue. */
export interface RawSample {
  /** The 32-bit status code; the top two bits are its severity (00 good, 01 uncertain, 10/11 bad). */
  readonly statusCode: number;
  /** e.g. "BadSensorFailure": goes into the point's detail, so an operator sees what the server said. */
  readonly statusName: string;
  /** The Variant's value: number, boolean, bigint (Int64 as [hi, lo] in node-opcua), or anything else. */
  readonly value: unknown;
  /** Source timestamp, ms since epoch, when the server sent one. */
  readonly sourceTs?: number;
  readonly serverTs?: number;
}

export type { PointLimits };

export type Severity = "good" | "uncertain" | "bad";

export function severityOf(statusCode: number): Severity {
  const sev = (statusCode >>> 30) & 0b11;
  return sev === 0 ? "good" : sev === 1 ? "uncertain" : "bad";
}

/**
 * The point reason for a non-good status. QualityReason is a closed set, so each status maps to the
 * nearest reason; the exact status name always travels in the point's detail.
 */
export function reasonOf(statusName: string): QualityReason {
  const base = statusName.split("#")[0] ?? statusName;
  if (/^(Bad(CommunicationError|NotConnected|ServerNotConnected|NoCommunication|ConnectionClosed|SecureChannelClosed|ServerHalted|Shutdown|SessionClosed|SessionIdInvalid|SubscriptionIdInvalid))$/.test(base)) return "comm_fail";
  if (/^Bad(Timeout|RequestTimeout)$/.test(base)) return "timeout";
  if (base === "BadWaitingForInitialData" || base === "UncertainLastUsableValue" || base === "UncertainNoCommunicationLastUsableValue") return "stale";
  if (/^(BadOutOfRange|UncertainEngineeringUnitsExceeded|UncertainSensorNotAccurate)$/.test(base)) return "out_of_range";
  if (/^Bad(NodeIdUnknown|NodeIdInvalid|AttributeIdInvalid|TypeMismatch|NotReadable|UserAccessDenied|NotSupported|IndexRangeInvalid|DataEncodingInvalid|MonitoredItemFilterUnsupported|DeadbandFilterInvalid|FilterNotAllowed)$/.test(base)) return "config";
  return "device_exception";
}

/** The sample's time: the device's source timestamp, else the server's, else when we received it. */
export function sampleTime(s: RawSample, receivedAt: number): number {
  return s.sourceTs ?? s.serverTs ?? receivedAt;
}

/** A Variant value as a number: booleans are 0/1, Int64 pairs are joined; anything else is not a number. */
export function numericValue(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "bigint") return Number(v);
  // node-opcua carries (U)Int64 as [high, low] 32-bit words.
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === "number" && typeof v[1] === "number") return v[0] * 2 ** 32 + v[1];
  return undefined;
}

export function toPointValue(s: RawSample, limits: PointLimits, receivedAt: number, unit = ""): PointValue {
  const ts = sampleTime(s, receivedAt);
  const severity = severityOf(s.statusCode);
  const status = `status ${s.statusName} (0x${(s.statusCode >>> 0).toString(16).padStart(8, "0")})`;
  if (severity === "bad") return { value: null, quality: "bad", reason: reasonOf(s.statusName), detail: status, sourceTs: ts };
  const n = numericValue(s.value);
  if (n === undefined) return { value: null, quality: "bad", reason: "config", detail: `value of type ${describe(s.value)} is not a number or Boolean; check the node id in the profile`, sourceTs: ts };
  if (Number.isNaN(n)) return { value: null, quality: "bad", reason: "sentinel", detail: "NaN: no reading", sourceTs: ts };
  if (limits.sentinels.includes(n)) return { value: null, quality: "bad", reason: "sentinel", detail: `${n} is a sentinel of the profile: no reading`, sourceTs: ts };
  if (!Number.isFinite(n) || (limits.range !== undefined && (n < limits.range[0] || n > limits.range[1]))) return outOfRange(n, limits.range, unit, ts);
  if (severity === "uncertain") return { value: n, quality: "uncertain", reason: reasonOf(s.statusName), detail: status, sourceTs: ts };
  return { value: n, quality: "good", sourceTs: ts };
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v === "object" ? (v.constructor?.name ?? "object") : typeof v;
}
