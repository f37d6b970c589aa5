// What the commissioning commands (`firebreak modbus …`) read through: a Modbus line with unit ids
// on it, each unit a reader of "these registers". Modbus TCP is here (firebreak's own client, the
// daemon's, via ModbusConnection); a serial RTU line plugs in by implementing ModbusLine too.
import type { ModbusTable } from "../config/profile-schema.js";
import { ModbusConnection } from "../drivers/modbus/connection.js";

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
