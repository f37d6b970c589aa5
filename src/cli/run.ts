// `firebreak run`: the daemon, until SIGINT/SIGTERM.
import { loadSiteConfig } from "../config/load.js";
import { acceleratedClock, systemClock, type Clock } from "../runtime/clock.js";
import { Daemon } from "../runtime/daemon.js";
import { createLogger } from "../runtime/logger.js";

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
  const daemon = new Daemon({ config, clock, log });
  daemon.start();
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, "stopping");
      daemon.stop().then(resolve, (err: unknown) => {
        log.error({ err }, "error while stopping");
        resolve();
      });
    };
    // Without a handler SIGHUP would end the process: a `systemctl reload` must never stop the watch.
    process.on("SIGHUP", () => log.warn("SIGHUP: reloading the config is not supported yet; the running config stays. Restart firebreak to load a new one"));
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
}
