// The byte streams an RTU line runs on: a serial port (the `serialport` package, which modbus-serial
// brings as its optional dependency and uses itself for connectRTU; loaded only for sites that have
// serial lines, as node-opcua is only for OPC UA sites) or a TCP socket to an RTU gateway. Both
// give the same small interface, so ./rtu-line.ts frames and paces requests the same way over either.
import net from "node:net";
import type { CharFormat } from "./rtu-frame.js";
import { RequestTimeout } from "./tcp-client.js";

export interface ByteStream {
  write(bytes: Buffer): void;
  onData(fn: (chunk: Buffer) => void): void;
  /** Called once when the stream ends by itself (not on close()). */
  onEnd(fn: (detail: string) => void): void;
  /** Close and release the port or socket. Idempotent. */
  close(): Promise<void>;
}

/** Open a serial port at `path` with the line's character format; rejects with the port's error or a RequestTimeout. */
export async function openSerialStream(path: string, format: CharFormat, timeoutMs: number): Promise<ByteStream> {
  let SerialPort: typeof import("serialport").SerialPort;
  try {
    ({ SerialPort } = await import("serialport"));
  } catch (e) {
    throw new Error(`cannot load the serialport package (an optional dependency of modbus-serial) for ${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const port = new SerialPort({ path, baudRate: format.baud, dataBits: format.dataBits, parity: format.parity, stopBits: format.stopBits, autoOpen: false, lock: true });
  await withTimeout(
    new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve()))),
    timeoutMs,
    `opening ${path} timed out after ${timeoutMs} ms`,
    () => port.isOpen && port.close(),
  );
  const ending = endOnce();
  port.on("error", (e: Error) => ending.end(`serial port ${path}: ${e.message}`));
  port.on("close", (e?: Error & { disconnected?: boolean }) => ending.end(`serial port ${path} closed${e?.message ? `: ${e.message}` : ""}`));
  return {
    write: (bytes) => void port.write(bytes),
    onData: (fn) => void port.on("data", fn),
    onEnd: (fn) => ending.listen(fn),
    close: () =>
      new Promise<void>((resolve) => {
        ending.silence();
        if (!port.isOpen) return resolve();
        port.close(() => resolve());
      }),
  };
}

/** Open a TCP connection to an RTU gateway; rejects with the socket's error (ECONNREFUSED …) or a RequestTimeout. */
export async function openTcpStream(host: string, port: number, timeoutMs: number): Promise<ByteStream> {
  const socket = net.createConnection({ host, port });
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve();
      });
    }),
    timeoutMs,
    `connect to ${host}:${port} timed out after ${timeoutMs} ms`,
    () => socket.destroy(),
  ).catch((e: unknown) => {
    socket.destroy();
    throw e;
  });
  socket.setNoDelay(true);
  const ending = endOnce();
  socket.on("error", (e: NodeJS.ErrnoException) => ending.end(`${e.code !== undefined ? `${e.code}: ` : ""}${e.message}`));
  socket.on("close", () => ending.end(`connection to gateway ${host}:${port} closed`));
  return {
    write: (bytes) => void socket.write(bytes),
    onData: (fn) => void socket.on("data", fn),
    onEnd: (fn) => ending.listen(fn),
    close: () =>
      new Promise<void>((resolve) => {
        ending.silence();
        if (socket.destroyed) return resolve();
        socket.once("close", () => resolve());
        socket.destroy();
      }),
  };
}

/**
 * A stream ends once, by error or close, whichever comes first, and tells its listener once; a
 * close we asked for ends it silently. The serial port and the gateway socket share this.
 */
function endOnce(): { end(detail: string): void; listen(fn: (detail: string) => void): void; silence(): void } {
  let ended = false;
  let listener: ((detail: string) => void) | undefined;
  return {
    end(detail) {
      if (ended) return;
      ended = true;
      listener?.(detail);
    },
    listen(fn) {
      listener = fn;
    },
    silence() {
      ended = true;
    },
  };
}

function withTimeout(p: Promise<void>, ms: number, message: string, onTimeout: () => unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout();
      reject(new RequestTimeout(message));
    }, ms);
    p.then(
      () => (clearTimeout(timer), resolve()),
      (e: unknown) => (clearTimeout(timer), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}
