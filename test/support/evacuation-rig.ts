// Keys, consumer configs, an action script and consumer processes for the evacuation tests.
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { chmod, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { startCliProcess, type DaemonProcess } from "./daemon-process.js";

export interface KeyFiles {
  readonly dir: string;
  readonly key: string;
  readonly pub: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export async function keyPair(name: string, dir?: string): Promise<KeyFiles> {
  const d = dir ?? (await mkdtemp(join(tmpdir(), "fb-keys-")));
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const key = join(d, `${name}.key`);
  const pub = join(d, `${name}.pub`);
  await writeFile(key, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  await writeFile(pub, publicKey.export({ type: "spki", format: "pem" }));
  return { dir: d, key, pub, privateKey, publicKey };
}

/**
 * A script action: appends "<host> <rack> <zone> <trigger>" to $ACTION_LOG when it starts, sleeps
 * $ACTION_SLEEP_S, and fails for the host named in $FAIL_HOST. Reads its input from the environment
 * and its arguments only.
 */
export async function actionScript(dir: string): Promise<string> {
  const file = join(dir, "drain.sh");
  await writeFile(file, '#!/bin/sh\necho "$1 $FIREBREAK_RACK $FIREBREAK_ZONE $FIREBREAK_TRIGGER" >> "$ACTION_LOG"\nsleep "${ACTION_SLEEP_S:-0}"\n[ "$1" != "$FAIL_HOST" ]\n');
  await chmod(file, 0o755);
  return file;
}

export interface ConsumerFileOptions {
  readonly id: string;
  readonly mqttUrl: string;
  readonly key: string;
  readonly trusted: readonly { readonly kid: string; readonly pub: string }[];
  readonly script: string;
  readonly log: string;
  readonly sleepS: number;
  readonly failHost?: string;
  readonly concurrency: number;
  readonly maxAgeS?: number;
  readonly stateFile?: string;
  readonly zones?: readonly string[];
}

export async function writeConsumerFile(o: ConsumerFileOptions): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `fb-consumer-${o.id}-`));
  const doc = {
    consumer: o.id,
    site: "dc1",
    mqtt: { url: o.mqttUrl, client_id: `fb-test-consumer-${o.id}-${process.pid}` },
    signing_key_file: o.key,
    trusted_keys: o.trusted.map((t) => ({ kid: t.kid, public_key_file: t.pub })),
    ...(o.zones === undefined ? {} : { zones: o.zones }),
    state_file: o.stateFile ?? join(dir, "consumer.sqlite"),
    max_age_s: o.maxAgeS ?? 300,
    action: {
      steps: [[o.script, "{host}", "--rack={rack}"]],
      timeout_s: 60,
      retries: 0,
      retry_delay_s: 0,
      concurrency: o.concurrency,
      env: { ACTION_LOG: o.log, ACTION_SLEEP_S: String(o.sleepS), FAIL_HOST: o.failHost ?? "" },
    },
  };
  const file = join(dir, "consumer.yaml");
  await writeFile(file, parseDocument(JSON.stringify(doc)).toString());
  return file;
}

export function startConsumer(file: string, clock?: { speed: number; epoch: number }): DaemonProcess {
  const args = ["consumer", "-c", file];
  if (clock) args.push("--clock-speed", String(clock.speed), "--clock-epoch", String(clock.epoch));
  return startCliProcess(args);
}

/** Lines of the action log: one per action started. */
export async function actionRuns(log: string): Promise<string[]> {
  const text = await readFile(log, "utf8").catch(() => "");
  return text.split("\n").filter((l) => l !== "");
}
