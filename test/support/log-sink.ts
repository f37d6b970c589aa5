// A pino logger for in-process components under test that keeps every line and lets a test wait,
// with a bound, for one that matches: a component's state change (e.g. "opcua device connected")
// becomes an event to wait on instead of a status to poll or a sleep.
import { pino, type Logger } from "pino";

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

export class LogSink {
  readonly lines: LogLine[] = [];
  readonly log: Logger;
  readonly #waiters = new Set<() => void>();

  constructor(level = "info") {
    this.log = pino({ level }, {
      write: (text: string) => {
        this.lines.push(JSON.parse(text) as LogLine);
        for (const w of this.#waiters) w();
      },
    });
  }

  /** Resolve with the first line (already logged or to come) that matches; reject after timeoutMs naming what was logged. */
  waitFor(predicate: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
    const found = this.lines.find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const l = this.lines.find(predicate);
        if (l === undefined) return;
        cleanup();
        resolve(l);
      };
      const timer = setTimeout(() => {
        cleanup();
        const seen = this.lines.slice(-20).map((l) => `  ${l.msg}`).join("\n") || "  (nothing)";
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last lines logged:\n${seen}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
    });
  }
}
