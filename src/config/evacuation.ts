// The `evacuation:` section: the signing key and the consumers' public keys read from their files
// and checked now, so a bad key stops start-up with its location instead of an unsigned trigger
// or a refused acknowledgment during a fire.
import { dirname, resolve } from "node:path";
import { privateKeyFromPem, publicKeyFromPem } from "../commands/keys.js";
import type { ConfigIssue } from "../errors.js";
import { readSecretFile } from "./secret-files.js";
import type { SiteParsed } from "./site-schema.js";
import type { EvacuationConfig, EvacuationConsumer } from "./types.js";
import type { YamlSource } from "./yaml-source.js";

export async function buildEvacuation(file: string, parsed: SiteParsed["evacuation"], zones: ReadonlySet<string>, src: YamlSource, issues: ConfigIssue[]): Promise<EvacuationConfig | undefined> {
  if (parsed === undefined) return undefined;
  const base = dirname(file);
  const before = issues.length;
  const keyRead = await readSecretFile(base, parsed.signing_key_file, "pem");
  let signingKeyPem: string | undefined;
  if (!keyRead.ok) issues.push(src.issue(["evacuation", "signing_key_file"], keyRead.reason));
  else {
    try {
      privateKeyFromPem(keyRead.text, parsed.signing_key_file);
      signingKeyPem = keyRead.text;
    } catch (e) {
      issues.push(src.issue(["evacuation", "signing_key_file"], (e as Error).message));
    }
  }
  const seen = new Map<string, number>();
  const consumers: EvacuationConsumer[] = [];
  for (const [i, c] of parsed.consumers.entries()) {
    const first = seen.get(c.id);
    if (first !== undefined) issues.push(src.issue(["evacuation", "consumers", i, "id"], `consumer id "${c.id}" is already used at evacuation.consumers[${first}]`));
    seen.set(c.id, i);
    for (const [k, z] of (c.zones ?? []).entries()) {
      if (!zones.has(z)) issues.push(src.issue(["evacuation", "consumers", i, "zones", k], `unknown zone "${z}"; known: ${[...zones].join(", ")}`));
    }
    const r = await readSecretFile(base, c.public_key_file, "pem");
    if (!r.ok) {
      issues.push(src.issue(["evacuation", "consumers", i, "public_key_file"], r.reason));
      continue;
    }
    try {
      publicKeyFromPem(r.text, resolve(base, c.public_key_file));
    } catch (e) {
      issues.push(src.issue(["evacuation", "consumers", i, "public_key_file"], (e as Error).message));
      continue;
    }
    consumers.push({ id: c.id, publicKeyPem: r.text, ...(c.zones === undefined ? {} : { zones: c.zones }) });
  }
  if (issues.length > before || signingKeyPem === undefined) return undefined;
  return {
    signingKeyPem,
    kid: parsed.kid,
    ackWindowMs: parsed.ack_window_s * 1000,
    reannounceIntervalMs: parsed.reannounce_interval_s * 1000,
    consumers,
  };
}
