// Turns the parsed `serial_lines:` and a device's `modbus:` block into the typed transport the Modbus
// driver receives (./types.ts ModbusTransport), with located issues for unknown or duplicate lines.
import type { ConfigIssue } from "../errors.js";
import type { ModbusParsed, SerialLineParsed } from "./modbus-schema.js";
import type { ModbusTransport, SerialLine } from "./types.js";
import type { YamlSource } from "./yaml-source.js";

type KeyPath = (string | number)[];

/** The site's serial lines by id; a duplicate id or path is an issue (two masters on one port cannot work). */
export function buildSerialLines(parsed: readonly SerialLineParsed[], src: YamlSource, issues: ConfigIssue[]): Map<string, SerialLine> {
  const lines = new Map<string, SerialLine>();
  const paths = new Map<string, string>();
  parsed.forEach((l, i) => {
    if (lines.has(l.id)) issues.push(src.issue(["serial_lines", i, "id"], `serial line id "${l.id}" is used twice`));
    const other = paths.get(l.path);
    if (other !== undefined) issues.push(src.issue(["serial_lines", i, "path"], `${l.path} is already line ${other}: one port is one line (put both units on ${other})`));
    paths.set(l.path, l.id);
    lines.set(l.id, {
      id: l.id,
      path: l.path,
      baud: l.baud,
      parity: l.parity,
      dataBits: l.data_bits,
      stopBits: l.stop_bits,
      ...(l.inter_frame_ms !== undefined ? { interFrameMs: l.inter_frame_ms } : {}),
      ...(l.timeout_ms !== undefined ? { timeoutMs: l.timeout_ms } : {}),
    });
  });
  return lines;
}

/**
 * The device's transport and the key that must be unique across devices (one unit id per line or
 * endpoint), or undefined with an issue when the line is unknown.
 */
export function buildModbusTransport(m: ModbusParsed, lines: ReadonlyMap<string, SerialLine>, at: KeyPath, src: YamlSource, issues: ConfigIssue[]): { transport: ModbusTransport; endpoint: string } | undefined {
  if (m.line !== undefined) {
    const line = lines.get(m.line);
    if (line === undefined) {
      const known = [...lines.keys()].join(", ");
      issues.push(src.issue([...at, "line"], `unknown serial line "${m.line}"; ${known === "" ? "add it under serial_lines:" : `known: ${known}`}`));
      return undefined;
    }
    return { transport: { transport: "rtu", line, unitId: m.unit_id }, endpoint: `line ${line.id} unit ${m.unit_id}` };
  }
  if (m.gateway !== undefined) {
    const cut = m.gateway.lastIndexOf(":");
    const host = m.gateway.slice(0, cut);
    const port = Number(m.gateway.slice(cut + 1));
    if (!(port >= 1 && port <= 65535)) {
      issues.push(src.issue([...at, "gateway"], `port ${port} is outside 1..65535`));
      return undefined;
    }
    return { transport: { transport: "rtu_over_tcp", host, port, unitId: m.unit_id }, endpoint: `gateway ${host}:${port} unit ${m.unit_id}` };
  }
  const host = m.host ?? "";
  const port = m.port ?? 502;
  return { transport: { transport: "tcp", host, port, unitId: m.unit_id, ...(m.max_in_flight !== undefined ? { maxInFlight: m.max_in_flight } : {}) }, endpoint: `${host}:${port}/${m.unit_id}` };
}
