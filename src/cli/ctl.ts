// `firebreak ctl`: the operator's side of signed commands (README "firebreak ctl"). Builds a
// verb's arguments from the options, signs them with the operator's key, sends them through the
// broker and prints the daemon's answer. Exit: 0 accepted, 3 refused, 1 no reply (or no broker),
// 2 a usage, config or key problem (nothing was sent).
import { relative } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import type { JsonValue } from "../commands/canonical.js";
import { KeyFileError, loadPrivateKey, writeOperatorKeyPair } from "../commands/keys.js";
import { newRequestId, signCommand } from "../commands/sign.js";
import { argsSchemas, type Verb } from "../commands/wire.js";
import { describeReplies, describeSilence } from "./ctl-print.js";
import { CtlUsageError, exchange, resolveConnection, type ConnectionOptions } from "./ctl-send.js";

const EXIT_NO_REPLY = 1;
const EXIT_USAGE = 2;
const EXIT_REFUSED = 3;

interface CommonOptions extends ConnectionOptions {
  readonly as: string;
  readonly key: string;
  readonly timeout: number;
  readonly json?: boolean;
  readonly instances: number;
}

/** 90s, 30m, 2h, 1d, or combined (1h30m), to seconds. */
export function parseDuration(text: string): number {
  const m = /^(?:\d+(?:\.\d+)?[smhd])+$/.test(text) ? [...text.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)] : [];
  const unit = { s: 1, m: 60, h: 3600, d: 86400 } as const;
  const s = m.reduce((sum, [, n, u]) => sum + Number(n) * unit[u as keyof typeof unit], 0);
  if (m.length === 0 || !(s > 0)) throw new InvalidArgumentError(`"${text}" is not a duration; use e.g. 90s, 30m, 2h, 1h30m`);
  return s;
}

function positiveSeconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("must be a number of seconds > 0");
  return n;
}

function positiveCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a whole number >= 1");
  return n;
}

/**
 * With `--instances 1`, how long ctl listens after the first reply so that other daemons of the site
 * answering too are named in a note [operational choice: a local broker answers within milliseconds].
 */
const PEER_GRACE_MS = 500;

function withCommon(cmd: Command): Command {
  return cmd
    .requiredOption("--as <operator>", "your operator id, as in the site config's operators")
    .requiredOption("--key <file>", "your private key (from `firebreak ctl keygen`)")
    .option("-c, --config <file>", "site config: broker url, TLS, credentials and site id from its mqtt section")
    .option("--broker <url>", "mqtt://host:port or mqtts://host:port (instead of, or overriding, -c)")
    .option("--site <id>", "site id (instead of, or overriding, -c)")
    .option("--username <name>", "your broker user (overrides the config's, which is the daemon's)")
    .option("--password-file <file>", "file holding your broker password")
    .option("--ca-file <file>", "CA certificate (PEM) for mqtts://")
    .option("--timeout <s>", "how long to wait for the daemon's reply", positiveSeconds, 10)
    .option("--json", "print the raw reply (one JSON line per reply)")
    .option("--instances <n>", "wait for the replies of n daemons (a redundant pair: 2) and print each under its instance", positiveCount, 1);
}

type Run = (fn: () => Promise<unknown>) => Promise<void>;

async function send<V extends Verb>(verb: V, rawArgs: Record<string, JsonValue>, o: CommonOptions): Promise<void> {
  // Checked here with the daemon's own schema, so a typo is caught before anything is signed.
  const checked = argsSchemas[verb].safeParse(rawArgs);
  if (!checked.success) throw new CtlUsageError(checked.error.issues.map((i) => `${i.path.join(".") || verb}: ${i.message}`).join("; "));
  const privateKey = await loadPrivateKey(o.key);
  const conn = await resolveConnection(o);
  const requestId = newRequestId();
  const payload = JSON.stringify(signCommand(verb, { requestId, by: o.as, tsMs: Date.now(), site: conn.site }, rawArgs, privateKey));
  const outcome = await exchange(conn, { verb, requestId, payload, timeoutMs: o.timeout * 1000, operator: o.as, instances: o.instances, graceMs: PEER_GRACE_MS });
  switch (outcome.kind) {
    case "failed":
      console.error(outcome.why);
      process.exitCode = EXIT_NO_REPLY;
      return;
    case "timeout":
      console.error(describeSilence(conn.site, requestId, o.timeout, outcome.status, outcome.noSubscribers));
      process.exitCode = EXIT_NO_REPLY;
      return;
    case "reply": {
      const { out, err, exitCode } = describeReplies({ verb, args: checked.data } as Parameters<typeof describeReplies>[0], outcome.replies, o.instances);
      if (o.json === true) for (const r of o.instances > 1 ? outcome.replies : [outcome.reply]) console.log(JSON.stringify(r));
      else if (out !== "") console.log(out);
      if (err !== "" && (o.json !== true || exitCode === 1)) console.error(err);
      process.exitCode = exitCode === 0 ? 0 : exitCode === 3 ? EXIT_REFUSED : EXIT_NO_REPLY;
    }
  }
}

/** Usage, key and connection-setting problems exit 2 with one line; config errors go to main's guard. */
function ctlRun(run: Run): Run {
  return (fn) =>
    run(async () => {
      try {
        await fn();
      } catch (e) {
        if (!(e instanceof CtlUsageError) && !(e instanceof KeyFileError)) throw e;
        console.error(e instanceof KeyFileError ? `${e.code}: ${e.message}` : e.message);
        process.exitCode = EXIT_USAGE;
      }
    });
}

/** One of the flags, exactly: `--alarm X` or `--device Y`. */
function oneOf<K extends string>(o: Partial<Record<K, string | boolean>>, keys: readonly K[]): Record<string, JsonValue> {
  const given = keys.filter((k) => o[k] !== undefined);
  if (given.length !== 1) throw new CtlUsageError(`give exactly one of ${keys.map((k) => `--${k}`).join(", ")}`);
  const k = given[0]!;
  return { [k]: o[k] as string | boolean };
}

const reasonOf = (o: { reason?: string }): Record<string, JsonValue> => (o.reason === undefined ? {} : { reason: o.reason });

export function registerCtl(program: Command, guard: Run): void {
  const run = ctlRun(guard);
  const ctl = program
    .command("ctl")
    .description("operator commands, signed with your key: ack, shelve, unshelve, oos, return, maintenance, clear, status; and keygen")
    .addHelpText("after", "\nExit codes: 0 accepted, 3 refused by the daemon, 1 no reply in time (or no broker), 2 usage/config/key problem (nothing sent).");

  ctl
    .command("keygen")
    .description("make an Ed25519 key pair: <name>.key (private, mode 0600) and <name>.pub, and print the operators: lines for the site config")
    .requiredOption("--name <operator>", "operator id")
    .option("--out <dir>", "directory to write into", ".")
    .action((o: { name: string; out: string }) =>
      run(async () => {
        const w = await writeOperatorKeyPair(o.out, o.name);
        const pub = relative(process.cwd(), w.pubFile) || w.pubFile;
        console.log(`wrote ${relative(process.cwd(), w.keyFile) || w.keyFile} (private key, mode 0600: it stays with ${o.name}; never put it in the site config)`);
        console.log(`wrote ${pub} (public key)`);
        console.log(`\nadd to the site config (public_key_file is relative to the config file: copy ${pub} there or adjust the path):\n`);
        console.log(`operators:\n  - id: ${o.name}\n    public_key_file: ${pub}`);
      }),
    );

  type AckO = CommonOptions & { alarm?: string; zone?: string; all?: boolean };
  withCommon(ctl.command("ack").description("acknowledge an alarm, every alarm of a zone, or all alarms"))
    .option("--alarm <id>")
    .option("--zone <id>")
    .option("--all")
    .action((o: AckO) => run(() => send("ack", oneOf(o, ["alarm", "zone", "all"]), o)));

  type ShelveO = CommonOptions & { alarm: string; for: number; reason: string };
  withCommon(ctl.command("shelve").description("shelve an alarm for a while (ISA-18.2): it stays watched but is not announced"))
    .requiredOption("--alarm <id>")
    .requiredOption("--for <duration>", "90s, 30m, 2h", parseDuration)
    .requiredOption("--reason <text>")
    .action((o: ShelveO) => run(() => send("shelve", { alarm: o.alarm, durationS: o.for, reason: o.reason }, o)));

  type UnshelveO = CommonOptions & { alarm: string; reason?: string };
  withCommon(ctl.command("unshelve").description("end an alarm's shelving now"))
    .requiredOption("--alarm <id>")
    .option("--reason <text>")
    .action((o: UnshelveO) => run(() => send("unshelve", { alarm: o.alarm, ...reasonOf(o) }, o)));

  type ServiceO = CommonOptions & { alarm?: string; device?: string; reason?: string };
  withCommon(ctl.command("oos").alias("out-of-service").description("take an alarm or a device out of service"))
    .option("--alarm <id>")
    .option("--device <id>")
    .requiredOption("--reason <text>")
    .action((o: ServiceO) => run(() => send("out_of_service", { ...oneOf(o, ["alarm", "device"]), ...reasonOf(o) }, o)));

  withCommon(ctl.command("return").alias("return-to-service").description("return an alarm or a device to service"))
    .option("--alarm <id>")
    .option("--device <id>")
    .action((o: ServiceO) => run(() => send("return_to_service", oneOf(o, ["alarm", "device"]), o)));

  type MaintO = CommonOptions & { zone: string; on?: boolean; off?: boolean; until?: string; for?: number; reason?: string };
  withCommon(ctl.command("maintenance").description("put a zone in maintenance (its alarms suppressed by design), or take it out"))
    .requiredOption("--zone <id>")
    .option("--on")
    .option("--off")
    .option("--until <iso>", "end of maintenance, ISO 8601 (e.g. 2026-11-25T18:00:00Z)")
    .addOption(new Option("--for <duration>", "end of maintenance, from now: 90s, 30m, 2h").argParser(parseDuration).conflicts("until"))
    .option("--reason <text>", "required with --on")
    .action((o: MaintO) =>
      run(() => {
        if ((o.on === true) === (o.off === true)) throw new CtlUsageError("give exactly one of --on, --off");
        const until = o.until !== undefined ? isoFrom(o.until) : o.for !== undefined ? new Date(Date.now() + o.for * 1000).toISOString() : undefined;
        if (o.off === true && until !== undefined) throw new CtlUsageError("--until/--for go with --on");
        return send("maintenance", { zone: o.zone, on: o.on === true, ...(until === undefined ? {} : { untilTs: until }), ...reasonOf(o) }, o);
      }),
    );

  type ClearO = CommonOptions & { zone: string; reason?: string };
  withCommon(ctl.command("clear").description("clear a latched zone (closes its incident)"))
    .requiredOption("--zone <id>")
    .option("--reason <text>")
    .action((o: ClearO) => run(() => send("clear", { zone: o.zone, ...reasonOf(o) }, o)));

  withCommon(ctl.command("status").description("the daemon's zones, alarms by priority, and open evacuation triggers")).action((o: CommonOptions) => run(() => send("status", {}, o)));
}

function isoFrom(text: string): string {
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text) || Number.isNaN(ms)) throw new CtlUsageError(`--until ${text}: use ISO 8601, e.g. 2026-11-25T18:00:00Z`);
  if (ms <= Date.now()) throw new CtlUsageError(`--until ${text} is in the past`);
  return new Date(ms).toISOString();
}
