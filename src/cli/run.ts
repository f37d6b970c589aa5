// `firebreak run`: the daemon, until SIGINT/SIGTERM.
import { loadSiteConfig } from "../config/load.js";
import { acceleratedClock, systemClock, type Clock } from "../runtime/clock.js";
import { Daemon } from "../runtime/daemon.js";
import { createLogger } from "../runtime/logger.js";
import { Observability } from "../runtime/observability.js";

export interface RunOptions {
  readonly config: string;
  /** For simulator runs only: share an accelerated timeline with the simulator. */
  readonly clockSpeed?: number;
  readonly clockEpoch?: number;
}

export async function runDaemon(opts: RunOptions): Promise<void> {
  const config = await loadSiteConfig(opts.config);
  const log = createLogger(config.logLevel);
  const clock: Clock = opts.clockSpeed !== undefined && opts.clockSpeed !== 1 ? acceleratedClock(opts.clockSpeed, opts.clockEpoch) : systemClock;
  for (const w of config.warnings ?? []) log.warn({ file: w.file, line: w.line, column: w.column, key: w.path }, `config: ${w.message}`);
  if (clock.speed !== 1) log.warn({ speed: clock.speed }, "running on an accelerated clock: for simulators only, never for a real site");
  // systemd notify (READY=1, WATCHDOG=1, STATUS=, STOPPING=1) and the HTTP health and metrics output.
  const obs = new Observability({ config, clock, log });
  const daemon = new Daemon({ config, clock, log, onPoll: obs.onPoll, onTick: obs.onTick });
  daemon.start();
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= obs
      .stop()
      .then(() => daemon.stop())
      .catch((err: unknown) => log.error({ err }, "error while stopping"))
      .finally(() => obs.close()));
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (signal: string) => {
      log.info({ signal }, "stopping");
      void stop().then(resolve);
    };
    // Without a handler SIGHUP would end the process: a `systemctl reload` must never stop the watch.
    process.on("SIGHUP", () => log.warn("SIGHUP: reloading the config is not supported yet; the running config stays. Restart firebreak to load a new one"));
    process.once("SIGINT", () => onSignal("SIGINT"));
    process.once("SIGTERM", () => onSignal("SIGTERM"));
  });
  // A listener that cannot bind stops the start: Prometheus would otherwise see "down" with no reason in the log.
  try {
    await Promise.race([obs.start(daemon), stopped]);
  } catch (err) {
    await stop();
    throw err;
  }
  await stopped;
}
