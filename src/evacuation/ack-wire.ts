// Consumers' acknowledgments on `evacuate/<zone>/ack/<consumer>` (README "Evacuation"): what is
// signed, how the reference consumer signs one, and how the daemon verifies one with the consumer's
// public key from the site config. Pure: keys and payloads in, a verdict out.
import { sign, verify as verifySignature, type KeyObject } from "node:crypto";
import { z } from "zod";
import { canonicalBytes, type JsonValue } from "../commands/canonical.js";
import { SIG_PREFIX } from "../commands/sign.js";

export const ACK_STATES = ["accepted", "progress", "done", "failed"] as const;
export type AckState = (typeof ACK_STATES)[number];

export const MAX_ACK_BYTES = 256 * 1024;

export interface Ack {
  readonly id: string;
  readonly state: AckState;
  readonly hosts: { readonly done: readonly string[]; readonly failed: readonly string[] };
  readonly reason?: string;
  /** ms since the epoch, written as ISO 8601 UTC. */
  readonly tsMs: number;
}

/**
 * The bytes signed: the payload without `sig`, with `zone` and `consumer` (the topic's levels) added,
 * in canonical JSON; so an acknowledgment republished for another zone or consumer does not verify.
 */
export function ackSigningBytes(zone: string, consumer: string, unsigned: Readonly<Record<string, unknown>>): Buffer {
  return canonicalBytes({ ...unsigned, zone, consumer });
}

export function signAck(zone: string, consumer: string, ack: Ack, privateKey: KeyObject): Record<string, JsonValue> {
  const unsigned: Record<string, JsonValue> = {
    v: 1,
    id: ack.id,
    state: ack.state,
    hosts: { done: [...ack.hosts.done], failed: [...ack.hosts.failed] },
    ...(ack.reason === undefined ? {} : { reason: ack.reason }),
    ts: new Date(ack.tsMs).toISOString(),
  };
  return { ...unsigned, sig: `${SIG_PREFIX}${sign(null, ackSigningBytes(zone, consumer, unsigned), privateKey).toString("base64")}` };
}

const ackSchema = z
  .object({
    v: z.literal(1),
    id: z.string().min(1).max(200),
    state: z.enum(ACK_STATES),
    hosts: z.object({ done: z.array(z.string().max(253)).max(10_000), failed: z.array(z.string().max(253)).max(10_000) }).strict(),
    reason: z.string().max(2000).optional(),
    ts: z.string().refine((s) => Number.isFinite(Date.parse(s)), "an ISO 8601 UTC time"),
    sig: z.string().regex(/^ed25519:[A-Za-z0-9+/]+={0,2}$/),
  })
  .strict();

export type AckRefusalCode = "malformed" | "unknown_consumer" | "bad_signature";
export type AckVerification = { readonly ok: true; readonly ack: Ack } | { readonly ok: false; readonly code: AckRefusalCode; readonly reason: string };

/** Verify one acknowledgment; `keys` are the configured consumers' public keys by id. */
export function verifyAck(zone: string, consumer: string, payload: Buffer, keys: ReadonlyMap<string, KeyObject>): AckVerification {
  if (payload.length > MAX_ACK_BYTES) return { ok: false, code: "malformed", reason: `payload is ${payload.length} bytes; at most ${MAX_ACK_BYTES}` };
  const key = keys.get(consumer);
  if (key === undefined) return { ok: false, code: "unknown_consumer", reason: `consumer "${consumer}" is not in evacuation.consumers of the site config` };
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString("utf8"));
  } catch (e) {
    return { ok: false, code: "malformed", reason: `payload is not JSON: ${(e as Error).message}` };
  }
  const parsed = ackSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, code: "malformed", reason: parsed.error.issues.map((i) => `${i.path.map(String).join(".") || "payload"}: ${i.message}`).join("; ") };
  const a = parsed.data;
  const { sig: _sig, ...unsigned } = raw as Record<string, unknown>;
  let good = false;
  try {
    good = verifySignature(null, ackSigningBytes(zone, consumer, unsigned), key, Buffer.from(a.sig.slice(SIG_PREFIX.length), "base64"));
  } catch {
    good = false;
  }
  if (!good) return { ok: false, code: "bad_signature", reason: `the signature does not verify with ${consumer}'s public key for zone ${zone}` };
  return { ok: true, ack: { id: a.id, state: a.state, hosts: a.hosts, ...(a.reason === undefined ? {} : { reason: a.reason }), tsMs: Date.parse(a.ts) } };
}
