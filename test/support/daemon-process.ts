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

export function spawnCli(args: string[]): ChildProcess {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} missing: run \`npm run build\` (npm test does it first)`);
  return spawn(process.execPath, [cliPath, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
}

export function startDaemon(configFile: string, clock?: { speed: number; epoch: number }): DaemonProcess {
  const args = ["run", "-c", configFile];
  if (clock) args.push("--clock-speed", String(clock.speed), "--clock-epoch", String(clock.epoch));
  return startCliProcess(args);
}

/** Any long-running `firebreak` subcommand (run, consumer) as its own process. */
export function startCliProcess(args: string[]): DaemonProcess {
  const child = spawnCli(args);
  let out = "";
  child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (out += b.toString()));
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
        const started = Date.now();
        const check = setInterval(() => {
          if (out.includes(text)) {
            clearInterval(check);
            resolve();
          } else if (Date.now() - started > timeoutMs) {
            clearInterval(check);
            reject(new Error(`daemon output lacks "${text}" after ${timeoutMs} ms:\n${out.slice(-2000)}`));
          }
        }, 20);
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
