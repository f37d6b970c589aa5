// The daemon under test, as its own process (forked by the harness): the real Daemon built from
// the real config loader on the system clock, exactly as `firebreak run` builds it, plus an IPC
// channel for the figures only the process itself knows (CPU, RSS, polls) and the MQTT burst.
// Usage (by the harness): node dist/bench/daemon-host.js SITE_FILE LOG_FILE [POLL_INTERVAL_MS]
// POLL_INTERVAL_MS overrides every device's interval after validation, below the schema's 50 ms
// floor, so polls run back to back (the saturated phase); the timeout then stays at 1 s.
import { mkdtempSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { loadSiteConfig } from "../src/config/load.js";
import type { ZoneFaultChange } from "../src/events.js";
import { MqttOutput } from "../src/outputs/mqtt/publisher.js";
import { systemClock } from "../src/runtime/clock.js";
import { Daemon, firebreakVersion } from "../src/runtime/daemon.js";
import { createLogger } from "../src/runtime/logger.js";
import type { BurstResult, DaemonCommand, DaemonReply, DaemonStats } from "./protocol.js";

const [siteFile, logFile, intervalArg] = process.argv.slice(2);
if (siteFile === undefined || logFile === undefined) throw new Error("usage: daemon-host SITE_FILE LOG_FILE");

const send = (m: DaemonReply): void => void process.send?.(m);
// A fresh state directory per run: the bench measures a first start, not a restored picture.
const loaded = { ...(await loadSiteConfig(siteFile)), stateDir: mkdtempSync(join(tmpdir(), "fb-bench-state-")) };
const config =
  intervalArg === undefined ? loaded : { ...loaded, devices: loaded.devices.map((d) => ({ ...d, pollIntervalMs: Number(intervalArg), timeoutMs: 1000 })) };
const log = createLogger(config.logLevel, { pretty: false, destination: pino.destination({ dest: logFile, sync: false }) as unknown as NodeJS.WritableStream });
const daemon = new Daemon({ config, clock: systemClock, log });
const pointsOf = new Map(config.devices.map((d) => [d.id, d.points.length]));
daemon.start();
send({ type: "started" });

function stats(): DaemonStats {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  let polls = 0, overruns = 0, failures = 0, pointUpdates = 0, connected = 0;
  const lastErrors: string[] = [];
  for (const s of daemon.pollerStatus()) {
    polls += s.polls;
    overruns += s.overruns ?? 0;
    failures += s.failures;
    pointUpdates += s.polls * (pointsOf.get(s.device) ?? 0);
    if (s.connected) connected++;
    if (s.lastError !== undefined && lastErrors.length < 3) lastErrors.push(`${s.device}: ${s.lastError}`);
  }
  return {
    at: performance.timeOrigin + performance.now(),
    cpuUs: cpu.user + cpu.system,
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    polls,
    overruns,
    failures,
    pointUpdates,
    unread: daemon.store.neverWritten(),
    connected,
    devices: config.devices.length,
    lastErrors,
  };
}

/**
 * QoS 1 events through the same MqttOutput code the daemon uses (a second instance and broker
 * connection in this process), closed loop: at most `window` messages queued or unacknowledged.
 */
async function burst(seconds: number, window: number): Promise<BurstResult> {
  const mqttConfig = config.mqtt;
  if (mqttConfig === undefined) throw new Error("the bench site has no mqtt section");
  const out = new MqttOutput({
    config: { ...mqttConfig, clientId: `${mqttConfig.clientId}-burst` },
    site: config.site,
    instance: "burst",
    version: firebreakVersion(),
    clock: systemClock,
    log: log.child({ component: "mqtt-burst" }),
    retained: () => ({ zones: [], alarms: [], triggers: [] }),
  });
  out.start();
  const connectBy = Date.now() + 15_000;
  while (!out.stats().connected) {
    if (Date.now() > connectBy) {
      await out.stop();
      throw new Error("burst output did not connect within 15 s");
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  const rssBefore = process.memoryUsage.rss();
  const acked0 = out.stats().published;
  let events = 0;
  const end = Date.now() + seconds * 1000;
  await new Promise<void>((done) => {
    const pump = (): void => {
      if (Date.now() >= end) return done();
      const s = out.stats();
      // Each event is two QoS 1 messages: the retained state and the numbered `events` entry.
      for (let room = window - s.queued - s.inFlight; room >= 2; room -= 2) {
        const e: ZoneFaultChange = { type: "zone_fault", zone: "mqtt-burst", stage: "normal", fault: events % 2 === 0, since: Date.now(), faults: [] };
        out.publish(e);
        events++;
      }
      setTimeout(pump, 1);
    };
    pump();
  });
  const s = out.stats();
  const result: BurstResult = { seconds, events, messagesAcked: s.published - acked0, rssBefore, rssAfter: process.memoryUsage.rss(), queuedAtEnd: s.queued + s.inFlight, dropped: s.dropped };
  await out.stop();
  return result;
}

/** The measured window only (not start-up or warm-up), through the inspector: FB_BENCH_PROFILE. */
let profiler: Session | undefined;
async function profileStart(): Promise<void> {
  profiler = new Session();
  profiler.connect();
  await profiler.post("Profiler.enable");
  await profiler.post("Profiler.start");
}
async function profileStop(file: string): Promise<void> {
  if (profiler === undefined) throw new Error("profile-stop without profile-start");
  const { profile } = await profiler.post("Profiler.stop");
  profiler.disconnect();
  profiler = undefined;
  await writeFile(file, JSON.stringify(profile));
}

process.on("message", (m: DaemonCommand) => {
  switch (m.type) {
    case "profile-start":
      return void profileStart().catch((e: unknown) => send({ type: "error", message: String(e) }));
    case "profile-stop":
      return void profileStop(m.file).then(
        () => send({ type: "profiled", file: m.file }),
        (e: unknown) => send({ type: "error", message: String(e) }),
      );
    case "stats":
      return send({ type: "stats", stats: stats() });
    case "burst":
      return void burst(m.seconds, m.window).then(
        (result) => send({ type: "burst", result }),
        (e: unknown) => send({ type: "error", message: String(e) }),
      );
    case "stop":
      return void daemon.stop().finally(() => {
        log.flush();
        process.exit(0);
      });
  }
});
process.on("disconnect", () => void daemon.stop().finally(() => process.exit(0)));
