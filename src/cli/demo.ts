// `firebreak demo`: an embedded MQTT broker, the simulated battery room of config/example-site.yaml
// and the daemon, all on one accelerated clock, playing a scenario. What the daemon publishes is
// narrated in plain words from what a subscriber receives, with the topic it came on.
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { loadSiteConfig, packageRoot } from "../config/load.js";
import type { Device, EvacuationConfig, SiteConfig } from "../config/types.js";
import { Consumer } from "../evacuation/consumer.js";
import type { ConsumerConfig } from "../evacuation/consumer-config.js";
import { acceleratedClock } from "../runtime/clock.js";
import { writeOperatorKeyPair } from "../commands/keys.js";
import { createLogger } from "../runtime/logger.js";
import { Daemon } from "../runtime/daemon.js";
import { loadScenario, startSimulation, type SimEvent } from "../../simulators/simulation.js";
import { startEmbeddedBroker } from "./embedded-broker.js";
import { Narrator } from "./narrator.js";

export interface DemoOptions {
  readonly mqttPort: number;
  readonly speed: number;
  readonly scenario: string;
  readonly exitAfter?: string;
}

export async function runDemo(opts: DemoOptions): Promise<void> {
  if (opts.exitAfter !== undefined && opts.exitAfter !== "evacuate" && opts.exitAfter !== "runaway") {
    throw new Error(`--exit-after takes evacuate or runaway, not ${opts.exitAfter}`);
  }
  const root = packageRoot();
  const base = await loadSiteConfig(join(root, "config", "example-site.yaml"));
  const scenario = await loadScenario(opts.scenario);
  const clock = acceleratedClock(opts.speed);
  const narrator = new Narrator({ clock, startedAt: clock.now(), out: (line) => console.log(line) });
  // The daemon's own JSON log goes to a file: the terminal is for the narration.
  const logFile = join(tmpdir(), `firebreak-demo-${process.pid}.log`);
  const quiet = createLogger("info", { file: logFile }); // the daemon's own factory: ISO times, as under `firebreak run`

  const broker = await startEmbeddedBroker(opts.mqttPort);
  const sim = await startSimulation({ site: base, clock, scenario, portOverride: () => 0, log: quiet.child({ component: "sim" }) });
  // A demo operator with a fresh key pair, so the ctl lines printed after the evacuation work as shown.
  const keyDir = mkdtempSync(join(tmpdir(), "firebreak-demo-keys-"));
  const operator = await writeOperatorKeyPair(keyDir, "demo-operator");
  const keys = demoKeys();
  const config = {
    ...withSimulatorPorts(base, sim.ports, broker.url),
    evacuation: keys.evacuation,
    operators: [{ id: "demo-operator", publicKeyPem: operator.publicKeyPem, publicKeyFile: operator.pubFile }],
  };
  const ctl = (args: string) => `node ${process.argv[1] ?? "dist/src/cli/main.js"} ctl ${args} --as demo-operator --key ${operator.keyFile} --broker ${broker.url} --site ${config.site}`;

  narrator.banner([
    `firebreak demo: a simulated UPS battery room (${config.devices.length} Modbus TCP devices, ${config.devices.reduce((n, d) => n + d.points.length, 0)} points), scenario "${scenario.name}"`,
    `time is compressed ${opts.speed}x: 1 s on screen is ${opts.speed} s in the room. The daemon runs on the same clock, so its rules see real-world rates.`,
    `embedded MQTT broker on ${broker.url}; to watch the same messages:  mosquitto_sub -h 127.0.0.1 -p ${opts.mqttPort} -t 'firebreak/#' -v`,
    scenario.description,
    `the daemon's JSON log: ${logFile}`,
  ]);

  const watcher = mqtt.connect(broker.url, { clientId: `firebreak-demo-watcher-${process.pid}`, clean: true });
  watcher.on("message", (topic, payload, packet) => narrator.mqtt(topic, payload.toString(), packet.retain));
  await new Promise<void>((resolve, reject) => {
    watcher.once("connect", () => watcher.subscribe(`firebreak/v1/${config.site}/#`, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
    watcher.once("error", reject);
  });

  const daemon = new Daemon({ config, clock, log: quiet }); // no component: the daemon binds its parts' own
  daemon.start();
  // The embedded reference consumer: verifies the trigger and "drains" the hosts with a script that
  // prints what it would run (2 s of room time per host, 4 at a time).
  const consumer = new Consumer({
    config: demoConsumer(config, keys, broker.url, opts.speed),
    clock,
    log: quiet.child({ component: "consumer" }),
    onActionOutput: (host, line) => narrator.line(`consumer ${DEMO_CONSUMER} [${host}]: ${line}`),
  });
  consumer.start();
  narrator.line(`embedded consumer ${DEMO_CONSUMER}: verifies triggers signed with key ${DEMO_KID}, runs config/consumer/print-drain.sh per host (4 at a time)`);
  narrator.watchHealth(daemon, config);

  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => (done = resolve));
  sim.on("scenario-step", (e: SimEvent) => narrator.sim(e));
  sim.on("vent", (e: SimEvent) => narrator.sim(e));
  sim.on("runaway", (e: SimEvent) => {
    narrator.sim(e);
    if (opts.exitAfter === "runaway") done();
  });
  let toldOperator = false;
  narrator.onEvacuate(() => {
    if (opts.exitAfter === "evacuate") done();
    if (toldOperator) return;
    toldOperator = true;
    narrator.banner([
      "you are the operator now: in a second terminal, acknowledge, look, and try to clear",
      `  ${ctl("ack --zone batt-a")}`,
      `  ${ctl("status")}`,
      `  ${ctl('clear --zone batt-a --reason "cells isolated"')}`,
      "the clear is refused while the runaway's conditions hold: a latched zone is released only once they are gone",
    ]);
  });
  if (opts.exitAfter === undefined) narrator.line("Ctrl-C to stop.");
  process.once("SIGINT", done);
  process.once("SIGTERM", done);
  await finished;

  await consumer.stop();
  await daemon.stop();
  narrator.summary();
  watcher.end(true);
  await sim.stop();
  await broker.close();
}

const DEMO_CONSUMER = "demo-drain";
const DEMO_KID = "demo";

/** A key pair for the daemon's triggers and one for the consumer's acknowledgments, made for this run. */
function demoKeys(): { evacuation: EvacuationConfig; consumerKeyPem: string; daemonPubPem: string } {
  const pair = () => generateKeyPairSync("ed25519", { privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
  const daemon = pair();
  const consumer = pair();
  return {
    evacuation: { signingKeyPem: daemon.privateKey, kid: DEMO_KID, ackWindowMs: 60_000, reannounceIntervalMs: 15_000, consumers: [{ id: DEMO_CONSUMER, publicKeyPem: consumer.publicKey }] },
    consumerKeyPem: consumer.privateKey,
    daemonPubPem: daemon.publicKey,
  };
}

function demoConsumer(site: SiteConfig, keys: ReturnType<typeof demoKeys>, mqttUrl: string, speed: number): ConsumerConfig {
  return {
    file: "(demo)",
    consumer: DEMO_CONSUMER,
    site: site.site,
    mqtt: { url: mqttUrl, clientId: `firebreak-consumer-${site.site}-${DEMO_CONSUMER}-demo`, cleanSession: false, keepaliveS: 30, queueLimit: 1000, reconnectMinMs: 500, reconnectMaxMs: 30000, pointTelemetry: { enabled: false, minIntervalMs: 1000 } },
    signingKeyPem: keys.consumerKeyPem,
    trustedKeys: new Map([[DEMO_KID, keys.daemonPubPem]]),
    stateFile: join(mkdtempSync(join(tmpdir(), "firebreak-demo-consumer-")), "consumer.sqlite"),
    maxAgeMs: 300_000,
    action: {
      steps: [[join(packageRoot(), "config", "consumer", "print-drain.sh"), "{host}"]],
      timeoutMs: 60_000,
      retries: 0,
      retryDelayMs: 0,
      concurrency: 4,
      // 2 s of room time per host, on the demo's compressed clock.
      env: { DEMO_SLEEP_S: String(2 / speed) },
    },
    logLevel: "info",
  };
}

/** The example site, pointed at the simulator's ports and the embedded broker. */
function withSimulatorPorts(c: SiteConfig, ports: ReadonlyMap<string, number>, mqttUrl: string): SiteConfig {
  const devices: Device[] = c.devices.map((d) => {
    const port = ports.get(d.id);
    if (port === undefined) throw new Error(`the simulator serves no device ${d.id}`);
    return { ...d, modbus: { ...d.modbus, host: "127.0.0.1", port } };
  });
  const mqttConfig = c.mqtt ?? {
    url: mqttUrl, clientId: "", cleanSession: false, keepaliveS: 30, queueLimit: 10000, reconnectMinMs: 500, reconnectMaxMs: 2000,
    pointTelemetry: { enabled: false, minIntervalMs: 1000 },
  };
  // A fresh state directory per demo: each run starts from an empty picture (and needs no root).
  const stateDir = mkdtempSync(join(tmpdir(), "firebreak-demo-state-"));
  return { ...c, devices, stateDir, mqtt: { ...mqttConfig, url: mqttUrl, clientId: `firebreak-${c.site}-${c.instance}-demo`, protocolVersion: 4 } }; // aedes speaks MQTT 3.1.1 only
}
