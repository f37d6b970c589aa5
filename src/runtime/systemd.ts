// The systemd notify protocol (sd_notify(3)): READY=1 once the daemon watches, WATCHDOG=1 from its
// evaluation loop, STATUS= with a one-line summary, STOPPING=1 on the way out. Sent as datagrams
// to $NOTIFY_SOCKET; without that variable (not started by systemd) every call does nothing.
//
// Why the `unix-dgram` package: Node has no unix datagram client (`node:dgram` is UDP only), and
// the notify socket is SOCK_DGRAM. Spawning `systemd-notify` sends from a child pid, which systemd
// accepts only with NotifyAccess=all and then races the child's exit when it looks up its unit;
// `sd-notify` binds libsystemd (needs its headers to build). unix-dgram is a small, long-kept
// (Ben Noordhuis) native binding of socket(AF_UNIX, SOCK_DGRAM) + sendto, so the messages come from
// the main pid as NotifyAccess=main expects.
import { createRequire } from "node:module";

/** The part of a unix datagram socket this module uses (unix-dgram's Socket). */
export interface DatagramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, callback?: (err?: Error) => void): void;
  on(event: "error", fn: (err: Error) => void): unknown;
  close(): void;
}

export type SocketFactory = () => DatagramSocket;

interface UnixDgram {
  createSocket(type: "unix_dgram"): DatagramSocket;
}

/** unix-dgram is CommonJS with no types of its own: loaded once, on first use. */
const unixDgramSocket: SocketFactory = () => (createRequire(import.meta.url)("unix-dgram") as UnixDgram).createSocket("unix_dgram");

export interface NotifierOptions {
  /** The environment to read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** This process's pid, compared with WATCHDOG_PID (default process.pid). */
  readonly pid?: number;
  readonly socket?: SocketFactory;
  /** A send that failed: the daemon logs it (once per kind of failure is the caller's business). */
  readonly onError?: (err: Error) => void;
}

/** systemd's longest STATUS= is not documented; a status line longer than this is cut (journal and `systemctl status` show one line). */
const MAX_STATUS_CHARS = 200;

export class SystemdNotifier {
  readonly #path: string | undefined;
  readonly #watchdogUsec: number | undefined;
  readonly #factory: SocketFactory;
  readonly #onError: ((err: Error) => void) | undefined;
  #socket: DatagramSocket | undefined;
  #lastStatus: string | undefined;
  #sent = 0;
  #failed = 0;
  /** Why notifications cannot be sent although NOTIFY_SOCKET is set; the daemon logs it at start. */
  readonly problem: string | undefined;

  constructor(opts: NotifierOptions = {}) {
    const env = opts.env ?? process.env;
    const raw = env.NOTIFY_SOCKET;
    // "@name" is an abstract-namespace socket, which unix-dgram cannot address (it copies the
    // path with strncpy, so the leading NUL ends it); systemd itself uses /run/systemd/notify.
    if (raw?.startsWith("@") === true) this.problem = `NOTIFY_SOCKET=${raw} is an abstract socket, which firebreak cannot send to: no READY=1 or WATCHDOG=1 will reach the service manager`;
    this.#path = raw === undefined || raw === "" || raw.startsWith("@") ? undefined : raw;
    const usec = Number(env.WATCHDOG_USEC);
    const forPid = env.WATCHDOG_PID === undefined || env.WATCHDOG_PID === "" || Number(env.WATCHDOG_PID) === (opts.pid ?? process.pid);
    this.#watchdogUsec = Number.isInteger(usec) && usec > 0 && forPid ? usec : undefined;
    this.#factory = opts.socket ?? unixDgramSocket;
    this.#onError = opts.onError;
  }

  /** Started by systemd with a notify socket. */
  get enabled(): boolean {
    return this.#path !== undefined;
  }

  /**
   * How often to send WATCHDOG=1: half of WatchdogSec (sd_watchdog_enabled(3) recommends it), or
   * undefined when the unit has no watchdog for this process.
   */
  get watchdogIntervalMs(): number | undefined {
    return this.#watchdogUsec === undefined || !this.enabled ? undefined : Math.max(1, Math.floor(this.#watchdogUsec / 2000));
  }

  /** Datagrams sent and sends that failed, for /metrics and tests. */
  stats(): { sent: number; failed: number } {
    return { sent: this.#sent, failed: this.#failed };
  }

  ready(status?: string): void {
    this.#send(status === undefined ? "READY=1" : `READY=1\nSTATUS=${this.#oneLine(status)}`);
  }

  watchdog(): void {
    this.#send("WATCHDOG=1");
  }

  /** STATUS=, sent only when the line changed since the last one. */
  status(line: string): void {
    const s = this.#oneLine(line);
    if (s === this.#lastStatus) return;
    this.#lastStatus = s;
    this.#send(`STATUS=${s}`);
  }

  stopping(status?: string): void {
    this.#send(status === undefined ? "STOPPING=1" : `STOPPING=1\nSTATUS=${this.#oneLine(status)}`);
  }

  close(): void {
    this.#socket?.close();
    this.#socket = undefined;
  }

  #oneLine(s: string): string {
    const flat = s.replace(/[\r\n]+/g, " ");
    return flat.length > MAX_STATUS_CHARS ? `${flat.slice(0, MAX_STATUS_CHARS - 1)}…` : flat;
  }

  #send(message: string): void {
    const path = this.#path;
    if (path === undefined) return;
    try {
      if (this.#socket === undefined) {
        const socket = this.#factory();
        socket.on("error", (err) => this.#fail(err));
        this.#socket = socket;
      }
      const buf = Buffer.from(message, "utf8");
      this.#socket.send(buf, 0, buf.length, path, (err) => (err ? this.#fail(err) : this.#sent++));
    } catch (err) {
      this.#fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #fail(err: Error): void {
    this.#failed++;
    this.#onError?.(err);
  }
}
