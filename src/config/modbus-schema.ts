// The Modbus parts of the site config (README "Serial lines and RTU gateways"): `serial_lines:`, and a
// device's `modbus:` block in one of its three forms: Modbus TCP (`host`), a unit on a serial line
// (`line`), or a unit behind an RTU-over-TCP gateway (`gateway` with `framing: rtu`).
import { z } from "zod";
import { MAX_POLL_MS, msBetween } from "./bounds.js";

const id = z.string().max(128, "must be at most 128 characters").regex(/^[A-Za-z0-9_-]+$/, "use letters, digits, '_' and '-' only");

/**
 * Baud rates of serial lines: 1200..921600. The Modbus serial spec names 9600 and 19200 (Serial
 * Line v1.02 §2.5.1 "the required default is 19200"); RS-485 transceivers rarely go past 921600.
 */
export const MIN_BAUD = 1200;
export const MAX_BAUD = 921_600;

export const serialLineSchema = z
  .object({
    id,
    /** The serial device: /dev/ttyUSB0, /dev/serial/by-id/…, /dev/ttyS1. */
    path: z.string().min(1),
    baud: z.number().int("must be a whole number of baud").min(MIN_BAUD, `must be at least ${MIN_BAUD} baud`).max(MAX_BAUD, `must be at most ${MAX_BAUD} baud`).default(19200),
    /** RTU's default is even parity (Serial Line v1.02 §2.5.1: 8E1); `none` should go with 2 stop bits. */
    parity: z.enum(["none", "even", "odd"]).default("even"),
    /** RTU frames carry 8 data bits (Serial Line v1.02 §2.5.1); 7 bits is Modbus ASCII, which firebreak does not speak. */
    data_bits: z
      .number()
      .refine((n) => n === 8, "RTU uses 8 data bits (7 is Modbus ASCII)")
      .transform(() => 8 as const)
      .default(8),
    stop_bits: z.union([z.literal(1), z.literal(2)], "must be 1 or 2").default(1),
    /** Silence kept between frames; never less than t3.5 at the baud rate (1.75 ms above 19200 baud). */
    inter_frame_ms: z.number().min(0, "must be at least 0 ms").max(1000, "must be at most 1000 ms").optional(),
    /** How long a unit on this line has to answer, unless the device sets its own timeout_ms; default: the devices' usual default. */
    timeout_ms: msBetween(10, MAX_POLL_MS).optional(),
  })
  .strict();

/** host:port of an RTU-over-TCP gateway (a serial device server that passes RTU frames through). */
const hostPort = z.string().regex(/^[^\s:/]+:\d{1,5}$/, 'use "host:port", e.g. "10.0.0.5:4001"');

/**
 * Highest `max_in_flight`: the MBAP transaction id allows 65536, but a device's TCP receive window
 * and request queue are small; 16 keeps a misconfigured value from flooding a device.
 */
export const MAX_IN_FLIGHT = 16;

export const modbusSchema = z
  .object({
    /** Modbus TCP: the device's (or a Modbus TCP gateway's) address. */
    host: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    /** Modbus RTU: the id of a `serial_lines:` entry. */
    line: id.optional(),
    /** Modbus RTU over TCP: a gateway that passes RTU frames (with CRC) through a TCP socket. */
    gateway: hostPort.optional(),
    /** The framing the gateway speaks: `rtu` (RTU frames over TCP). A gateway that speaks Modbus TCP is just `host`/`port`. */
    framing: z.literal("rtu", "the only gateway framing is rtu; a Modbus TCP gateway is host/port").optional(),
    unit_id: z.number().int().min(0).max(255).default(1),
    /**
     * Modbus TCP only: requests of one poll on the wire at once, matched by transaction id (README
     * "Reading close to the wire limit"). 1 by default: many devices and gateways answer one request
     * at a time and drop or refuse the rest.
     */
    max_in_flight: z.number().int().min(1).max(MAX_IN_FLIGHT).optional(),
    /** Largest run of unused registers read through to save a request; default the profile's (README "Device profiles"). */
    max_gap: z.number().int().min(0).max(124).optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    const forms = [m.host !== undefined && "host", m.line !== undefined && "line", m.gateway !== undefined && "gateway"].filter((f) => f !== false);
    if (forms.length !== 1) {
      ctx.addIssue({ code: "custom", message: forms.length === 0 ? "give one of host (Modbus TCP), line (a serial_lines id) or gateway (RTU over TCP)" : `give only one of ${forms.join(", ")}` });
      return;
    }
    if (m.max_in_flight !== undefined && m.host === undefined) ctx.addIssue({ code: "custom", path: ["max_in_flight"], message: "max_in_flight is for Modbus TCP (host); a serial line carries one request at a time" });
    if (m.port !== undefined && m.host === undefined) ctx.addIssue({ code: "custom", path: ["port"], message: "port goes with host; a gateway's port is in gateway: \"host:port\"" });
    if (m.gateway !== undefined && m.framing === undefined) ctx.addIssue({ code: "custom", path: ["framing"], message: "a gateway needs framing: rtu (a Modbus TCP gateway is host/port)" });
    if (m.framing !== undefined && m.gateway === undefined) ctx.addIssue({ code: "custom", path: ["framing"], message: "framing goes with gateway" });
    // Serial Line v1.02 §2.2: 0 is broadcast (never answered), 248-255 are reserved.
    if (m.host === undefined && (m.unit_id < 1 || m.unit_id > 247)) ctx.addIssue({ code: "custom", path: ["unit_id"], message: "an RTU unit id is 1..247 (0 is broadcast, 248-255 are reserved)" });
  });

export type SerialLineParsed = z.output<typeof serialLineSchema>;
export type ModbusParsed = z.output<typeof modbusSchema>;
