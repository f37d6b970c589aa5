// `firebreak consumer -c FILE`: the reference evacuation consumer (README "The reference consumer"),
// until SIGINT/SIGTERM.
import { Consumer } from "../evacuation/consumer.js";
import { loadConsumerConfig } from "../evacuation/consumer-config.js";
import { acceleratedClock, systemClock, type Clock } from "../runtime/clock.js";
import { createLogger } from "../runtime/logger.js";

export interface ConsumerOptions {
  readonly config: string;
  /** Simulator runs only: the daemon's accelerated timeline, so trigger times compare. */
  readonly clockSpeed?: number;
  readonly clockEpoch?: number;
}

export async function runConsumer(opts: ConsumerOptions): Promise<void> {
  const config = await loadConsumerConfig(opts.config);
  const log = createLogger(config.logLevel).child({ component: "consumer", consumer: config.consumer });
  const clock: Clock = opts.clockSpeed !== undefined && opts.clockSpeed !== 1 ? acceleratedClock(opts.clockSpeed, opts.clockEpoch) : systemClock;
  if (clock.speed !== 1) log.warn({ speed: clock.speed }, "running on an accelerated clock: for simulators only");
  const consumer = new Consumer({ config, clock, log });
  consumer.start();
  log.info({ site: config.site, zones: config.zones ?? "all", state: config.stateFile, concurrency: config.action.concurrency }, "firebreak consumer started");
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, "stopping");
      consumer.stop().then(resolve, resolve);
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
}
