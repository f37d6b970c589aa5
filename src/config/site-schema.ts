// The site config (config/*.yaml): topology, devices, rules, outputs. Validated once, at the edge,
// into the typed objects in ./types.ts; nothing deeper sees YAML.
import { z } from "zod";
import { alarmsSchema } from "./alarms-schema.js";
import { httpSchema } from "./http-settings.js";
import { countBetween, MAX_COUNT, MAX_DELAY_S, MAX_HOUR_MS, MAX_MIN_SAMPLES, MAX_POLL_MS, MAX_PPM, MAX_QUEUE, MAX_RATE_PER_MIN, MAX_READING, MAX_RECONNECT_MS, MAX_WINDOW_S, msBetween, quantity, secondsUpTo } from "./bounds.js";
import { MAX_GLOB_LENGTH } from "./point-glob.js";
import { alertmanagerSchema, influxSchema } from "./outputs-settings.js";
import { modbusSchema, serialLineSchema } from "./modbus-schema.js";
import { actionSchema } from "./actions-schema.js";

// 128 characters: ids become MQTT topic levels and log keys; longer is a paste accident.
const id = z.string().max(128, "must be at most 128 characters").regex(/^[A-Za-z0-9_-]+$/, "use letters, digits, '_' and '-' only");
const seconds = secondsUpTo(MAX_DELAY_S);
const positiveSeconds = secondsUpTo(MAX_WINDOW_S, { positive: true });
/** A reading or level in the point's own unit (bounds.ts: MAX_READING). */
const reading = quantity(-MAX_READING, MAX_READING, "in the point's unit");
const readingDelta = quantity(0, MAX_READING, "in the point's unit");

/**
 * `released`: the suppression panel reports its agent discharged (docs/sources.md#panel-sequence). It
 * ranks beyond `evacuate` (the room is flooded and its power may be cut) and only a `state` rule
 * reading the panel raises it: no measured value means the agent is out.
 */
export const stages = ["normal", "watch", "pre_alarm", "alarm", "evacuate", "released"] as const;
export type Stage = (typeof stages)[number];
/** Stages a rule can raise when it is active. */
const raisedStage = z.enum(["watch", "pre_alarm", "alarm", "evacuate"]);
/** Stages a `state` or `vote` rule can raise: also `released`, which a panel reports as a state. */
const stateStage = z.enum(["watch", "pre_alarm", "alarm", "evacuate", "released"]);

/** What a zone does when one of its knocks is in fault and another is at alarm (README "Knocks"). */
export const degradedKnockPolicies = ["evacuate_on_single", "hold"] as const;

const rack = z.object({ id, hosts: z.array(z.string().min(1)).default([]) }).strict();

const zone = z
  .object({
    id,
    name: z.string().optional(),
    racks: z.array(rack).default([]),
    /**
     * Evacuate when this many distinct rules are active at `alarm` (double knock: two independent
     * signals, e.g. off-gas and a cell's temperature, as cross-zoned releasing panels require two
     * detectors; docs/sources.md#panel-sequence). A rule raising `evacuate` on its own also evacuates.
     */
    evacuate_after_alarm_rules: countBetween(1, MAX_COUNT, "rules").default(2),
    /** How long a stage's conditions must stay clear before the zone steps down. Latching stages never step down by themselves. */
    clear_hold_s: seconds.default(60),
    /**
     * When one of the zone's knocks is in fault (its sensing stuck, silent or bad) and another is at
     * `alarm`: `evacuate_on_single` counts the blind knock as confirming (a fault never delays an
     * evacuation past the runaway); `hold` waits for a second knock that can see. README "Knocks".
     */
    degraded_knock: z.enum(degradedKnockPolicies).default("evacuate_on_single"),
  })
  .strict();

const room = z.object({ id, name: z.string().optional(), zones: z.array(zone).min(1) }).strict();

const opcuaUser = z.discriminatedUnion("type", [
  z.object({ type: z.literal("anonymous") }).strict(),
  /** The password is read from the file at load time; never from the command line. */
  z.object({ type: z.literal("username"), username: z.string().min(1), password_file: z.string().min(1) }).strict(),
  /** An X.509 user identity (not the application instance certificate in pki_dir). */
  z.object({ type: z.literal("certificate"), cert_file: z.string().min(1), key_file: z.string().min(1) }).strict(),
]);

export const opcuaSecurityModes = ["None", "Sign", "SignAndEncrypt"] as const;
export const opcuaSecurityPolicies = ["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep"] as const;

const opcuaClient = z
  .object({
    endpoint: z.string().regex(/^opc\.tcp:\/\/[^\s/]+(:\d+)?(\/\S*)?$/, "use opc.tcp://host:port[/path]"),
    /** Secure by default: the server is authenticated and the traffic encrypted. */
    security_mode: z.enum(opcuaSecurityModes).default("SignAndEncrypt"),
    security_policy: z.enum(opcuaSecurityPolicies).default("Basic256Sha256"),
    user: opcuaUser.default({ type: "anonymous" }),
    /** The daemon's own certificate (created on first run) and trusted/rejected server certificates; relative to this file. */
    pki_dir: z.string().min(1).default("pki/opcua"),
    /** How often the server sends what changed (and keep-alives when nothing did). */
    publishing_interval_ms: msBetween(10, MAX_POLL_MS).default(1000),
  })
  .strict()
  .refine((o) => (o.security_mode === "None") === (o.security_policy === "None"), {
    message: "security_mode None goes with security_policy None, and Sign/SignAndEncrypt need Basic256Sha256 or Aes128_Sha256_RsaOaep",
  });

const device = z
  .object({
    id,
    profile: id,
    zone: id,
    /** Exactly one of `modbus` and `opcua`, matching the profile's protocol. */
    modbus: modbusSchema.optional(),
    opcua: opcuaClient.optional(),
    poll_interval_ms: msBetween(50, MAX_POLL_MS).default(1000),
    /** Per request. Default: the serial line's timeout_ms, else half the poll interval, at most 1000 ms. */
    timeout_ms: msBetween(10, MAX_POLL_MS).optional(),
    /** A point not refreshed for this long is bad/stale. Default: 3 poll intervals. */
    stale_after_ms: msBetween(1, MAX_HOUR_MS).optional(),
    /** What the SunSpec map holds; required for profiles with a `sunspec` block. */
    layout: z
      .object({
        strings: z.number().int().min(1).max(64),
        modules_per_string: z.number().int().min(1).max(64),
        cells_per_module: z.number().int().min(1).max(256),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((d) => (d.modbus === undefined) !== (d.opcua === undefined), { message: "a device needs exactly one of `modbus:` and `opcua:`" });

const glob = z.string().min(1).max(MAX_GLOB_LENGTH, `a point glob is at most ${MAX_GLOB_LENGTH} characters`);
const points = z.array(glob).min(1);
/** Optional alarm priority of the rule's alarm (not of its `:fault` alarm); an `evacuate` stage stays critical. */
const priority = z.enum(["critical", "high", "medium", "low"]).optional();
const ruleCommon = {
  id,
  zone: id,
  description: z.string().optional(),
  priority,
  /** Glob patterns over point keys (`<device>/<point>`); `*` matches one path segment, `**` any. */
  points,
  on_delay_s: seconds.default(0),
  off_delay_s: seconds.default(0),
};
/**
 * Stage rules name the knock they belong to (README "Knocks"): rules that measure the same thing
 * (two temperature rules on the same cells) are one knock, not two. Default: the rule's own id.
 */
const stageRuleCommon = { ...ruleCommon, knock: id.optional() };

const thresholdRule = z
  .object({
    ...stageRuleCommon,
    kind: z.literal("threshold"),
    levels: z
      .array(
        z
          .object({
            name: z.enum(["high", "high_high", "low", "low_low"]),
            value: reading,
            stage: raisedStage,
          })
          .strict(),
      )
      .min(1),
    /** The value must come back past the level by this much to clear (hysteresis). */
    deadband: readingDelta.default(0),
  })
  .strict();

const rateOfRiseRule = z
  .object({
    ...stageRuleCommon,
    kind: z.literal("rate_of_rise"),
    /** Active when the least-squares slope over the window exceeds this, in units per minute. */
    rate_per_min: quantity(0, MAX_RATE_PER_MIN, "per minute", { gt: true }),
    window_s: positiveSeconds.default(60),
    min_samples: countBetween(3, MAX_MIN_SAMPLES, "samples").default(5),
    stage: raisedStage,
  })
  .strict();

const deviationRule = z
  .object({
    ...stageRuleCommon,
    kind: z.literal("deviation"),
    /** Active when a point is this far above the median of its group. */
    above_median: quantity(0, MAX_READING, "in the point's unit", { gt: true }),
    /** Points are grouped by the key with the last N segments removed (e.g. 2: per module). */
    group_by_trim: countBetween(1, 16, "segments").default(2),
    min_group: countBetween(3, MAX_COUNT, "points").default(3),
    deadband: readingDelta.default(0),
    stage: raisedStage,
  })
  .strict();

const offgasRule = z
  .object({
    ...stageRuleCommon,
    kind: z.literal("offgas"),
    /** Ambient reference detectors whose median is the baseline (common-mode cancel, docs/sources.md#reference-sensors). */
    reference_points: z.array(glob).default([]),
    /** Baseline when there are no reference detectors (clean-room reading of this detector). */
    baseline_ppm: quantity(0, MAX_PPM, "ppm").default(0),
    levels: z
      .array(z.object({ ppm_above_baseline: quantity(0, MAX_PPM, "ppm", { gt: true }), stage: raisedStage }).strict())
      .min(1),
    deadband: quantity(0, MAX_PPM, "ppm").default(0),
  })
  .strict();

const commLossRule = z
  .object({
    id,
    zone: id,
    description: z.string().optional(),
    priority,
    kind: z.literal("comm_loss"),
    devices: z.array(id).min(1),
    /** The device must have been silent this long before the trouble is raised. */
    after_s: seconds.default(0),
  })
  .strict();

/**
 * Stuck sensor (README "Plausibility rules"): a point whose readings stay within `resolution` for
 * longer than `flat_s` while its peers (its group, or its neighbours in the group) moved. Trouble only.
 */
const stuckRule = z
  .object({
    ...ruleCommon,
    kind: z.literal("stuck"),
    /** The sensor's resolution in its unit: a change smaller than this is no change. */
    resolution: z.number().gt(0),
    /** Longest a point may stay flat while its peers move; also the window in which the peers must have moved. */
    flat_s: positiveSeconds.default(300),
    /** Peers are the points whose key, with the last N segments removed, is the same (2: the cells of one module). */
    group_by_trim: z.number().int().min(1).default(2),
    /** `group`: every other point of the group; `adjacent`: the points next to it in the group, in key order. */
    peers: z.enum(["group", "adjacent"]).default("group"),
    /** How many peers must have moved in the window; a point with fewer peers than this is not judged. */
    min_moving_peers: z.number().int().min(1).default(2),
    /**
     * Readings the flat run must also hold (0: time alone). A flat run is evidence by its number of
     * readings: a daemon that polls late (a loaded host) must not call a good sensor stuck on a few.
     */
    min_readings: z.number().int().min(0).default(0),
  })
  .strict();

/**
 * Redundant sensors that disagree (README "Plausibility rules"): a point further than
 * `max_difference` from the median of its good peers, for `on_delay_s`. Trouble only.
 */
const disagreeRule = z
  .object({
    ...ruleCommon,
    kind: z.literal("disagree"),
    points: z.array(z.string().min(1)).min(2),
    max_difference: z.number().gt(0),
    deadband: z.number().min(0).default(0),
    /** Drift is slow and a real local event is fast: by default a disagreement must last 5 minutes. */
    on_delay_s: seconds.default(300),
  })
  .strict();

/** Alarm classes a `state` rule's alarm can have (README "State rules"). */
export const stateRuleClasses = ["condition", "trouble", "supervisory"] as const;

/**
 * One state of a bit or enum point (README "State rules"): exactly one of `value` (the point equals
 * it: an enum value, or 1 for a bit point) and `bit` (that bit of a bitfield point is set). A
 * `condition` rule's states raise a stage; a trouble/supervisory rule's states raise its alarm only.
 */
const stateDef = z
  .object({
    name: id,
    value: z.number().int().min(-2_147_483_648).max(4_294_967_295).optional(),
    bit: z.number().int().min(0).max(31).optional(),
    stage: stateStage.optional(),
    /** A point (`<device>/<point>`, no glob) holding the seconds left before the state's deadline, e.g. the panel's pre-release countdown. */
    countdown_point: z.string().min(1).max(MAX_GLOB_LENGTH).regex(/^[^*]+$/, "a single point key, not a glob").optional(),
  })
  .strict()
  .refine((s) => (s.value === undefined) !== (s.bit === undefined), { message: "a state needs exactly one of `value:` and `bit:`" });

const stateRule = z
  .object({
    ...stageRuleCommon,
    kind: z.literal("state"),
    /** `condition` (default): states raise stages; `trouble` / `supervisory`: they raise this rule's alarm of that class, no stage. */
    class: z.enum(stateRuleClasses).default("condition"),
    states: z.array(stateDef).min(1),
  })
  .strict()
  .superRefine((r, ctx) => {
    r.states.forEach((s, i) => {
      if (r.class === "condition" && s.stage === undefined) ctx.addIssue({ code: "custom", path: ["states", i, "stage"], message: "a condition state rule needs a `stage:` for every state" });
      if (r.class !== "condition" && s.stage !== undefined) ctx.addIssue({ code: "custom", path: ["states", i, "stage"], message: `a ${r.class} state rule raises its alarm, not a stage: remove \`stage:\`` });
    });
  });

/** What counts as a detector's vote (README "Vote rules"): exactly one of the three. */
const voteWhen = z
  .object({
    value: z.number().optional(),
    bit: z.number().int().min(0).max(31).optional(),
    at_least: reading.optional(),
  })
  .strict()
  .refine((w) => [w.value, w.bit, w.at_least].filter((x) => x !== undefined).length === 1, { message: "use exactly one of `value:`, `bit:` and `at_least:`" });

/** What a detector that cannot be read does to the vote (README "Vote rules"). */
export const blindDetectorPolicies = ["vote", "abstain"] as const;

const voteRule = z
  .object({
    ...stageRuleCommon,
    kind: z.literal("vote"),
    points: z.array(glob).min(2),
    /** k of the n detectors: cross-zoning needs at least two (docs/sources.md#panel-sequence). */
    votes: countBetween(2, MAX_COUNT, "detectors"),
    when: voteWhen,
    stage: stateStage,
    /**
     * A detector that is bad, stale or missing: `vote` (default, as zones' degraded_knock
     * `evacuate_on_single`) counts it as voting once one seeing detector votes; `abstain` waits for
     * k detectors that can see. Either way it is a fault of the rule, with its reason.
     */
    blind_detector: z.enum(blindDetectorPolicies).default("vote"),
  })
  .strict();

export const ruleSchema = z.discriminatedUnion("kind", [thresholdRule, rateOfRiseRule, deviationRule, offgasRule, commLossRule, stuckRule, disagreeRule, stateRule, voteRule]);

export const mqttSchema = z
  .object({
    url: z.string().regex(/^mqtts?:\/\/[^\s]+$/, "use mqtt://host:port or mqtts://host:port"),
    client_id: z.string().min(1).optional(),
    username: z.string().min(1).optional(),
    password_file: z.string().min(1).optional(),
    ca_file: z.string().min(1).optional(),
    cert_file: z.string().min(1).optional(),
    key_file: z.string().min(1).optional(),
    /** Send the password (and accept TLS files) over plain mqtt:// anyway; check-config warns. */
    allow_plaintext_password: z.boolean().default(false),
    /** Persistent session (clean=false) so the broker keeps QoS 1 messages for us across our reconnects. */
    clean_session: z.boolean().default(false),
    keepalive_s: z.number().int().min(1).max(65535).default(30),
    /** Messages kept while the broker is away; beyond it the oldest telemetry goes first, then oldest events. */
    queue_limit: countBetween(10, MAX_QUEUE, "messages").default(10000),
    reconnect_min_ms: msBetween(10, MAX_RECONNECT_MS).default(500),
    /**
     * Backoff cap. 2 s: after a broker outage the daemon is back within a few seconds of the broker
     * (a TCP probe between attempts shortens even that); a 30 s cap left consumers ~30 s without the
     * decisions taken meanwhile (issue 9). At most a minute, for the same reason.
     */
    reconnect_max_ms: msBetween(10, 60_000).default(2000),
    /**
     * The retained `online` status is re-published this often, with an MQTT v5 message expiry of 3
     * heartbeats, so a broker restarted from old persistence cannot serve `online` for longer.
     */
    heartbeat_s: z.number().int().min(1).max(3600).default(30),
    /** MQTT 5 (message expiry, session expiry, takeover reason codes); 4 (3.1.1) for brokers without it. */
    protocol_version: z.union([z.literal(5), z.literal(4)]).default(5),
    point_telemetry: z
      .object({ enabled: z.boolean().default(false), min_interval_ms: msBetween(0, MAX_HOUR_MS).default(1000) })
      .strict()
      .default({ enabled: false, min_interval_ms: 1000 }),
  })
  .strict()
  .refine((m) => (m.cert_file === undefined) === (m.key_file === undefined), {
    message: "cert_file and key_file go together",
  })
  .refine((m) => m.reconnect_min_ms <= m.reconnect_max_ms, { message: "reconnect_min_ms must not be above reconnect_max_ms", path: ["reconnect_min_ms"] })
  .refine((m) => m.password_file === undefined || m.username !== undefined, {
    message: "password_file needs a username",
  });

/** An operator who may send signed commands (README "Operator commands"); the key file is read at load time. */
const operator = z.object({ id, public_key_file: z.string().min(1) }).strict();

const commands = z
  .object({
    /**
     * A command whose `ts` is further than this from the daemon's clock is refused as stale. 30 s
     * covers NTP-synchronised clocks and a broker round trip with a wide margin, yet makes a
     * captured command useless half a minute later.
     */
    max_skew_s: z.number().finite().min(1).max(600).default(30),
  })
  .strict();

/**
 * Signed evacuation triggers and the consumers that must acknowledge them (README "Evacuation").
 * Keys are read from their files at load time (./evacuation.ts).
 */
const evacuationConsumer = z
  .object({
    id,
    public_key_file: z.string().min(1),
    /** Zones whose triggers this consumer must acknowledge; default every zone. */
    zones: z.array(id).min(1).optional(),
  })
  .strict();

export const evacuationSchema = z
  .object({
    /** The daemon's Ed25519 private key (PKCS#8 PEM, mode 0600): every trigger is signed with it. */
    signing_key_file: z.string().min(1),
    /** Key id published in every trigger so consumers can hold the old and the new key while keys rotate. */
    kid: id,
    /** Consumers must accept a trigger within this time, or `evacuation-unacknowledged` is raised. */
    ack_window_s: z.number().finite().min(1).max(3600).default(60),
    /** A trigger not yet accepted by every required consumer is announced again this often. */
    reannounce_interval_s: z.number().finite().min(1).max(3600).default(15),
    consumers: z.array(evacuationConsumer).default([]),
  })
  .strict();

export const siteSchema = z
  .object({
    site: id,
    /** Daemon name within the site (one per room or hall); part of the MQTT client id. */
    instance: id.default("main"),
    rooms: z.array(room).min(1),
    /** Serial lines (RS-485/RS-232) that Modbus RTU devices name with modbus: { line: <id> }. */
    serial_lines: z.array(serialLineSchema).default([]),
    devices: z.array(device).min(1),
    rules: z.array(ruleSchema).min(1),
    mqtt: mqttSchema.optional(),
    /** Pager: alerts to Alertmanager (./outputs-settings.ts); off when absent. */
    alertmanager: alertmanagerSchema.optional(),
    /** History: InfluxDB 1.x (./outputs-settings.ts); off when absent. */
    influx: influxSchema.optional(),
    /** Health and metrics over HTTP (./http-settings.ts); off when absent. */
    http: httpSchema.optional(),
    /** ISA-18.2 lifecycle limits: chattering, flood, shelving (./alarms-schema.ts). */
    alarms: alarmsSchema,
    operators: z.array(operator).default([]),
    evacuation: evacuationSchema.optional(),
    /** Protective actions: interlocked, verified device writes (./actions-schema.ts, README "Protective actions"). */
    actions: z.array(actionSchema).default([]),
    commands: commands.default({ max_skew_s: 30 }),
    log: z.object({ level: z.enum(["trace", "debug", "info", "warn", "error", "fatal"]).default("info") }).strict().default({ level: "info" }),
    /**
     * Where the durable state (alarm states, latches, incidents, triggers, sequence numbers, unsent
     * QoS 1 messages, the command audit) lives: one SQLite file per site and instance. Relative to this file.
     */
    state_dir: z.string().min(1).default("/var/lib/firebreak"),
    /** Directory for profiles, relative to this file; default: the shipped config/profiles. */
    profiles_dir: z.string().optional(),
  })
  .strict();

export type SiteInput = z.input<typeof siteSchema>;
export type SiteParsed = z.output<typeof siteSchema>;
export type RuleParsed = z.output<typeof ruleSchema>;
