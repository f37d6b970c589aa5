// The operator command wire format (README "Operator commands"): the envelope every command
// carries, each verb's arguments, and the typed OperatorCommand a verified command becomes.
// Schemas only; ./verify.ts decides, ./sign.ts signs.
import { z } from "zod";

export const verbs = ["ack", "shelve", "unshelve", "out_of_service", "return_to_service", "maintenance", "clear", "status"] as const;
export type Verb = (typeof verbs)[number];
export const isVerb = (s: string): s is Verb => (verbs as readonly string[]).includes(s);

/** Wire version of the command and reply payloads (`v`). */
export const COMMAND_VERSION = 1;
/** Request ids are one MQTT topic level of the reply topic: no `/`, `+`, `#`. */
export const REQUEST_ID = /^[A-Za-z0-9_-]{8,64}$/;
/** A payload bigger than this is refused before it is parsed; real commands are a few hundred bytes. */
export const MAX_PAYLOAD_BYTES = 16 * 1024;
/** Enough to say why; the audit keeps it. */
const MAX_REASON_CHARS = 500;

/** Site, zone, device and operator ids, as the site config allows them. */
const configId = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, "use 1 to 128 letters, digits, '_' and '-'");
/** Alarm ids are rule ids, or `<rule>:fault` for a rule's trouble alarm. */
const alarmId = z.string().regex(/^[A-Za-z0-9_.:-]{1,160}$/, "use 1 to 160 letters, digits, '_', '-', '.' and ':'");
const reason = z.string().max(MAX_REASON_CHARS).regex(/\S/, "must not be empty");
/** ISO 8601 in UTC with `Z`, e.g. 2026-11-25T03:12:09.412Z. */
export const isoUtc = z.iso.datetime({ message: "use ISO 8601 UTC, e.g. 2026-11-25T03:12:09.412Z" });

export const envelopeSchema = z.object({
  v: z.literal(COMMAND_VERSION),
  requestId: z.string().regex(REQUEST_ID, "use 8 to 64 letters, digits, '_' and '-'"),
  by: configId,
  ts: isoUtc,
  site: configId,
  sig: z.string().regex(/^ed25519:[A-Za-z0-9+/]+={0,2}$/, 'use "ed25519:<base64 of the 64-byte signature>"'),
});
export const envelopeKeys = Object.keys(envelopeSchema.shape) as readonly (keyof z.infer<typeof envelopeSchema>)[];

export type AckArgs = { readonly alarm: string } | { readonly zone: string } | { readonly all: true };
export interface ShelveArgs {
  readonly alarm: string;
  readonly durationS: number;
  readonly reason: string;
}
export interface UnshelveArgs {
  readonly alarm: string;
  readonly reason?: string;
}
export type ServiceTarget = { readonly alarm: string } | { readonly device: string };
export type OutOfServiceArgs = ServiceTarget & { readonly reason: string };
export type ReturnToServiceArgs = ServiceTarget;
export type MaintenanceArgs =
  | { readonly zone: string; readonly on: true; readonly untilTs?: string; readonly reason: string }
  | { readonly zone: string; readonly on: false; readonly reason?: string };
export interface ClearArgs {
  readonly zone: string;
  readonly reason?: string;
}
export type StatusArgs = Record<string, never>;

export interface ArgsByVerb {
  ack: AckArgs;
  shelve: ShelveArgs;
  unshelve: UnshelveArgs;
  out_of_service: OutOfServiceArgs;
  return_to_service: ReturnToServiceArgs;
  maintenance: MaintenanceArgs;
  clear: ClearArgs;
  status: StatusArgs;
}

interface CommandBase {
  readonly requestId: string;
  /** The operator id, its signature verified. */
  readonly by: string;
  /** The command's own `ts`, ms since the epoch. */
  readonly tsMs: number;
  readonly site: string;
}

/** A verified command: switch on `verb` and `args` is typed. */
export type OperatorCommand = { [V in Verb]: CommandBase & { readonly verb: V; readonly args: ArgsByVerb[V] } }[Verb];

/** Exactly one of `keys` present: the message names them all. */
function exactlyOne<T extends object>(keys: readonly (keyof T & string)[]) {
  return (o: T, ctx: z.RefinementCtx) => {
    const present = keys.filter((k) => o[k] !== undefined);
    if (present.length !== 1) {
      ctx.addIssue({ code: "custom", message: `give exactly one of ${keys.join(", ")}${present.length > 1 ? ` (got ${present.join(" and ")})` : ""}` });
    }
  };
}

const ack = z
  .object({ alarm: alarmId.optional(), zone: configId.optional(), all: z.literal(true).optional() })
  .strict()
  .superRefine(exactlyOne(["alarm", "zone", "all"]))
  .transform((o): AckArgs => (o.alarm !== undefined ? { alarm: o.alarm } : o.zone !== undefined ? { zone: o.zone } : { all: true }));

const shelve = z
  .object({ alarm: alarmId, durationS: z.number().finite().gt(0, "must be more than 0 seconds"), reason })
  .strict()
  .transform((o): ShelveArgs => o);

const unshelve = z
  .object({ alarm: alarmId, reason: reason.optional() })
  .strict()
  .transform((o): UnshelveArgs => (o.reason === undefined ? { alarm: o.alarm } : { alarm: o.alarm, reason: o.reason }));

const target = (o: { alarm?: string | undefined; device?: string | undefined }): ServiceTarget => (o.alarm !== undefined ? { alarm: o.alarm } : { device: o.device! });

const outOfService = z
  .object({ alarm: alarmId.optional(), device: configId.optional(), reason })
  .strict()
  .superRefine(exactlyOne(["alarm", "device"]))
  .transform((o): OutOfServiceArgs => ({ ...target(o), reason: o.reason }));

const returnToService = z
  .object({ alarm: alarmId.optional(), device: configId.optional() })
  .strict()
  .superRefine(exactlyOne(["alarm", "device"]))
  .transform(target);

const maintenance = z
  .object({ zone: configId, on: z.boolean(), untilTs: isoUtc.optional(), reason: reason.optional() })
  .strict()
  .superRefine((o, ctx) => {
    if (o.on && o.reason === undefined) ctx.addIssue({ code: "custom", path: ["reason"], message: "a zone put in maintenance needs a reason" });
    if (!o.on && o.untilTs !== undefined) ctx.addIssue({ code: "custom", path: ["untilTs"], message: "untilTs goes only with on: true" });
  })
  .transform((o): MaintenanceArgs =>
    o.on
      ? { zone: o.zone, on: true, reason: o.reason ?? "", ...(o.untilTs === undefined ? {} : { untilTs: o.untilTs }) }
      : { zone: o.zone, on: false, ...(o.reason === undefined ? {} : { reason: o.reason }) },
  );

const clear = z
  .object({ zone: configId, reason: reason.optional() })
  .strict()
  .transform((o): ClearArgs => (o.reason === undefined ? { zone: o.zone } : { zone: o.zone, reason: o.reason }));

const status = z
  .object({})
  .strict()
  .transform((): StatusArgs => ({}));

/** Each verb's arguments: strict, so a misspelt or foreign key is refused rather than ignored. */
export const argsSchemas: { readonly [V in Verb]: z.ZodType<ArgsByVerb[V], unknown> } = {
  ack,
  shelve,
  unshelve,
  out_of_service: outOfService,
  return_to_service: returnToService,
  maintenance,
  clear,
  status,
};

/** The argument keys each verb accepts, for messages that say what is allowed. */
export const argKeys: { readonly [V in Verb]: readonly string[] } = {
  ack: ["alarm", "zone", "all"],
  shelve: ["alarm", "durationS", "reason"],
  unshelve: ["alarm", "reason"],
  out_of_service: ["alarm", "device", "reason"],
  return_to_service: ["alarm", "device"],
  maintenance: ["zone", "on", "untilTs", "reason"],
  clear: ["zone", "reason"],
  status: [],
};
