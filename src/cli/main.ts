#!/usr/bin/env node
// firebreak's command line: run, check-config, demo, consumer, opcua, modbus, ctl.
import { Command, InvalidArgumentError, Option } from "commander";
import { ConfigError, FirebreakError } from "../errors.js";
import { firebreakVersion } from "../runtime/daemon.js";
import { checkConfig } from "./check-config.js";
import { runConsumer } from "./consumer.js";
import { registerCtl } from "./ctl.js";
import { registerModbus } from "./modbus.js";
import { runDemo } from "./demo.js";
import type { OpcuaSecurityMode, OpcuaSecurityPolicy } from "../config/types.js";
import { runDaemon } from "./run.js";

// `firebreak sim …` is the simulator's own command line (simulators/cli.ts, `firebreak sim --help`),
// loaded only when asked for: it parses the rest of argv itself.
const simulating = process.argv[2] === "sim";
if (simulating) {
  process.argv.splice(2, 1);
  await import("../../simulators/cli.js");
}

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

program
  .command("consumer")
  .description("the reference evacuation consumer: verify triggers, run the configured action once per host, acknowledge")
  .requiredOption("-c, --config <file>", "consumer config (YAML)")
  .addOption(new Option("--clock-speed <n>", "simulator runs only: accelerated clock").argParser(number("--clock-speed", 1)).hideHelp())
  .addOption(new Option("--clock-epoch <ms>", "simulator runs only: epoch shared with the daemon").argParser(number("--clock-epoch", 0)).hideHelp())
  .action((o: { config: string; clockSpeed?: number; clockEpoch?: number }) =>
    guard(() => runConsumer({ config: o.config, ...(o.clockSpeed !== undefined ? { clockSpeed: o.clockSpeed } : {}), ...(o.clockEpoch !== undefined ? { clockEpoch: o.clockEpoch } : {}) })),
  );

/** node-opcua loads only for these commands; its own chatter goes to a stderr log first. */
async function opcuaCli() {
  const { routeLibraryLog } = await import("../drivers/opcua/library-log.js");
  routeLibraryLog((await import("pino")).pino({ level: "warn" }, (await import("pino")).pino.destination(2)));
  return import("./opcua.js");
}

const opcua = program.command("opcua").description("OPC UA commissioning: browse a server, manage trusted server certificates");
opcua
  .command("browse <endpoint>")
  .description("list the address space with node ids, data types and current values, to write a profile")
  .option("--node <id>", "start node (e.g. ns=2;s=Bms); default the Objects folder")
  .option("--depth <n>", "levels below the start node", number("--depth", 0), 4)
  .addOption(new Option("--security-mode <mode>", "None | Sign | SignAndEncrypt").choices(["None", "Sign", "SignAndEncrypt"]).default("SignAndEncrypt"))
  .addOption(new Option("--security-policy <policy>", "None | Basic256Sha256 | Aes128_Sha256_RsaOaep").choices(["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep"]).default("Basic256Sha256"))
  .option("--username <name>", "user identity: name (the password comes from --password-file)")
  .option("--password-file <file>", "file holding the password (never on the command line)")
  .option("--user-cert <file>", "X.509 user identity: certificate (PEM)")
  .option("--user-key <file>", "X.509 user identity: private key (PEM)")
  .option("--pki <dir>", "PKI folder (own certificate, trusted and rejected server certificates)", "pki/opcua")
  .option("--json", "one JSON object per node")
  .action(
    (
      endpoint: string,
      o: { node?: string; depth: number; securityMode: OpcuaSecurityMode; securityPolicy: OpcuaSecurityPolicy; username?: string; passwordFile?: string; userCert?: string; userKey?: string; pki: string; json?: boolean },
    ) =>
      guard(async () =>
        (await opcuaCli()).opcuaBrowse({
          endpoint,
          depth: o.depth,
          securityMode: o.securityMode,
          securityPolicy: o.securityPolicy,
          pki: o.pki,
          json: o.json === true,
          ...(o.node !== undefined ? { node: o.node } : {}),
          ...(o.username !== undefined ? { username: o.username } : {}),
          ...(o.passwordFile !== undefined ? { passwordFile: o.passwordFile } : {}),
          ...(o.userCert !== undefined ? { userCertFile: o.userCert } : {}),
          ...(o.userKey !== undefined ? { userKeyFile: o.userKey } : {}),
        }),
      ),
  );
opcua
  .command("trust <certificate>")
  .description("trust a server certificate: a file, or the thumbprint (or a unique prefix of 8+ hex digits) of one in <pki>/rejected")
  .option("--pki <dir>", "PKI folder", "pki/opcua")
  .action((certificate: string, o: { pki: string }) => guard(async () => (await opcuaCli()).opcuaTrust({ certificate, pki: o.pki })));
opcua
  .command("certificates")
  .description("list rejected and trusted server certificates with their thumbprints")
  .option("--pki <dir>", "PKI folder", "pki/opcua")
  .action((o: { pki: string }) => guard(async () => (await opcuaCli()).opcuaListCertificates({ pki: o.pki })));

registerModbus(program, guard);
registerCtl(program, guard);

// Listed for --help only: argv starting with `sim` never reaches commander (see the top of this file).
program.command("sim").description("the simulated battery room: Modbus TCP and OPC UA devices playing a scenario (firebreak sim --help)");

if (!simulating) await program.parseAsync(process.argv);
