// A server process for integration tests (Alertmanager, influxd): spawned with its own temp
// config, ready when an HTTP URL answers, stopped by pid (SIGTERM, SIGKILL after a grace), and
// restartable with the same arguments so its data survives a stop.
import { type ChildProcess, spawn } from "node:child_process";

export interface ServiceOptions {
  readonly name: string;
  readonly bin: string;
  readonly args: readonly string[];
  /** Answers 2xx once the server is ready. */
  readonly readyUrl: string;
  readonly readyTimeoutMs?: number;
}

export interface Service {
  readonly pid: number;
  /** What the process wrote to stdout and stderr so far. */
  log(): string;
  stop(): Promise<void>;
  /** Start again (after stop()), with the same arguments. */
  start(): Promise<void>;
}

const STOP_GRACE_MS = 5_000;

export async function startService(opts: ServiceOptions): Promise<Service> {
  let child: ChildProcess | undefined;
  let output = "";

  async function start(): Promise<void> {
    const c = spawn(opts.bin, [...opts.args], { stdio: ["ignore", "pipe", "pipe"] });
    child = c;
    for (const s of [c.stdout, c.stderr]) {
      s?.setEncoding("utf8");
      s?.on("data", (t: string) => {
        output = (output + t).slice(-20_000);
      });
    }
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`${opts.name} exited (${c.exitCode ?? c.signalCode}) before it was ready:\n${output}`);
      try {
        const res = await fetch(opts.readyUrl, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        if (c.pid !== undefined) process.kill(c.pid, "SIGKILL");
        throw new Error(`${opts.name} was not ready at ${opts.readyUrl} in time:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 100)); // poll interval, not a correctness wait
    }
  }

  async function stop(): Promise<void> {
    const c = child;
    if (c === undefined || c.pid === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once("exit", () => resolve()));
    process.kill(c.pid, "SIGTERM");
    const timer = setTimeout(() => {
      if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) process.kill(c.pid, "SIGKILL");
    }, STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }

  await start();
  return {
    get pid() {
      return child?.pid ?? -1;
    },
    log: () => output,
    stop,
    start,
  };
}
