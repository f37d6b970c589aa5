#!/usr/bin/env node
// firebreak's command line: run, check-config, demo.
import { Command, InvalidArgumentError, Option } from "commander";
import { ConfigError, FirebreakError } from "../errors.js";
import { firebreakVersion } from "../runtime/daemon.js";
import { checkConfig } from "./check-config.js";
import { runDemo } from "./demo.js";
import { runDaemon } from "./run.js";

/** Exit codes: 0 ok, 1 runtime failure, 2 the config (or a file it names) is invalid. */
const EXIT_CONFIG = 2;

function number(name: string, min: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new InvalidArgumentError(`${name} must be a number >= ${min}`);
    return n;
  };
}

async function guard(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`config refused (${e.issues.length} problem${e.issues.length === 1 ? "" : "s"}), nothing was loaded:\n${e.message}`);
      process.exit(EXIT_CONFIG);
    }
    if (e instanceof FirebreakError) {
      console.error(`${e.code}: ${e.message}`);
      process.exit(e.code === "FB_FILE_READ" ? EXIT_CONFIG : 1);
    }
    console.error(e);
    process.exit(1);
  }
}

const program = new Command();
program
  .name("firebreak")
  .description("Catches Li-ion battery thermal runaway while it is still an off-gassing cell, and tells people and orchestrators over MQTT.")
  .version(firebreakVersion());

program
  .command("run")
  .description("run the daemon against the devices of a site config")
  .requiredOption("-c, --config <file>", "site config (YAML)")
  .addOption(new Option("--clock-speed <n>", "simulator runs only: accelerated clock").argParser(number("--clock-speed", 1)).hideHelp())
  .addOption(new Option("--clock-epoch <ms>", "simulator runs only: epoch shared with the simulator").argParser(number("--clock-epoch", 0)).hideHelp())
  .action((o: { config: string; clockSpeed?: number; clockEpoch?: number }) =>
    guard(() => runDaemon({ config: o.config, ...(o.clockSpeed !== undefined ? { clockSpeed: o.clockSpeed } : {}), ...(o.clockEpoch !== undefined ? { clockEpoch: o.clockEpoch } : {}) })),
  );

program
  .command("check-config")
  .description("validate a site config and the profiles it uses, and explain what it will watch; exit 2 if invalid")
  .requiredOption("-c, --config <file>", "site config (YAML)")
  .option("--points", "also list every point key")
  .action((o: { config: string; points?: boolean }) => guard(() => checkConfig(o.config, { points: o.points === true })));

program
  .command("demo")
  .description("embedded MQTT broker + simulated battery room + the daemon; plays a cell going into thermal runaway")
  .option("--mqtt-port <n>", "embedded broker port on 127.0.0.1", number("--mqtt-port", 1), 1883)
  .option("--speed <n>", "time compression of the simulated room and the daemon's clock", number("--speed", 1), 10)
  .option("--scenario <name>", "scenario from simulators/scenarios", "cell-runaway")
  .option("--exit-after <event>", "exit when this happens: evacuate | runaway (default: run until Ctrl-C)")
  .action((o: { mqttPort: number; speed: number; scenario: string; exitAfter?: string }) => guard(() => runDemo(o)));

await program.parseAsync(process.argv);
