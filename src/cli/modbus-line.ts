// What the commissioning commands (`firebreak modbus …`) read through: a Modbus line with unit ids
// on it, each unit a reader of "these registers". Modbus TCP is here (firebreak's own client, the
// daemon's, via ModbusConnection), and Modbus RTU on a serial port or through an RTU-over-TCP
// gateway (the daemon's RTU bus master, RtuLine).
import type { ModbusTable } from "../config/profile-schema.js";
import { ModbusConnection, type ModbusLink } from "../drivers/modbus/connection.js";
import { t35Ms, T35_FLOOR_MS, type CharFormat } from "../drivers/modbus/rtu-frame.js";
import { RtuLine } from "../drivers/modbus/rtu-line.js";
import { openSerialStream, openTcpStream } from "../drivers/modbus/rtu-stream.js";

/** Reads of one unit, one request at a time. Failures reject with the client's errors (classifyFailure sorts them). */
export interface RegisterReader {
  read(table: ModbusTable, start: number, count: number): Promise<number[]>;
}

/** A line (a TCP gateway, a serial bus): one unit at a time, requests never in parallel. */
export interface ModbusLine {
  /** "tcp 127.0.0.1:502", for output. */
  readonly name: string;
  /** A reader for `unitId`; the previous unit's reader is done with. */
  unit(unitId: number): Promise<RegisterReader>;
  close(): Promise<void>;
}

export interface TcpLineOptions {
  readonly host: string;
  readonly port: number;
  /** Bounds the connect and each request (milliseconds). */
  readonly timeoutMs: number;
}

/**
 * Modbus TCP: one socket per unit id, opened when the unit is asked for and closed before the next,
 * so that a late answer from a unit that timed out can never be taken for the next unit's.
 */
export function tcpLine(opts: TcpLineOptions): ModbusLine {
  let conn: ModbusConnection | undefined;
  const drop = async (): Promise<void> => {
    const c = conn;
    conn = undefined;
    await c?.close();
  };
  return {
    name: `tcp ${opts.host}:${opts.port}`,
    async unit(unitId) {
      await drop();
      const c = await ModbusConnection.open({ device: `${opts.host}:${opts.port} unit ${unitId}`, host: opts.host, port: opts.port, unitId, timeoutMs: opts.timeoutMs });
      conn = c;
      return { read: (table, start, count) => c.read(table, start, count) };
    },
    close: drop,
  };
}

export interface RtuSerialLineOptions {
  readonly path: string;
  /** Baud rate, parity and stop bits of the line (8 data bits: RTU). */
  readonly format: CharFormat;
  /** Bounds opening the port and each request (milliseconds; the wire time of both frames is added). */
  readonly timeoutMs: number;
}

/** "8E1": data bits, parity, stop bits, as serial settings are written on devices. */
export function formatText(f: CharFormat): string {
  return `${f.dataBits}${f.parity[0]!.toUpperCase()}${f.stopBits}`;
}

/**
 * Modbus RTU on a serial port, through the daemon's own bus master (../drivers/modbus/rtu-line.ts):
 * one request at a time, t3.5 of silence between frames, full frame checks (unit id, function
 * code, byte count, CRC), and a late answer of a unit that timed out dropped, never taken for the
 * next unit's.
 */
export function rtuSerialLine(opts: RtuSerialLineOptions): ModbusLine {
  const name = `serial ${opts.path} ${opts.format.baud} ${formatText(opts.format)}`;
  const line = new RtuLine({ name, interFrameMs: t35Ms(opts.format), format: opts.format, open: (t) => openSerialStream(opts.path, opts.format, t) });
  return overRtu(line, name, opts.timeoutMs);
}

export interface RtuGatewayLineOptions {
  readonly host: string;
  readonly port: number;
  /** Bounds the connect and each request (milliseconds). */
  readonly timeoutMs: number;
}

/** Modbus RTU frames through an RTU-over-TCP gateway (one TCP connection for every unit), through the same bus master. */
export function rtuGatewayLine(opts: RtuGatewayLineOptions): ModbusLine {
  const name = `gateway ${opts.host}:${opts.port} (RTU)`;
  // As for the daemon's gateways (../drivers/modbus/rtu-lines.ts): the gateway keeps the serial
  // timing on its side; the floor gap only spares simple converters a request glued to an answer.
  const line = new RtuLine({ name, interFrameMs: T35_FLOOR_MS, open: (t) => openTcpStream(opts.host, opts.port, t) });
  return overRtu(line, name, opts.timeoutMs);
}

/**
 * One unit attached to the line at a time. The next unit is attached before the previous one is
 * detached: the line closes its stream with its last unit, and keeping it open keeps the record of
 * the units that timed out, so that their late answers are recognised and dropped.
 */
function overRtu(line: RtuLine, name: string, timeoutMs: number): ModbusLine {
  let link: ModbusLink | undefined;
  return {
    name,
    async unit(unitId) {
      const prev = link;
      link = undefined;
      let next: ModbusLink;
      try {
        next = await line.attach({ device: `${name} unit ${unitId}`, unitId, timeoutMs });
      } finally {
        await prev?.close();
      }
      link = next;
      return { read: (table, start, count) => next.read(table, start, count) };
    },
    async close() {
      const l = link;
      link = undefined;
      await l?.close();
      await line.close();
    },
  };
}
