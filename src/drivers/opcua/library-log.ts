// node-opcua writes its own warnings and traces to stdout, which would break the daemon's JSON log
// stream. This module, loaded before node-opcua itself, routes them into pino at debug level (the
// driver logs every failure that matters itself, with what to do). Until a logger is given, lines
// are kept (bounded) and handed over when it is.
import { format } from "node:util";
import { setDebugLogger, setErrorLogger, setTraceLogger, setWarningLogger } from "node-opcua-debug";
import type { Logger } from "pino";

const PENDING_LIMIT = 50;
let target: Logger | undefined;
const pending: { level: string; msg: string }[] = [];

function sink(level: string): (context?: unknown, ...args: unknown[]) => void {
  return (_context, ...args) => {
    const msg = format(...args);
    if (target !== undefined) target.debug({ component: "node-opcua", libraryLevel: level }, msg);
    else if (pending.length < PENDING_LIMIT) pending.push({ level, msg });
  };
}

setWarningLogger(sink("warning"));
setErrorLogger(sink("error"));
setDebugLogger(() => {});
setTraceLogger(() => {});

/** Send node-opcua's own messages to `log` (debug level), including those from its start-up. */
export function routeLibraryLog(log: Logger): void {
  target = log;
  for (const p of pending.splice(0)) log.debug({ component: "node-opcua", libraryLevel: p.level }, p.msg);
}
