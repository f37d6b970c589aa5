// The signed evacuation trigger on `evacuate/<zone>` (README "Evacuation"): what is signed, how the
// daemon signs each announcement, and how a consumer verifies one. The signature is Ed25519 over
// the canonical JSON (src/commands/canonical.ts) of the whole payload without `sig`, so a third
// party verifies it with any Ed25519 library and the `kid`'s public key.
import { sign, verify as verifySignature, type KeyObject } from "node:crypto";
import { z } from "zod";
import { canonicalBytes, type JsonValue } from "../commands/canonical.js";
import { SIG_PREFIX } from "../commands/sign.js";

/** A trigger payload larger than this is refused unread: 256 hosts with evidence fit in a few KiB. */
export const MAX_TRIGGER_BYTES = 256 * 1024;

/** Signs one announcement: the payload without `sig` in, `sig` out. */
export type TriggerSigner = (unsigned: Readonly<Record<string, JsonValue>>) => string;

export function triggerSigner(privateKey: KeyObject): TriggerSigner {
  return (unsigned) => `${SIG_PREFIX}${sign(null, canonicalBytes(unsigned), privateKey).toString("base64")}`;
}

/** Add `kid` and `sig` to a payload built without them (payloads.ts): the `kid` is signed too. */
export function signPayload(unsigned: Readonly<Record<string, JsonValue>>, kid: string, signer: TriggerSigner): Record<string, JsonValue> {
  const withKid = { ...unsigned, kid };
  return { ...withKid, sig: signer(withKid) };
}

const id = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/);
const time = z.string().refine((s) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(s) && Number.isFinite(Date.parse(s)), "an ISO 8601 UTC time");

/** What a consumer needs of a trigger; unknown fields are kept (fields may be added within v1; all are signed). */
export const triggerSchema = z
  .object({
    v: z.literal(1),
    id: z.string().regex(/^[A-Za-z0-9_-]+:[A-Za-z0-9_-]+:\d{4,}$/, "a trigger id <site>:<zone>:<incident>"),
    site: id,
    zone: id,
    incident: z.number().int().min(1),
    racks: z.array(id),
    hosts: z.array(z.string().min(1).max(253)).max(10_000),
    rackOf: z.record(z.string(), id).optional(),
    reason: z.string(),
    issuedAt: time,
    ackBy: time,
    /** When the room may be flooded and its power cut (a panel's pre-release countdown); absent when unknown. */
    deadline: time.optional(),
    ts: time,
    kid: id,
    sig: z.string().regex(/^ed25519:[A-Za-z0-9+/]+={0,2}$/, 'use "ed25519:<base64 of the 64-byte signature>"'),
  })
  .passthrough();

export type TriggerPayload = z.infer<typeof triggerSchema>;

/** Why a consumer refused a trigger; README "The reference consumer" documents each. */
export type TriggerRefusalCode = "malformed" | "wrong_site" | "unknown_key" | "bad_signature" | "stale";

export type TriggerVerification = { readonly ok: true; readonly trigger: TriggerPayload; readonly tsMs: number } | { readonly ok: false; readonly code: TriggerRefusalCode; readonly reason: string; readonly id?: string };

export interface TriggerVerifyContext {
  readonly site: string;
  /** Trusted daemon keys by key id. */
  readonly keys: ReadonlyMap<string, KeyObject>;
  /** The consumer's clock, ms. */
  readonly now: number;
  /** An announcement whose `ts` is further than this from `now`, either way, is refused as stale (a replay). */
  readonly maxAgeMs: number;
}

/**
 * Checks in a fixed order: size, JSON, schema, site, key id, signature, time. The clock is consulted
 * only for a trigger whose signature verifies. Pure.
 */
export function verifyTrigger(payload: Buffer | string, ctx: TriggerVerifyContext): TriggerVerification {
  const bytes = typeof payload === "string" ? Buffer.byteLength(payload) : payload.length;
  if (bytes > MAX_TRIGGER_BYTES) return { ok: false, code: "malformed", reason: `payload is ${bytes} bytes; at most ${MAX_TRIGGER_BYTES}` };
  let raw: unknown;
  try {
    raw = JSON.parse(typeof payload === "string" ? payload : payload.toString("utf8"));
  } catch (e) {
    return { ok: false, code: "malformed", reason: `payload is not JSON: ${(e as Error).message}` };
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return { ok: false, code: "malformed", reason: "payload is not a JSON object" };
  const idOf = (raw as { id?: unknown }).id;
  const tid = typeof idOf === "string" ? { id: idOf.slice(0, 200) } : {};
  const parsed = triggerSchema.safeParse(raw);
  if (!parsed.success) {
    const what = parsed.error.issues.map((i) => `${i.path.map(String).join(".") || "payload"}: ${i.message}`).join("; ");
    return { ok: false, code: "malformed", reason: what, ...tid };
  }
  const t = parsed.data;
  if (t.site !== ctx.site) return { ok: false, code: "wrong_site", reason: `the trigger is for site "${t.site}"; this consumer serves "${ctx.site}"`, ...tid };
  const key = ctx.keys.get(t.kid);
  if (key === undefined) return { ok: false, code: "unknown_key", reason: `key id "${t.kid}" is not among this consumer's trusted keys (${[...ctx.keys.keys()].join(", ") || "none"})`, ...tid };
  const sig = Buffer.from(t.sig.slice(SIG_PREFIX.length), "base64");
  const { sig: _sig, ...unsigned } = raw as Record<string, unknown>;
  let good = false;
  try {
    good = sig.length === 64 && verifySignature(null, canonicalBytes(unsigned), key, sig);
  } catch {
    good = false; // a value with no canonical form (cannot come from JSON.parse) or a key of the wrong type
  }
  if (!good) return { ok: false, code: "bad_signature", reason: `the signature does not verify with key ${t.kid} (the payload was changed after signing, or signed by another key)`, ...tid };
  const tsMs = Date.parse(t.ts);
  const offMs = ctx.now - tsMs;
  if (Math.abs(offMs) > ctx.maxAgeMs) {
    return { ok: false, code: "stale", reason: `announced ${Math.round(Math.abs(offMs) / 1000)} s ${offMs > 0 ? "ago" : "in the future"}; accepted within ±${Math.round(ctx.maxAgeMs / 1000)} s (a replayed or delayed trigger, or a clock off)`, ...tid };
  }
  return { ok: true, trigger: t, tsMs };
}
