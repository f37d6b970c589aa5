// The RTU lines of one daemon, by what they run on: one RtuLine per serial port and one per RTU
// gateway (host:port), shared by every unit configured on it, so that requests to all of them are
// serialised on the one bus. Each device gets a LinkOpener that attaches its unit to its line.
import type { Device, ModbusTransport, SerialLine } from "../../config/types.js";
import { describeModbus } from "../../config/types.js";
import type { LinkOpener } from "./connection.js";
import { t35Ms, T35_FLOOR_MS, type CharFormat } from "./rtu-frame.js";
import { RtuLine } from "./rtu-line.js";
import { openSerialStream, openTcpStream } from "./rtu-stream.js";

export function lineFormat(l: SerialLine): CharFormat {
  return { baud: l.baud, dataBits: l.dataBits, parity: l.parity, stopBits: l.stopBits };
}

/** The silence kept between frames on a serial line: the configured gap, never below t3.5 at the baud rate. */
export function lineGapMs(l: SerialLine): number {
  return Math.max(l.interFrameMs ?? 0, t35Ms(lineFormat(l)));
}

export class RtuLines {
  readonly #lines = new Map<string, RtuLine>();

  /** Every line opened so far (for status and stop). */
  get all(): readonly RtuLine[] {
    return [...this.#lines.values()];
  }

  /** The opener of an RTU device's unit on its (shared) line; undefined for a Modbus TCP device. */
  opener(device: Device): LinkOpener | undefined {
    const m = device.modbus;
    const line = this.#lineOf(m);
    if (line === undefined) return undefined;
    return { describe: describeModbus(m), open: (timeoutMs) => line.attach({ device: device.id, unitId: m.unitId, timeoutMs }) };
  }

  /** Close every line (after every poller stopped; a line closes by itself when its last unit detaches). */
  async close(): Promise<void> {
    await Promise.all(this.all.map((l) => l.close()));
  }

  #lineOf(m: ModbusTransport): RtuLine | undefined {
    switch (m.transport) {
      case "rtu": {
        const l = m.line;
        return this.#get(`serial ${l.path}`, () => new RtuLine({ name: `${l.id} (${l.path})`, interFrameMs: lineGapMs(l), format: lineFormat(l), open: (t) => openSerialStream(l.path, lineFormat(l), t) }));
      }
      case "rtu_over_tcp": {
        const { host, port } = m;
        // The gateway keeps the serial timing on its side; the floor gap only spares simple
        // transparent converters a request glued to the previous answer.
        return this.#get(`gateway ${host}:${port}`, () => new RtuLine({ name: `gateway ${host}:${port}`, interFrameMs: T35_FLOOR_MS, open: (t) => openTcpStream(host, port, t) }));
      }
      case undefined:
      case "tcp":
        return undefined;
    }
  }

  #get(key: string, make: () => RtuLine): RtuLine {
    let line = this.#lines.get(key);
    if (line === undefined) this.#lines.set(key, (line = make()));
    return line;
  }
}
