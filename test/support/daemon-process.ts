// Runs the built daemon (`dist/src/cli/main.js run`) as its own process, as systemd would, so a
// test can kill it and see what the broker does. Stopped by pid.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";

export interface DaemonProcess {
  readonly pid: number;
  readonly output: () => string;
  /** SIGTERM and wait for exit (SIGKILL after the bound). */
  stop(): Promise<number | null>;
  /** SIGKILL: no goodbye, the broker must fire the Last Will. */
  kill(): Promise<void>;
  readonly exited: Promise<number | null>;
  /** Send a signal (e.g. SIGHUP) to the daemon. */
  signal(sig: NodeJS.Signals): void;
  /** Resolve once the daemon's output contains `text`; reject after timeoutMs. */
  waitForOutput(text: string, timeoutMs: number): Promise<void>;
  readonly running: () => boolean;
}

export const cliPath = "dist/src/cli/main.js";

export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} missing: run \`npm run build\` (npm test does it first)`);
  return spawn(process.execPath, [cliPath, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1", ...env } });
}

/** `env` is added to the test's environment (e.g. NOTIFY_SOCKET). */
export function startDaemon(configFile: string, clock?: { speed: number; epoch: number }, env: NodeJS.ProcessEnv = {}): DaemonProcess {
  const args = ["run", "-c", configFile];
  if (clock) args.push("--clock-speed", String(clock.speed), "--clock-epoch", String(clock.epoch));
  return startCliProcess(args, env);
}

/** Any long-running `firebreak` subcommand (run, consumer) as its own process. */
export function startCliProcess(args: string[], env: NodeJS.ProcessEnv = {}): DaemonProcess {
  const child = spawnCli(args, env);
  let out = "";
  // Waiters re-check on every chunk of output: waiting for a line is an event, not a poll.
  const waiters = new Set<() => void>();
  const append = (b: Buffer): void => {
    out += b.toString();
    for (const w of waiters) w();
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const waitExit = async (boundMs: number) => {
    const t = setTimeout(() => child.kill("SIGKILL"), boundMs);
    const code = await exited;
    clearTimeout(t);
    return code;
  };
  return {
    pid: child.pid!,
    output: () => out,
    exited,
    signal: (sig) => void child.kill(sig),
    running: () => child.exitCode === null && child.signalCode === null,
    waitForOutput: (text, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        if (out.includes(text)) return resolve();
        const check = (): void => {
          if (!out.includes(text)) return;
          cleanup();
          resolve();
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`daemon output lacks "${text}" after ${timeoutMs} ms:\n${out.slice(-2000)}`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
      }),
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      return waitExit(10_000);
    },
    kill: async () => {
      if (child.exitCode !== null) return;
      child.kill("SIGKILL");
      await waitExit(5_000);
    },
  };
}
