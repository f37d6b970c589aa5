// pino JSON lines to stdout (journald keeps them); human-readable when stdout is a terminal.
import { pino, type Logger } from "pino";
import pretty from "pino-pretty";
import type { LogLevel } from "../config/types.js";

export function createLogger(level: LogLevel, opts: { pretty?: boolean; destination?: NodeJS.WritableStream } = {}): Logger {
  const wantPretty = opts.pretty ?? process.stdout.isTTY === true;
  const base = { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  if (wantPretty) {
    return pino(base, pretty({ colorize: true, sync: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname", destination: opts.destination ?? 1 }));
  }
  return opts.destination !== undefined ? pino(base, opts.destination) : pino(base);
}
