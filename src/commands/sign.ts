// What an operator's signature covers, and how a command is signed (by `firebreak ctl` and tests).
// The verb is signed although it travels in the topic, so a signed `ack` republished on `cmd/clear`
// does not verify.
import { randomBytes, sign, type KeyObject } from "node:crypto";
import { canonicalBytes, type JsonValue } from "./canonical.js";
import { COMMAND_VERSION, type Verb } from "./wire.js";

export const SIG_PREFIX = "ed25519:";

/** The bytes signed: the payload without `sig`, with `verb` added, in canonical JSON. */
export function signingBytes(verb: string, unsigned: Readonly<Record<string, unknown>>): Buffer {
  return canonicalBytes({ ...unsigned, verb });
}

/** 16 characters of base64url (96 random bits): unique without coordination. */
export function newRequestId(): string {
  return randomBytes(12).toString("base64url");
}

export interface CommandHeader {
  readonly requestId: string;
  /** Operator id, as in the site config's `operators`. */
  readonly by: string;
  /** ms since the epoch; written as ISO 8601 UTC. */
  readonly tsMs: number;
  readonly site: string;
}

/**
 * The signed payload object for `cmd/<verb>`. `args` are the verb's arguments (camelCase, as in
 * README "Operator commands"); they are not checked here: the daemon checks them.
 */
export function signCommand(verb: Verb, header: CommandHeader, args: Readonly<Record<string, JsonValue>>, privateKey: KeyObject): Record<string, JsonValue> {
  const unsigned: Record<string, JsonValue> = {
    ...args,
    v: COMMAND_VERSION,
    requestId: header.requestId,
    by: header.by,
    ts: new Date(header.tsMs).toISOString(),
    site: header.site,
  };
  const sig = sign(null, signingBytes(verb, unsigned), privateKey).toString("base64");
  return { ...unsigned, sig: `${SIG_PREFIX}${sig}` };
}
