// The device-profile format (config/profiles/*.yaml): a closed vocabulary of register types,
// word orders and scales, checked once when the profile loads (README.md#device-profiles, after evcc's templates).
// YAML keys are snake_case; the parsed objects are camelCase and frozen.
import { z } from "zod";
import { MAX_POLL_MS, msBetween } from "./bounds.js";

const id = z.string().regex(/^[A-Za-z0-9_-]+$/, "use letters, digits, '_' and '-' only");

export const modbusTables = ["holding", "input", "coil", "discrete"] as const;
export type ModbusTable = (typeof modbusTables)[number];

/** i8/u8: one byte of a register (`byte: high | low`), e.g. two signed 8-bit temperatures packed in one register (docs/sources.md#vendor-maps). */
export const dataTypes = ["u16", "i16", "u32", "i32", "f32", "f64", "bitfield16", "bitfield32", "i8", "u8"] as const;
export type DataType = (typeof dataTypes)[number];

/** Registers (16-bit words) each data type occupies. Coils and discrete inputs are one bit each. */
export const registerCount: Readonly<Record<DataType, number>> = {
  u16: 1, i16: 1, bitfield16: 1, u32: 2, i32: 2, bitfield32: 2, f32: 2, f64: 4, i8: 1, u8: 1,
};

/** Types that take one byte of their register and need `byte`. */
export function isByteType(t: DataType): t is "i8" | "u8" {
  return t === "i8" || t === "u8";
}

const order = z.enum(["big", "little"]);

const pointCommon = {
  id,
  description: z.string().optional(),
  type: z.enum(dataTypes).default("u16"),
  /** high word first ("big", Modbus convention and SunSpec) or low word first ("little"). */
  word_order: order.optional(),
  byte_order: order.optional(),
  /** value = raw / divisor * scale + offset (after the SunSpec scale factor, if any). */
  scale: z.number().finite().default(1),
  /**
   * For datasheets that say "divide by 10": value = raw / divisor, exact where `scale: 0.1` is not
   * (971 / 10 is 97.1; 971 * 0.1 is 97.10000000000001).
   */
  divisor: z.number().int().min(1).max(1_000_000).default(1),
  /** For i8/u8: which byte of the register holds the value ("high": the first on the wire). */
  byte: z.enum(["high", "low"]).optional(),
  offset: z.number().finite().default(0),
  /** For a bit of a bitfield: the point's value is that bit, 0 or 1. */
  bit: z.number().int().min(0).max(31).optional(),
  unit: z.string().default(""),
  /** Physical range in engineering units; outside it the reading is bad/out_of_range. */
  range: z.tuple([z.number(), z.number()]).optional(),
  /** Raw register values that mean "no reading" (e.g. 0xFFFF, 0x7FFF, -32768). */
  sentinels: z.array(z.number()).default([]),
};

/** `byte` goes with i8/u8 and nothing else; a bit number stays inside the byte. */
function checkByte(p: { type: DataType; byte?: "high" | "low" | undefined; bit?: number | undefined }, ctx: z.RefinementCtx): void {
  if (isByteType(p.type) && p.byte === undefined) ctx.addIssue({ code: "custom", path: ["byte"], message: `type ${p.type} needs byte: high or byte: low (which byte of the register)` });
  if (!isByteType(p.type) && p.byte !== undefined) ctx.addIssue({ code: "custom", path: ["byte"], message: `byte applies to i8 and u8 only, not ${p.type}` });
  if (isByteType(p.type) && p.bit !== undefined && p.bit > 7) ctx.addIssue({ code: "custom", path: ["bit"], message: `bit ${p.bit} does not exist in a ${p.type}` });
}

export const plainPointSchema = z
  .object({
    ...pointCommon,
    table: z.enum(modbusTables).default("holding"),
    /** Protocol (0-based) address, as on the wire. */
    address: z.number().int().min(0).max(65535),
    /**
     * The device accepts writes to this register (FC 6/16; coils FC 5/15). firebreak's poller never
     * writes; the simulators answer writes only to such registers and refuse the rest.
     */
    writable: z.boolean().default(false),
  })
  .strict()
  .superRefine(checkByte);

export const sunspecModels = [802, 803, 804, 805] as const;
export type SunspecModelId = (typeof sunspecModels)[number];

export const sunspecPointSchema = z
  .object({
    ...pointCommon,
    model: z.union([z.literal(802), z.literal(804), z.literal(805)]),
    /** Offset inside the model instance, the ID register counting as 0 (docs/sources.md#sunspec-offsets). */
    offset: z.number().int().min(0).max(65535),
    /** true: the offset is inside each repeating group (per module in 804, per cell in 805). */
    group: z.boolean().default(false),
    /** A SunSpec "W" register (802 SetOp 50, 804 SetCon 37): a protective action may write it (README "Protective actions"). */
    writable: z.boolean().default(false),
    /** Offset of this point's sunssf scale-factor register, inside the same model instance. */
    sf_offset: z.number().int().min(0).optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (isByteType(p.type)) ctx.addIssue({ code: "custom", path: ["type"], message: `SunSpec models have no ${p.type} type; use u16/i16 and a plain point for packed bytes` });
  });

const holeSchema = z
  .object({
    table: z.enum(modbusTables),
    address: z.number().int().min(0).max(65535),
    count: z.number().int().min(1).max(65536),
  })
  .strict()
  .refine((h) => h.address + h.count <= 65536, { message: "a hole runs past address 65535" });

/**
 * What a device is for. `suppression_panel`: a clean-agent releasing panel. firebreak only reads it:
 * the loader refuses any writable point in such a profile and any protective action on such a
 * device (README "Protective actions"). Absent: a monitored device.
 */
export const profileRoles = ["suppression_panel"] as const;
export type ProfileRole = (typeof profileRoles)[number];

export const profileSchema = z
  .object({
    id,
    description: z.string().min(1, "say what device this profile is for"),
    protocol: z.literal("modbus"),
    role: z.enum(profileRoles).optional(),
    defaults: z
      .object({
        word_order: order.default("big"),
        byte_order: order.default("big"),
        /**
         * Largest run of unused registers the planner reads through to save a request. Default
         * (./profile-schema.ts defaultMaxGap): 8, or 124 for a SunSpec map, which is defined from its
         * base to its end marker. A device's `modbus.max_gap` overrides it.
         */
        max_gap: z.number().int().min(0).max(124).optional(),
        /** Registers per request: 125 is the Modbus limit for function codes 3 and 4. */
        max_registers: z.number().int().min(1).max(125).default(125),
        /** Coils/discrete inputs per request: 2000 is the Modbus limit for function codes 1 and 2. */
        max_bits: z.number().int().min(1).max(2000).default(2000),
      })
      .strict()
      .default({ word_order: "big", byte_order: "big", max_registers: 125, max_bits: 2000 }),
    points: z.array(plainPointSchema).default([]),
    /**
     * Register ranges the device does not answer (exception 02 when read): the planner never reads
     * through them, whatever `max_gap` says. A point that reads inside a hole is a configuration error.
     */
    holes: z.array(holeSchema).default([]),
    sunspec: z
      .object({
        /** Where the "SunS" marker sits; 40000 by default in SunSpec. */
        base_address: z.number().int().min(0).max(65535).default(40000),
        /** Register table the map lives in (holding in SunSpec). */
        table: z.enum(["holding", "input"]).default("holding"),
        /** Fixed-part lengths (ID register counted as 0) and repeating-group sizes, from docs/sources.md#sunspec. */
        points: z.array(sunspecPointSchema).min(1),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((p) => p.points.length > 0 || p.sunspec !== undefined, {
    message: "a profile needs `points` or a `sunspec` block",
  });

export type ProfileInput = z.input<typeof profileSchema>;
type ProfileParsed = z.output<typeof profileSchema>;
export type PlainPointDef = z.output<typeof plainPointSchema>;
export type SunspecPointDef = z.output<typeof sunspecPointSchema>;
export type ProfileDefaults = ProfileParsed["defaults"];
export type RegisterHole = z.output<typeof holeSchema>;

/** `max_gap` when the profile does not set it: a few registers of a plain map (holes are common there and often undeclared). */
export const PLAIN_MAX_GAP = 8;
/**
 * A SunSpec map is one contiguous, defined block from the "SunS" marker to the end model
 * (docs/sources.md#sunspec-map), so any gap inside it is readable: read through it up to a full
 * 125-register request (a gap of at most 124).
 */
export const SUNSPEC_MAX_GAP = 124;

/** The gap the planner reads through for a device: its own `max_gap`, else the profile's, else the default for the map. */
export function defaultMaxGap(profile: Pick<Profile, "defaults" | "sunspec">, deviceMaxGap?: number): number {
  return deviceMaxGap ?? profile.defaults.max_gap ?? (profile.sunspec !== undefined ? SUNSPEC_MAX_GAP : PLAIN_MAX_GAP);
}

export interface Profile {
  readonly id: string;
  readonly description: string;
  readonly protocol: "modbus";
  /** `suppression_panel`: never written to (README "Protective actions"). */
  readonly role?: ProfileRole;
  readonly defaults: ProfileDefaults;
  readonly points: readonly PlainPointDef[];
  /** Registers the device does not answer; absent on hand-built profiles (tests): none. */
  readonly holes?: readonly RegisterHole[];
  readonly sunspec?: {
    readonly baseAddress: number;
    readonly table: "holding" | "input";
    readonly points: readonly SunspecPointDef[];
  };
  /** The file it came from, for messages. */
  readonly file: string;
}

export function toProfile(p: ProfileParsed, file: string): Profile {
  return {
    id: p.id,
    description: p.description,
    protocol: p.protocol,
    ...(p.role === undefined ? {} : { role: p.role }),
    defaults: p.defaults,
    points: p.points,
    holes: p.holes,
    ...(p.sunspec ? { sunspec: { baseAddress: p.sunspec.base_address, table: p.sunspec.table, points: p.sunspec.points } } : {}),
    file,
  };
}

/** SunSpec model shape (docs/sources.md#sunspec): fixed registers including ID and L, and repeating-group size. */
export const sunspecModelShape: Readonly<Record<SunspecModelId, { fixed: number; group: number }>> = {
  802: { fixed: 64, group: 0 },
  803: { fixed: 28, group: 32 },
  804: { fixed: 48, group: 16 },
  805: { fixed: 44, group: 4 },
};

// --- OPC UA profiles (protocol: opcua): node ids instead of registers, subscribed rather than polled.

const deadbandSchema = z
  .object({
    /** absolute: in the node's engineering units; percent: of the node's EURange (AnalogItem only, OPC UA Part 8). */
    type: z.enum(["absolute", "percent"]),
    value: z.number().finite().min(0),
  })
  .strict();

/** A node id inside the profile's namespace, without `ns=`: `s=Bms.SoC`, `i=1001`, `g=…`, `b=…`. */
const relativeNodeId = z
  .string()
  .regex(/^(i=\d+|s=.+|g=[0-9A-Fa-f-]{36}|b=[A-Za-z0-9+/=]+)$/, "use i=<number>, s=<string>, g=<guid> or b=<base64>, without ns= (the namespace comes from namespace_uri)");

export const opcuaRepeats = ["string", "module", "cell"] as const;
export type OpcuaRepeat = (typeof opcuaRepeats)[number];

export const opcuaNodeSchema = z
  .object({
    id,
    description: z.string().optional(),
    /**
     * Relative node id; with `per`, the placeholders {string}, {module} and {cell} are filled in
     * for each position of the device's layout (1-based), as SunSpec groups are expanded.
     */
    node: relativeNodeId,
    /** Expand this node once per string, module or cell of the device's `layout`. */
    per: z.enum(opcuaRepeats).optional(),
    sampling_interval_ms: msBetween(0, MAX_POLL_MS).optional(),
    queue_size: z.number().int().min(1).max(1000).optional(),
    deadband: deadbandSchema.optional(),
    unit: z.string().default(""),
    range: z.tuple([z.number(), z.number()]).optional(),
    /** Values that mean "no reading" (e.g. -32768 from a gateway); NaN always does. */
    sentinels: z.array(z.number()).default([]),
  })
  .strict();

export const opcuaProfileSchema = z
  .object({
    id,
    description: z.string().min(1, "say what device this profile is for"),
    protocol: z.literal("opcua"),
    role: z.enum(profileRoles).optional(),
    /** The namespace the node ids live in; its index is looked up on the server at connect. */
    namespace_uri: z.string().min(1),
    defaults: z
      .object({
        /** 1000 ms: the daemon's Modbus default poll interval, so rules see the same sample rate. */
        sampling_interval_ms: msBetween(0, MAX_POLL_MS).default(1000),
        /** Keep a few samples per publish so a fast transient (a vent spike) is not overwritten. */
        queue_size: z.number().int().min(1).max(1000).default(10),
        deadband: deadbandSchema.optional(),
      })
      .strict()
      .default({ sampling_interval_ms: 1000, queue_size: 10 }),
    nodes: z.array(opcuaNodeSchema).min(1),
  })
  .strict();

export type OpcuaProfileInput = z.input<typeof opcuaProfileSchema>;
type OpcuaProfileParsed = z.output<typeof opcuaProfileSchema>;
export type OpcuaNodeDef = z.output<typeof opcuaNodeSchema>;
export type OpcuaDeadband = z.output<typeof deadbandSchema>;

export interface OpcuaProfile {
  readonly id: string;
  readonly description: string;
  readonly protocol: "opcua";
  /** `suppression_panel`: never written to (README "Protective actions"). */
  readonly role?: ProfileRole;
  readonly namespaceUri: string;
  readonly defaults: OpcuaProfileParsed["defaults"];
  readonly nodes: readonly OpcuaNodeDef[];
  readonly file: string;
}

export function toOpcuaProfile(p: OpcuaProfileParsed, file: string): OpcuaProfile {
  return { id: p.id, description: p.description, protocol: p.protocol, ...(p.role === undefined ? {} : { role: p.role }), namespaceUri: p.namespace_uri, defaults: p.defaults, nodes: p.nodes, file };
}

/** A profile of either protocol, told apart by `protocol`. */
export type AnyProfile = Profile | OpcuaProfile;
