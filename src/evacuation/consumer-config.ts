// The reference consumer's own config file (`firebreak consumer -c FILE`, README "The reference
// consumer"): which site and broker, its signing key, the daemon keys it trusts by key id, and the
// action it runs per host. Validated once, with every problem located by file:line:column.
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { privateKeyFromPem, publicKeyFromPem } from "../commands/keys.js";
import { fileLimits } from "../config/config-file.js";
import { buildMqtt } from "../config/mqtt-settings.js";
import { readSecretFile } from "../config/secret-files.js";
import { mqttSchema } from "../config/site-schema.js";
import type { LogLevel, MqttConfig } from "../config/types.js";
import { YamlSource } from "../config/yaml-source.js";
import { ConfigError, type ConfigIssue } from "../errors.js";
import { PLACEHOLDERS } from "./host-action.js";

const id = z.string().max(128).regex(/^[A-Za-z0-9_-]+$/, "use letters, digits, '_' and '-' only");
const argv = z.array(z.string().min(1).max(4096)).min(1, "a step is a program and its arguments, e.g. [kubectl, cordon, \"{host}\"]").max(256);

const consumerSchema = z
  .object({
    consumer: id,
    site: id,
    mqtt: mqttSchema,
    /** The consumer's Ed25519 private key: its acknowledgments are signed with it. */
    signing_key_file: z.string().min(1),
    /** Daemon keys by key id (`kid` in each trigger); list the old and the new key while rotating. */
    trusted_keys: z.array(z.object({ kid: id, public_key_file: z.string().min(1) }).strict()).min(1),
    /** Zones whose triggers it handles; default every zone of the site. */
    zones: z.array(id).min(1).optional(),
    /** Its record of triggers and hosts handled (SQLite), relative to this file. */
    state_file: z.string().min(1),
    /** A trigger announced further than this from the consumer's clock, either way, is refused as stale (a replay). */
    max_age_s: z.number().finite().min(5).max(86_400).default(300),
    /** With a daemon heartbeat: a `status` older than this means the room is not watched. Default: only `offline` or no status. */
    daemon_silence_s: z.number().finite().min(1).max(86_400).optional(),
    action: z
      .object({
        /** Run in order for each host; every step must exit 0. Placeholders: {host} {rack} {zone} {trigger} {site} {incident}. */
        steps: z.array(argv).min(1),
        /** Per host and attempt, all steps together. */
        timeout_s: z.number().finite().min(1).max(86_400).default(300),
        retries: z.number().int().min(0).max(20).default(2),
        retry_delay_s: z.number().finite().min(0).max(3600).default(5),
        concurrency: z.number().int().min(1).max(256).default(4),
        /** Extra environment for the action (besides FIREBREAK_HOST and the others). */
        env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).default({}),
      })
      .strict(),
    log: z.object({ level: z.enum(["trace", "debug", "info", "warn", "error", "fatal"]).default("info") }).strict().default({ level: "info" }),
  })
  .strict();

export interface ActionConfig {
  readonly steps: readonly (readonly string[])[];
  readonly timeoutMs: number;
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly concurrency: number;
  readonly env: Readonly<Record<string, string>>;
}

export interface ConsumerConfig {
  readonly file: string;
  readonly consumer: string;
  readonly site: string;
  readonly mqtt: MqttConfig;
  readonly signingKeyPem: string;
  /** SPKI PEM by key id. */
  readonly trustedKeys: ReadonlyMap<string, string>;
  readonly zones?: readonly string[];
  readonly stateFile: string;
  readonly maxAgeMs: number;
  readonly daemonSilenceMs?: number;
  readonly action: ActionConfig;
  readonly logLevel: LogLevel;
}

export async function loadConsumerConfig(file: string): Promise<ConsumerConfig> {
  const { source, issues } = await YamlSource.readConfig(file, fileLimits.config);
  if (issues.length > 0) throw new ConfigError(issues);
  const { value, issues: dataIssues } = source.toJS();
  if (dataIssues.length > 0) throw new ConfigError(dataIssues);
  const parsed = consumerSchema.safeParse(value ?? {});
  if (!parsed.success) throw new ConfigError(source.zodIssues(parsed.error));
  const c = parsed.data;
  const base = dirname(file);
  const problems: ConfigIssue[] = [];
  c.action.steps.forEach((step, i) =>
    step.forEach((arg, k) => {
      for (const m of arg.matchAll(/\{([^{}]*)\}/g)) {
        if (!(PLACEHOLDERS as readonly string[]).includes(m[1]!)) problems.push(source.issue(["action", "steps", i, k], `unknown placeholder {${m[1]}}; known: ${PLACEHOLDERS.map((p) => `{${p}}`).join(" ")}`));
      }
      if (k === 0 && arg.includes("{")) problems.push(source.issue(["action", "steps", i, 0], "the program of a step is fixed; placeholders go in its arguments"));
    }),
  );
  const m = await buildMqtt(c.mqtt, `firebreak-consumer-${c.site}-${c.consumer}`, base, source);
  problems.push(...m.issues);
  const key = await readSecretFile(base, c.signing_key_file, "pem");
  let signingKeyPem: string | undefined;
  if (!key.ok) problems.push(source.issue(["signing_key_file"], key.reason));
  else {
    try {
      privateKeyFromPem(key.text, c.signing_key_file);
      signingKeyPem = key.text;
    } catch (e) {
      problems.push(source.issue(["signing_key_file"], (e as Error).message));
    }
  }
  const trustedKeys = new Map<string, string>();
  for (const [i, k] of c.trusted_keys.entries()) {
    if (trustedKeys.has(k.kid)) problems.push(source.issue(["trusted_keys", i, "kid"], `key id "${k.kid}" is listed twice`));
    const r = await readSecretFile(base, k.public_key_file, "pem");
    if (!r.ok) {
      problems.push(source.issue(["trusted_keys", i, "public_key_file"], r.reason));
      continue;
    }
    try {
      publicKeyFromPem(r.text, k.public_key_file);
      trustedKeys.set(k.kid, r.text);
    } catch (e) {
      problems.push(source.issue(["trusted_keys", i, "public_key_file"], (e as Error).message));
    }
  }
  if (problems.length > 0 || m.mqtt === undefined || signingKeyPem === undefined) throw new ConfigError(problems);
  return {
    file,
    consumer: c.consumer,
    site: c.site,
    mqtt: m.mqtt,
    signingKeyPem,
    trustedKeys,
    ...(c.zones === undefined ? {} : { zones: c.zones }),
    stateFile: resolve(base, c.state_file),
    maxAgeMs: c.max_age_s * 1000,
    ...(c.daemon_silence_s === undefined ? {} : { daemonSilenceMs: c.daemon_silence_s * 1000 }),
    action: {
      steps: c.action.steps,
      timeoutMs: c.action.timeout_s * 1000,
      retries: c.action.retries,
      retryDelayMs: c.action.retry_delay_s * 1000,
      concurrency: c.action.concurrency,
      env: c.action.env,
    },
    logLevel: c.log.level,
  };
}
