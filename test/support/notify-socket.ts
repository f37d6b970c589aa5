// A real systemd-style NOTIFY_SOCKET for tests: a python3 helper binds an AF_UNIX SOCK_DGRAM
// socket and prints each datagram it receives as one JSON line. Stopped by pid.
import { spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const HELPER = `
import json, os, socket, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
print(json.dumps({"bound": path}), flush=True)
while True:
    data = s.recv(4096)
    print(json.dumps({"msg": data.decode("utf-8")}), flush=True)
`;

export interface NotifySocket {
  readonly path: string;
  /** Every datagram received so far, in order. */
  readonly messages: string[];
  /** Resolve with the first datagram (from `from` on) that `match` accepts; reject after timeoutMs. */
  waitFor(match: (m: string) => boolean, timeoutMs: number, from?: number): Promise<string>;
  stop(): void;
}

export async function startNotifySocket(): Promise<NotifySocket> {
  const path = join(await mkdtemp(join(tmpdir(), "fb-notify-")), "notify.sock");
  const child = spawn("python3", ["-c", HELPER, path], { stdio: ["ignore", "pipe", "pipe"] });
  const messages: string[] = [];
  const waiters = new Set<() => void>();
  let err = "";
  let buf = "";
  let bound: () => void = () => undefined;
  const isBound = new Promise<void>((resolve) => (bound = resolve));
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  child.stdout.on("data", (b: Buffer) => {
    buf += b.toString();
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = JSON.parse(buf.slice(0, nl)) as { bound?: string; msg?: string };
      buf = buf.slice(nl + 1);
      if (line.bound !== undefined) bound();
      if (line.msg !== undefined) messages.push(line.msg);
    }
    for (const w of waiters) w();
  });
  const exited = new Promise<never>((_, reject) => child.once("exit", (code) => reject(new Error(`notify helper exited (${code}): ${err}`))));
  exited.catch(() => undefined);
  await Promise.race([isBound, exited]);
  return {
    path,
    messages,
    waitFor: (match, timeoutMs, from = 0) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const hit = messages.slice(from).find(match);
          if (hit === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(hit);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching notify datagram after ${timeoutMs} ms; got: ${JSON.stringify(messages)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    stop: () => void child.kill("SIGTERM"),
  };
}
