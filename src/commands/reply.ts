// Replies to operator commands on `cmd/reply/<requestId>` (QoS 1, not retained): what the daemon
// sends and what `firebreak ctl` reads back. Pure: time is passed in.
import { z } from "zod";
import type { OutMessage } from "../outputs/mqtt/payloads.js";
import { iso } from "../outputs/mqtt/payloads.js";
import type { Topics } from "../outputs/mqtt/topics.js";
import type { StatusResult } from "./status.js";
import type { Refusal, VerifyRefusalCode } from "./verify.js";
import { COMMAND_VERSION, type OperatorCommand, type Verb } from "./wire.js";

/**
 * Verification refusals, plus what the daemon may answer when applying a verified command:
 * `unknown_target` (no such alarm, zone or device here), `not_allowed` (e.g. shelving a
 * life-safety alarm, clearing a zone whose conditions are still active), `failed` (could not be
 * applied, e.g. the state store failed; the command may be sent again with a new request id).
 */
export type RefusalCode = VerifyRefusalCode | "unknown_target" | "not_allowed" | "failed";

export interface AlarmRef {
  readonly id: string;
  /** The alarm's state after the command. */
  readonly state: string;
}

export interface ZoneRef {
  readonly zone: string;
  readonly stage: string;
  readonly latched?: boolean;
  readonly maintenance?: boolean;
  /** ISO 8601 UTC: end of the maintenance period. */
  readonly maintenanceUntil?: string;
}

export interface DeviceRef {
  readonly device: string;
  readonly inService: boolean;
}

/** What a verb other than `status` changed: the touched alarms, zones and devices as they are now. */
export interface ChangeResult {
  readonly alarms?: readonly AlarmRef[];
  readonly zones?: readonly ZoneRef[];
  readonly devices?: readonly DeviceRef[];
  /** ISO 8601 UTC: when a shelving ends. */
  readonly until?: string;
}

export type ResultFor<V extends Verb> = V extends "status" ? StatusResult : ChangeResult;

export interface Replier {
  readonly site: string;
  /** The daemon's instance name: with several daemons on one site, says which one answered. */
  readonly instance: string;
}

/** Every reply is QoS 1, not retained; `event` puts it in the outbox's keep-longer class. */
function message(t: Topics, requestId: string, body: Record<string, unknown>): OutMessage {
  return { topic: t.cmdReply(requestId), payload: JSON.stringify(body), qos: 1, retain: false, kind: "event" };
}

export function acceptedReply<C extends OperatorCommand>(t: Topics, from: Replier, command: C, result: ResultFor<C["verb"]>, nowMs: number): OutMessage {
  return message(t, command.requestId, {
    v: COMMAND_VERSION,
    ts: iso(nowMs),
    requestId: command.requestId,
    verb: command.verb,
    by: command.by,
    site: from.site,
    instance: from.instance,
    ok: true,
    result,
  });
}

export interface RefusalToSend {
  readonly requestId: string;
  /** The topic's verb, even when unknown. */
  readonly verb: string;
  readonly code: RefusalCode;
  readonly reason: string;
}

export function refusedReply(t: Topics, from: Replier, r: RefusalToSend, nowMs: number): OutMessage {
  return message(t, r.requestId, { v: COMMAND_VERSION, ts: iso(nowMs), requestId: r.requestId, verb: r.verb, instance: from.instance, ok: false, code: r.code, reason: r.reason });
}

/**
 * The reply to a verification refusal, or undefined when the payload had no usable request id:
 * then there is no topic to answer on, and the daemon only logs it.
 */
export function replyToRefusal(t: Topics, from: Replier, verb: string, r: Refusal, nowMs: number): OutMessage | undefined {
  if (r.requestId === undefined) return undefined;
  return refusedReply(t, from, { requestId: r.requestId, verb, code: r.code, reason: r.reason }, nowMs);
}

const accepted = z.object({
  v: z.literal(COMMAND_VERSION),
  ts: z.string(),
  requestId: z.string(),
  verb: z.string(),
  by: z.string(),
  site: z.string(),
  instance: z.string(),
  ok: z.literal(true),
  result: z.record(z.string(), z.unknown()),
});
const refused = z.object({
  v: z.literal(COMMAND_VERSION),
  ts: z.string(),
  requestId: z.string(),
  verb: z.string(),
  instance: z.string().optional(),
  ok: z.literal(false),
  code: z.string(),
  reason: z.string(),
});
export const replySchema = z.discriminatedUnion("ok", [accepted, refused]);
export type Reply = z.infer<typeof replySchema>;

const changeResultSchema = z.object({
  alarms: z.array(z.object({ id: z.string(), state: z.string() })).optional(),
  zones: z
    .array(z.object({ zone: z.string(), stage: z.string(), latched: z.boolean().optional(), maintenance: z.boolean().optional(), maintenanceUntil: z.string().optional() }))
    .optional(),
  devices: z.array(z.object({ device: z.string(), inService: z.boolean() })).optional(),
  until: z.string().optional(),
});
export const parseChangeResult = (result: unknown): ChangeResult | undefined => {
  const r = changeResultSchema.safeParse(result);
  return r.success ? r.data : undefined;
};

/** A received reply, checked; a string says what is wrong with it. */
export function parseReply(payload: string | Buffer): Reply | string {
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString());
  } catch (e) {
    return `the reply is not JSON: ${(e as Error).message}`;
  }
  const r = replySchema.safeParse(raw);
  if (!r.success) return `the reply does not have the v1 shape: ${r.error.issues.map((i) => `${i.path.join(".") || "(reply)"}: ${i.message}`).join("; ")}`;
  return r.data;
}
