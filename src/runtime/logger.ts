// pino JSON lines to stdout (journald keeps them); human-readable when stdout is a terminal. Every
// log firebreak writes (the daemon's, the demo's file, the bench's) comes from this one factory, so
// every log has the same time format: ISO 8601 UTC in `time`.
//
// Key hygiene: pino appends a child's bindings to its parent's without merging, so a key bound
// twice appears twice in the line (`"component":"daemon","component":"mqtt"`). The daemon binds
// `component` once per part; drivers add `device` to their own lines; nobody re-binds a key.
import { pino, type DestinationStream, type Logger } from "pino";
import pretty from "pino-pretty";
import type { LogLevel } from "../config/types.js";

export interface LoggerOptions {
  /** Human-readable lines (default: when stdout is a terminal). Ignored with `file`. */
  readonly pretty?: boolean;
  /** Where JSON lines go instead of stdout. */
  readonly destination?: DestinationStream;
  /** Append JSON lines to this file (its folder is created). Written synchronously, so no line is lost at exit. */
  readonly file?: string;
}

export function createLogger(level: LogLevel, opts: LoggerOptions = {}): Logger {
  const base = { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  if (opts.file !== undefined) return pino(base, pino.destination({ dest: opts.file, sync: true, mkdir: true }));
  const wantPretty = opts.pretty ?? process.stdout.isTTY === true;
  if (wantPretty) {
    return pino(base, pretty({ colorize: true, sync: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname", destination: opts.destination ?? 1 }));
  }
  return opts.destination !== undefined ? pino(base, opts.destination) : pino(base);
}
