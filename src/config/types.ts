// The validated, typed, frozen config every other part receives. Built once by ./load.ts.
import type { ConfigIssue } from "../errors.js";
import type { OpcuaDeadband, OpcuaNodeDef, OpcuaProfile, PlainPointDef, Profile, SunspecPointDef } from "./profile-schema.js";
import type { degradedKnockPolicies, Stage } from "./site-schema.js";
import type { AlarmsConfig } from "./alarms-schema.js";

export type { Stage } from "./site-schema.js";
export type DegradedKnockPolicy = (typeof degradedKnockPolicies)[number];
export type RaisedStage = Exclude<Stage, "normal">;
export type { AlarmsConfig } from "./alarms-schema.js";

export interface Rack {
  readonly id: string;
  readonly hosts: readonly string[];
}

export interface Zone {
  readonly id: string;
  readonly name: string;
  readonly roomId: string;
  readonly racks: readonly Rack[];
  /** How many distinct knocks at `alarm` evacuate the zone (double knock). */
  readonly evacuateAfterAlarmRules: number;
  readonly clearHoldMs: number;
  /**
   * The zone's knocks (README "Knocks"), built by the loader from its rules. Absent (hand-built
   * zones): every rule active at alarm is a knock of its own and no knock is known to be blind.
   */
  readonly knocks?: readonly Knock[];
  /** What a knock in fault means for the other knock at alarm; absent: evacuate_on_single. */
  readonly degradedKnock?: DegradedKnockPolicy;
}

/**
 * One independent knock of a zone: the rules that can raise `alarm` or above and measure the same
 * thing (same `knock:` name), and the plausibility rules whose points they read (their guards).
 */
export interface Knock {
  readonly name: string;
  /** Ids of the stage rules of this knock. */
  readonly rules: readonly string[];
  /** Ids of the stuck/disagree rules of the zone that watch a point one of `rules` reads. */
  readonly guardedBy: readonly string[];
}

export interface Room {
  readonly id: string;
  readonly name: string;
  readonly zones: readonly Zone[];
}

/** Where a SunSpec point sits in the battery: which string, module and cell (1-based). */
export interface BatteryPosition {
  readonly string?: number;
  readonly module?: number;
  readonly cell?: number;
}

/** One point of one device, its id expanded from the profile and the device's layout. */
export type DevicePoint =
  | { readonly source: "plain"; readonly pointId: string; readonly def: PlainPointDef }
  | { readonly source: "sunspec"; readonly pointId: string; readonly def: SunspecPointDef; readonly position: BatteryPosition }
  | { readonly source: "layout"; readonly pointId: string; readonly def: LayoutPointDef };

/**
 * The `layout` point of a device with a SunSpec layout, written by the Modbus driver: 0 (good) while
 * the device holds no more strings, modules or cells than its layout, bad/config naming the ones
 * nobody watches otherwise (README "Modbus devices").
 */
export interface LayoutPointDef {
  readonly id: "layout";
  readonly unit: string;
  readonly range?: readonly [number, number];
}

export interface Layout {
  readonly strings: number;
  readonly modulesPerString: number;
  readonly cellsPerModule: number;
}

export type Parity = "none" | "even" | "odd";

/** A serial line (RS-485/RS-232) shared by the Modbus RTU units on it: one bus master, one request at a time. */
export interface SerialLine {
  readonly id: string;
  readonly path: string;
  readonly baud: number;
  readonly parity: Parity;
  readonly dataBits: 8;
  readonly stopBits: 1 | 2;
  /** Configured silence between frames; the driver never goes below t3.5 at the baud rate. */
  readonly interFrameMs?: number;
  /** Default timeout of the units on the line (a device's own timeout_ms wins). */
  readonly timeoutMs?: number;
}

/**
 * How a Modbus device is reached (README "Serial lines and RTU gateways"). `transport` is absent
 * on hand-built TCP devices (tests), "tcp" when loaded.
 */
export type ModbusTransport =
  | {
      readonly transport?: "tcp";
      readonly host: string;
      readonly port: number;
      readonly unitId: number;
      /** Requests of one poll on the wire at once (`max_in_flight`); absent: 1. */
      readonly maxInFlight?: number;
    }
  | { readonly transport: "rtu_over_tcp"; readonly host: string; readonly port: number; readonly unitId: number }
  | { readonly transport: "rtu"; readonly line: SerialLine; readonly unitId: number };

/** The TCP port a Modbus device is served on (0 for a unit on a serial line, or none): what the simulators listen on. */
export function tcpPort(m: ModbusTransport | undefined): number {
  return m === undefined || m.transport === "rtu" ? 0 : m.port;
}

/** "127.0.0.1:502 unit 1", "line rs485-a (/dev/ttyUSB0) unit 3", "gateway 10.0.0.5:4001 (RTU) unit 2". */
export function describeModbus(m: ModbusTransport): string {
  switch (m.transport) {
    case "rtu":
      return `line ${m.line.id} (${m.line.path}) unit ${m.unitId}`;
    case "rtu_over_tcp":
      return `gateway ${m.host}:${m.port} (RTU) unit ${m.unitId}`;
    case undefined:
    case "tcp":
      return `${m.host}:${m.port} unit ${m.unitId}`;
  }
}

export interface Device {
  /** Absent on hand-built devices; tells a Modbus device from an OpcuaDevice in a SiteDevice list. */
  readonly protocol?: "modbus";
  readonly id: string;
  readonly zone: string;
  readonly profile: Profile;
  readonly modbus: ModbusTransport;
  readonly pollIntervalMs: number;
  readonly timeoutMs: number;
  readonly staleAfterMs: number;
  /** The device's own `modbus.max_gap`, overriding the profile's (src/config/profile-schema.ts defaultMaxGap). */
  readonly maxGap?: number;
  readonly layout?: Layout;
  readonly points: readonly DevicePoint[];
}

/** One point of an OPC UA device: a profile node, its placeholders filled in for one battery position. */
export interface OpcuaDevicePoint {
  readonly source: "opcua";
  readonly pointId: string;
  readonly def: OpcuaNodeDef;
  /** Node id relative to the profile's namespace (`s=Bms.S1.M3.C7.TempC`); the index is resolved at connect. */
  readonly node: string;
  readonly position: BatteryPosition;
  readonly samplingIntervalMs: number;
  readonly queueSize: number;
  readonly deadband?: OpcuaDeadband;
}

export type OpcuaSecurityMode = "None" | "Sign" | "SignAndEncrypt";
export type OpcuaSecurityPolicy = "None" | "Basic256Sha256" | "Aes128_Sha256_RsaOaep";

/** Secrets are read from their files at load time; the config never holds a path to read later. */
export type OpcuaUser =
  | { readonly type: "anonymous" }
  | { readonly type: "username"; readonly username: string; readonly password: string }
  | { readonly type: "certificate"; readonly certFile: string; readonly certificate: string; readonly privateKey: string };

export interface OpcuaClientConfig {
  readonly endpoint: string;
  readonly securityMode: OpcuaSecurityMode;
  readonly securityPolicy: OpcuaSecurityPolicy;
  readonly user: OpcuaUser;
  /** Absolute path of the PKI folder (own/, trusted/, rejected/, issuers/). */
  readonly pkiDir: string;
  readonly publishingIntervalMs: number;
}

/** A device read over OPC UA subscriptions (src/drivers/opcua/), kept apart from Modbus `Device`s. */
export interface OpcuaDevice {
  readonly protocol: "opcua";
  readonly id: string;
  readonly zone: string;
  readonly profile: OpcuaProfile;
  readonly opcua: OpcuaClientConfig;
  /**
   * Always Infinity for the store: an unchanged OPC UA value is legitimately old (it is only sent
   * on change), so liveness is watched by the driver instead, on the subscription's keep-alives.
   */
  readonly staleAfterMs: number;
  /** No notification or keep-alive for this long: every point bad/stale (the driver's watchdog). */
  readonly silenceLimitMs: number;
  readonly layout?: Layout;
  readonly points: readonly OpcuaDevicePoint[];
}

/** Any device of the site, Modbus or OPC UA: a tagged union on `protocol`. */
export type SiteDevice = Device | OpcuaDevice;

/** Every device of the site, Modbus first, in config order within each protocol. */
export function siteDevices(c: Pick<SiteConfig, "devices" | "opcuaDevices">): readonly SiteDevice[] {
  return [...c.devices, ...(c.opcuaDevices ?? [])];
}

interface RuleBase {
  readonly id: string;
  readonly zone: string;
  readonly description: string;
  /** Alarm priority override for the rule's alarm (src/alarms/lifecycle.ts priorityOf). */
  readonly priority?: "critical" | "high" | "medium" | "low";
}

interface PointRuleBase extends RuleBase {
  /** Point keys the rule watches, resolved from its globs at load time. */
  readonly points: readonly string[];
  readonly onDelayMs: number;
  readonly offDelayMs: number;
}

interface StageRuleBase extends PointRuleBase {
  /** The knock this rule belongs to (README "Knocks"); absent: the rule's own id. */
  readonly knock?: string;
}

export type ThresholdLevelName = "high" | "high_high" | "low" | "low_low";

export interface ThresholdRule extends StageRuleBase {
  readonly kind: "threshold";
  readonly levels: readonly { readonly name: ThresholdLevelName; readonly value: number; readonly stage: RaisedStage }[];
  readonly deadband: number;
}

export interface RateOfRiseRule extends StageRuleBase {
  readonly kind: "rate_of_rise";
  readonly ratePerMin: number;
  readonly windowMs: number;
  readonly minSamples: number;
  readonly stage: RaisedStage;
}

export interface DeviationRule extends StageRuleBase {
  readonly kind: "deviation";
  readonly aboveMedian: number;
  readonly groupByTrim: number;
  readonly minGroup: number;
  readonly deadband: number;
  readonly stage: RaisedStage;
}

export interface OffgasRule extends StageRuleBase {
  readonly kind: "offgas";
  readonly referencePoints: readonly string[];
  readonly baselinePpm: number;
  readonly levels: readonly { readonly ppmAboveBaseline: number; readonly stage: RaisedStage }[];
  readonly deadband: number;
}

export interface CommLossRule extends RuleBase {
  readonly kind: "comm_loss";
  readonly devices: readonly string[];
  readonly afterMs: number;
}

/** A point that does not move while its peers do (src/rules/stuck.ts). Trouble, never a stage. */
export interface StuckRule extends PointRuleBase {
  readonly kind: "stuck";
  readonly resolution: number;
  readonly flatMs: number;
  readonly groupByTrim: number;
  readonly peers: "group" | "adjacent";
  readonly minMovingPeers: number;
  /** Readings the flat run must hold besides lasting flatMs (absent: 0, time alone). */
  readonly minReadings?: number;
}

/** Redundant points that depart from each other (src/rules/disagree.ts). Trouble, never a stage. */
export interface DisagreeRule extends PointRuleBase {
  readonly kind: "disagree";
  readonly maxDifference: number;
  readonly deadband: number;
}

/** One state of a `state` rule: the point equals `value`, or has `bit` set (README "State rules"). */
export interface StateDef {
  readonly name: string;
  readonly value?: number;
  readonly bit?: number;
  /** The stage it raises (condition rules only). */
  readonly stage?: RaisedStage;
  /** Point key of the seconds left before the state's deadline (the panel's pre-release countdown). */
  readonly countdownPoint?: string;
}

/** A bit or enum point in named states (src/rules/state.ts): the suppression panel, the BMS's State and Evt1. */
export interface StateRule extends StageRuleBase {
  readonly kind: "state";
  /** condition: states raise stages; trouble / supervisory: the rule's alarm of that class, no stage. */
  readonly class: "condition" | "trouble" | "supervisory";
  readonly states: readonly StateDef[];
}

/** k of n detectors of a zone (src/rules/vote.ts): cross-zoning. */
export interface VoteRule extends StageRuleBase {
  readonly kind: "vote";
  readonly votes: number;
  /** What a detector's reading must be to vote: exactly one of the three is set. */
  readonly when: { readonly value?: number; readonly bit?: number; readonly atLeast?: number };
  readonly stage: RaisedStage;
  /** vote: a detector that cannot be read counts as voting once a seeing one votes; abstain: it does not. */
  readonly blindDetector: "vote" | "abstain";
}

export type Rule = ThresholdRule | RateOfRiseRule | DeviationRule | OffgasRule | CommLossRule | StuckRule | DisagreeRule | StateRule | VoteRule;

/** Rule kinds that judge the sensing, not the battery: active means trouble and the zone's fault. */
export const TROUBLE_KINDS: ReadonlySet<Rule["kind"]> = new Set<Rule["kind"]>(["comm_loss", "stuck", "disagree"]);

export interface MqttConfig {
  readonly url: string;
  readonly clientId: string;
  readonly username?: string;
  /** Read from password_file at load time; never from the command line. */
  readonly password?: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly cleanSession: boolean;
  readonly keepaliveS: number;
  readonly queueLimit: number;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  /** Period of the retained `online` heartbeat, s (expiry: 3 heartbeats); default 30 when absent. */
  readonly heartbeatS?: number;
  /** 5 (default when absent) or 4 (MQTT 3.1.1, for brokers without v5: no message expiry on `status`). */
  readonly protocolVersion?: 4 | 5;
  readonly pointTelemetry: { readonly enabled: boolean; readonly minIntervalMs: number };
}

/** The pager output (src/outputs/pager/): alerts to Alertmanager's v2 API. */
export interface AlertmanagerConfig {
  /** Base URL without a trailing slash. */
  readonly url: string;
  readonly refreshMs: number;
  /** endsAt of a firing alert is its post time plus this. */
  readonly endsAfterMs: number;
  readonly timeoutMs: number;
  readonly queueLimit: number;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  readonly username?: string;
  /** Read from password_file at load time. */
  readonly password?: string;
}

/** The history output (src/outputs/influx/): InfluxDB 1.x through the `influx` package. */
export interface InfluxConfig {
  /** Base URL without a trailing slash. */
  readonly url: string;
  readonly database: string;
  readonly retentionPolicy?: string;
  readonly username?: string;
  /** Read from password_file at load time. */
  readonly password?: string;
  readonly createDatabase: boolean;
  readonly batchSize: number;
  readonly flushIntervalMs: number;
  readonly bufferLimit: number;
  /** 0: point values on change only. */
  readonly pointHeartbeatMs: number;
  readonly timeoutMs: number;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
}

/** An operator allowed to send signed commands; the public key was read from its file and checked at load time. */
export interface Operator {
  readonly id: string;
  /** SPKI PEM of the operator's Ed25519 public key. */
  readonly publicKeyPem: string;
  /** Absolute path of the file it was read from, for messages. */
  readonly publicKeyFile: string;
}

export interface CommandsConfig {
  /** A command further than this from the daemon's clock, either way, is refused as stale. */
  readonly maxSkewMs: number;
}

/** Where /healthz, /readyz and /metrics listen; secrets were read from their files at load. */
export interface HttpConfig {
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Requests must carry `Authorization: Bearer <token>` (all three paths). */
  readonly bearerToken?: string;
}

/** A consumer that must acknowledge evacuation triggers; its key was read and checked at load time. */
export interface EvacuationConsumer {
  readonly id: string;
  /** SPKI PEM of the consumer's Ed25519 public key: its acknowledgments are verified with it. */
  readonly publicKeyPem: string;
  /** Zones whose triggers it must acknowledge; absent: every zone. */
  readonly zones?: readonly string[];
}

/** The `evacuation:` section: how triggers are signed and who must acknowledge them. */
export interface EvacuationConfig {
  /** PKCS#8 PEM of the daemon's Ed25519 signing key, read from signing_key_file at load time. */
  readonly signingKeyPem: string;
  readonly kid: string;
  readonly ackWindowMs: number;
  readonly reannounceIntervalMs: number;
  readonly consumers: readonly EvacuationConsumer[];
}

/** One protective action (README "Protective actions"), checked against its device's profile at load. */
export interface ProtectiveAction {
  readonly id: string;
  readonly description: string;
  readonly kind: "open_string_contactor" | "stop_recirculation" | "close_damper";
  readonly device: string;
  /** A writable point of the device (`s1/setCon`) and the raw value written to it. */
  readonly write: { readonly point: string; readonly value: number };
  /** Points of the device that must read these values (within tolerance) once the write is carried out. */
  readonly expect: readonly { readonly point: string; readonly value: number; readonly tolerance: number }[];
  /** Runs when `zone` reaches `stage` or a higher one. */
  readonly on: { readonly zone: string; readonly stage: Stage };
  readonly enabled: boolean;
  readonly dryRun: boolean;
  /** Required when enabled: `zone` at `zoneStage` or higher with at least `minKnocks` knocks at alarm. */
  readonly interlock?: { readonly zoneStage: Stage; readonly minKnocks: number };
  readonly verify: { readonly retries: number; readonly intervalMs: number; readonly timeoutMs: number };
  readonly rateLimit: { readonly max: number; readonly perMs: number };
}

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal";

export interface SiteConfig {
  readonly file: string;
  readonly site: string;
  readonly instance: string;
  readonly rooms: readonly Room[];
  /** Every zone of every room, by id. */
  readonly zones: ReadonlyMap<string, Zone>;
  readonly devices: readonly Device[];
  /** Serial lines of RTU devices; absent or empty when there are none. */
  readonly serialLines?: readonly SerialLine[];
  /** Devices read over OPC UA; absent or empty when there are none. Device ids are unique across both lists. */
  readonly opcuaDevices?: readonly OpcuaDevice[];
  readonly rules: readonly Rule[];
  readonly mqtt?: MqttConfig;
  /** Pager output; absent: off. */
  readonly alertmanager?: AlertmanagerConfig;
  /** History output; absent: off. */
  readonly influx?: InfluxConfig;
  /** Health and metrics over HTTP (README "Health and metrics"); absent: no listener. */
  readonly http?: HttpConfig;
  /** Alarm lifecycle limits; absent in hand-built configs, which get the defaults. */
  readonly alarms?: AlarmsConfig;
  /** Who may send signed commands; empty: every command is refused as unknown_operator. */
  readonly operators: readonly Operator[];
  readonly commands: CommandsConfig;
  /** Absent: triggers go out unsigned, and no acknowledgment is awaited (a warning at start). */
  readonly evacuation?: EvacuationConfig;
  /** Protective actions (README "Protective actions"); absent or empty: firebreak writes to no device. */
  readonly actions?: readonly ProtectiveAction[];
  readonly logLevel: LogLevel;
  /** Absolute path of the state directory (the SQLite state store lives here). */
  readonly stateDir: string;
  /** Accepted, but worth a word at start-up (e.g. a password on plain mqtt:// allowed on purpose). */
  readonly warnings?: readonly ConfigIssue[];
}
