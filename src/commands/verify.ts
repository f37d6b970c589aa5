// Decides whether an operator command received on `cmd/<verb>` is to be obeyed: pure, with the
// daemon's clock, keys and replay memory passed in. The checks run in a fixed order (parse, schema,
// site, operator, signature, time, replay) so a refusal never tells an unauthenticated sender more
// than the step it failed: the clock and the replay memory are only consulted for a valid signature.
import { verify as verifySignature, type KeyObject } from "node:crypto";
import type { z } from "zod";
import { signingBytes, SIG_PREFIX } from "./sign.js";
import { argKeys, argsSchemas, envelopeKeys, envelopeSchema, isVerb, MAX_PAYLOAD_BYTES, REQUEST_ID, type OperatorCommand, type Verb } from "./wire.js";

/** Why a command was refused before anything was done; README "Operator commands" documents each. */
export type VerifyRefusalCode = "malformed" | "unknown_verb" | "wrong_site" | "unknown_operator" | "bad_signature" | "stale" | "replayed";

export interface Refusal<C extends string = VerifyRefusalCode> {
  readonly ok: false;
  readonly code: C;
  readonly reason: string;
  /** Present when the payload carried a well-formed request id: then a reply can be sent. */
  readonly requestId?: string;
}

export type Verification = { readonly ok: true; readonly command: OperatorCommand } | Refusal;

export interface ReceivedCommand {
  /** The last topic level of `cmd/<verb>`. */
  readonly verb: string;
  readonly payload: string | Buffer;
}

export interface VerifyContext {
  /** This daemon's site id. */
  readonly site: string;
  /** Operator id -> Ed25519 public key (keys.ts operatorKeys()). */
  readonly operators: ReadonlyMap<string, KeyObject>;
  /** The daemon's clock, ms. */
  readonly now: number;
  /** A command whose `ts` is further than this from `now`, either way, is stale. */
  readonly maxSkewMs: number;
  /**
   * True when this request id was already accepted. Only asked for a command that verified and is
   * within the time window, so the memory needs to hold ids for 2 × maxSkewMs: an older copy is stale.
   */
  readonly seen: (requestId: string) => boolean;
}

export function verifyCommand(msg: ReceivedCommand, ctx: VerifyContext): Verification {
  const bytes = typeof msg.payload === "string" ? Buffer.byteLength(msg.payload) : msg.payload.length;
  if (bytes > MAX_PAYLOAD_BYTES) return refuse("malformed", `payload is ${bytes} bytes; at most ${MAX_PAYLOAD_BYTES}`);
  let raw: unknown;
  try {
    raw = JSON.parse(typeof msg.payload === "string" ? msg.payload : msg.payload.toString("utf8"));
  } catch (e) {
    return refuse("malformed", `payload is not JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return refuse("malformed", "payload is not a JSON object");
  const obj = raw as Record<string, unknown>;
  const requestId = typeof obj.requestId === "string" && REQUEST_ID.test(obj.requestId) ? obj.requestId : undefined;
  const refuseWithId = (code: VerifyRefusalCode, reason: string): Refusal => refuse(code, reason, requestId);

  if (!isVerb(msg.verb)) return refuseWithId("unknown_verb", `"${msg.verb}" is not a command; known: ${Object.keys(argKeys).join(", ")}`);
  const verb: Verb = msg.verb;

  // fromEntries defines own properties, so a "__proto__" key stays a key (and is refused as unknown).
  const isEnvelope = ([k]: [string, unknown]) => (envelopeKeys as readonly string[]).includes(k);
  const envelopePart: Record<string, unknown> = Object.fromEntries(Object.entries(obj).filter(isEnvelope));
  const argsPart: Record<string, unknown> = Object.fromEntries(Object.entries(obj).filter((e) => !isEnvelope(e)));
  const envelope = envelopeSchema.safeParse(envelopePart);
  const args = argsSchemas[verb].safeParse(argsPart);
  const problems = [...(envelope.success ? [] : describe(envelope.error, envelopePart, verb)), ...(args.success ? [] : describe(args.error, argsPart, verb))];
  if (!envelope.success || !args.success) return refuseWithId("malformed", problems.join("; "));
  const e = envelope.data;

  if (e.site !== ctx.site) return refuseWithId("wrong_site", `the command is for site "${e.site}"; this daemon serves "${ctx.site}"`);

  // Known operators are not listed: a stranger learns nothing about who may command.
  const key = ctx.operators.get(e.by);
  if (key === undefined) return refuseWithId("unknown_operator", `operator "${e.by}" is not among this site's operators`);

  const sig = Buffer.from(e.sig.slice(SIG_PREFIX.length), "base64");
  if (sig.length !== 64) return refuseWithId("bad_signature", `the signature is ${sig.length} bytes; an Ed25519 signature is 64`);
  const { sig: _sig, ...unsigned } = obj;
  let good: boolean;
  try {
    good = verifySignature(null, signingBytes(verb, unsigned), key, sig);
  } catch (err) {
    good = false;
    void err; // a key of the wrong type: the loader refuses those, so this is a bad signature
  }
  if (!good) return refuseWithId("bad_signature", `the signature does not verify with ${e.by}'s public key for verb ${verb} (wrong key, or the payload was changed after signing)`);

  const tsMs = Date.parse(e.ts);
  const offMs = ctx.now - tsMs;
  if (Math.abs(offMs) > ctx.maxSkewMs) {
    return refuseWithId(
      "stale",
      `command time is ${seconds(Math.abs(offMs))} s off the daemon's clock (${offMs > 0 ? "behind it: an old or delayed command" : "ahead of it: check the operator's clock"}); allowed ±${seconds(ctx.maxSkewMs)} s`,
    );
  }

  if (ctx.seen(e.requestId)) return refuseWithId("replayed", `request id ${e.requestId} was already accepted; send a new command (a new request id) to repeat it`);

  // The schemas are built per verb, so the pair is consistent; TypeScript cannot see that across the lookup.
  const command = { verb, args: args.data, requestId: e.requestId, by: e.by, tsMs, site: e.site } as OperatorCommand;
  return { ok: true, command };
}

function refuse(code: VerifyRefusalCode, reason: string, requestId?: string): Refusal {
  return requestId === undefined ? { ok: false, code, reason } : { ok: false, code, reason, requestId };
}

/** 45, 2.5, 0.3: whole seconds when large, one decimal when small. */
function seconds(ms: number): string {
  const s = ms / 1000;
  return s >= 10 ? String(Math.round(s)) : String(Math.round(s * 10) / 10);
}

/** One phrase per problem, each naming its field. */
function describe(error: z.ZodError, part: Record<string, unknown>, verb: Verb): string[] {
  return error.issues.map((i) => {
    if (i.code === "unrecognized_keys") {
      const allowed = [...argKeys[verb]].join(", ") || "none";
      return i.keys.map((k) => (k === "verb" ? `field "verb": leave it out, the verb is the topic's last level` : `unknown field "${k}" for ${verb}; its arguments: ${allowed}`)).join("; ");
    }
    const field = i.path.map(String).join(".");
    if (field === "") return `${verb}: ${i.message}`;
    const top = String(i.path[0]);
    return `field "${field}": ${i.code === "invalid_type" && i.path.length === 1 && !(top in part) ? "is missing" : i.message}`;
  });
}
