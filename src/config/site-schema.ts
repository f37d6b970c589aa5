// The site config (config/*.yaml): topology, devices, rules, outputs. Validated once, at the edge,
// into the typed objects in ./types.ts; nothing deeper sees YAML.
import { z } from "zod";

const id = z.string().regex(/^[A-Za-z0-9_-]+$/, "use letters, digits, '_' and '-' only");
const seconds = z.number().finite().min(0);
const positiveSeconds = z.number().finite().gt(0);

export const stages = ["normal", "watch", "pre_alarm", "alarm", "evacuate"] as const;
export type Stage = (typeof stages)[number];
/** Stages a rule can raise when it is active. */
const raisedStage = z.enum(["watch", "pre_alarm", "alarm", "evacuate"]);

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
     * detectors; FACTS.md §4). A rule raising `evacuate` on its own also evacuates.
     */
    evacuate_after_alarm_rules: z.number().int().min(1).default(2),
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

const modbusTcp = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(502),
    unit_id: z.number().int().min(0).max(255).default(1),
  })
  .strict();

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
    publishing_interval_ms: z.number().int().min(10).default(1000),
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
    modbus: modbusTcp.optional(),
    opcua: opcuaClient.optional(),
    poll_interval_ms: z.number().int().min(50).default(1000),
    /** Per request. Default: half the poll interval, at most 1000 ms. */
    timeout_ms: z.number().int().min(10).optional(),
    /** A point not refreshed for this long is bad/stale. Default: 3 poll intervals. */
    stale_after_ms: z.number().int().min(1).optional(),
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

const points = z.array(z.string().min(1)).min(1);
const ruleCommon = {
  id,
  zone: id,
  description: z.string().optional(),
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
            value: z.number().finite(),
            stage: raisedStage,
          })
          .strict(),
      )
      .min(1),
    /** The value must come back past the level by this much to clear (hysteresis). */
    deadband: z.number().min(0).default(0),
  })
  .strict();

const rateOfRiseRule = z
  .object({
    ...stageRuleCommon,
    kind: z.literal("rate_of_rise"),
    /** Active when the least-squares slope over the window exceeds this, in units per minute. */
    rate_per_min: z.number().gt(0),
    window_s: positiveSeconds.default(60),
    min_samples: z.number().int().min(3).default(5),
    stage: raisedStage,
  })
  .strict();

const deviationRule = z
  .object({
    ...stageRuleCommon,
    kind: z.literal("deviation"),
    /** Active when a point is this far above the median of its group. */
    above_median: z.number().gt(0),
    /** Points are grouped by the key with the last N segments removed (e.g. 2: per module). */
    group_by_trim: z.number().int().min(1).default(2),
    min_group: z.number().int().min(3).default(3),
    deadband: z.number().min(0).default(0),
    stage: raisedStage,
  })
  .strict();

const offgasRule = z
  .object({
    ...stageRuleCommon,
    kind: z.literal("offgas"),
    /** Ambient reference detectors whose median is the baseline (common-mode cancel, FACTS.md §1). */
    reference_points: z.array(z.string().min(1)).default([]),
    /** Baseline when there are no reference detectors (clean-room reading of this detector). */
    baseline_ppm: z.number().min(0).default(0),
    levels: z
      .array(z.object({ ppm_above_baseline: z.number().gt(0), stage: raisedStage }).strict())
      .min(1),
    deadband: z.number().min(0).default(0),
  })
  .strict();

const commLossRule = z
  .object({
    id,
    zone: id,
    description: z.string().optional(),
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

export const ruleSchema = z.discriminatedUnion("kind", [thresholdRule, rateOfRiseRule, deviationRule, offgasRule, commLossRule, stuckRule, disagreeRule]);

const mqtt = z
  .object({
    url: z.string().regex(/^mqtts?:\/\/[^\s]+$/, "use mqtt://host:port or mqtts://host:port"),
    client_id: z.string().min(1).optional(),
    username: z.string().min(1).optional(),
    password_file: z.string().min(1).optional(),
    ca_file: z.string().min(1).optional(),
    cert_file: z.string().min(1).optional(),
    key_file: z.string().min(1).optional(),
    /** Persistent session (clean=false) so the broker keeps QoS 1 messages for us across our reconnects. */
    clean_session: z.boolean().default(false),
    keepalive_s: z.number().int().min(1).max(65535).default(30),
    /** Messages kept while the broker is away; beyond it the oldest telemetry goes first, then oldest events. */
    queue_limit: z.number().int().min(10).default(10000),
    reconnect_min_ms: z.number().int().min(10).default(500),
    reconnect_max_ms: z.number().int().min(10).default(30000),
    point_telemetry: z
      .object({ enabled: z.boolean().default(false), min_interval_ms: z.number().int().min(0).default(1000) })
      .strict()
      .default({ enabled: false, min_interval_ms: 1000 }),
  })
  .strict()
  .refine((m) => (m.cert_file === undefined) === (m.key_file === undefined), {
    message: "cert_file and key_file go together",
  })
  .refine((m) => m.password_file === undefined || m.username !== undefined, {
    message: "password_file needs a username",
  });

export const siteSchema = z
  .object({
    site: id,
    /** Daemon name within the site (one per room or hall); part of the MQTT client id. */
    instance: id.default("main"),
    rooms: z.array(room).min(1),
    devices: z.array(device).min(1),
    rules: z.array(ruleSchema).min(1),
    mqtt: mqtt.optional(),
    log: z.object({ level: z.enum(["trace", "debug", "info", "warn", "error", "fatal"]).default("info") }).strict().default({ level: "info" }),
    /** Directory for profiles, relative to this file; default: the shipped config/profiles. */
    profiles_dir: z.string().optional(),
  })
  .strict();

export type SiteInput = z.input<typeof siteSchema>;
export type SiteParsed = z.output<typeof siteSchema>;
export type RuleParsed = z.output<typeof ruleSchema>;
