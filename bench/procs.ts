// The bench's child processes: forked by path, talked to over IPC with bounded waits, stopped by
// pid (SIGTERM, then SIGKILL after a bound), and their CPU read from /proc when they are not ours.
import { fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const nowMs = (): number => performance.timeOrigin + performance.now();
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Child<Reply> {
  readonly pid: number;
  readonly proc: ChildProcess;
  send(m: unknown): void;
  /** The next message matching `pick`, or an error after `timeoutMs` (or when the child exits). */
  next<T extends Reply>(pick: (m: Reply) => m is T, timeoutMs: number, what: string): Promise<T>;
  onMessage(fn: (m: Reply) => void): void;
  stop(): Promise<void>;
  output(): string;
}

/** Fork `dist/bench/<entry>.js` (a sibling of this file once built). */
export function forkEntry<Reply>(entry: string, args: readonly string[] = []): Child<Reply> {
  const path = fileURLToPath(new URL(`./${entry}.js`, import.meta.url));
  const proc = fork(path, [...args], { stdio: ["ignore", "pipe", "pipe", "ipc"], serialization: "json" });
  let out = "";
  proc.stdout?.on("data", (b: Buffer) => (out = (out + b.toString()).slice(-4000)));
  proc.stderr?.on("data", (b: Buffer) => (out = (out + b.toString()).slice(-4000)));
  const listeners = new Set<(m: Reply) => void>();
  proc.on("message", (m) => {
    for (const l of listeners) l(m as Reply);
  });
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  return {
    pid: proc.pid ?? -1,
    proc,
    send: (m) => {
      if (proc.connected) proc.send(m as never);
    },
    onMessage: (fn) => void listeners.add(fn),
    output: () => out,
    next<T extends Reply>(pick: (m: Reply) => m is T, timeoutMs: number, what: string): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(l);
        };
        const l = (m: Reply): void => {
          if (!pick(m)) return;
          done();
          resolve(m);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${entry} (pid ${proc.pid}): no ${what} within ${timeoutMs} ms\n${out}`));
        }, timeoutMs);
        listeners.add(l);
        void exited.then(() => {
          done();
          reject(new Error(`${entry} (pid ${proc.pid}) exited (${proc.exitCode ?? proc.signalCode}) while waiting for ${what}\n${out}`));
        });
      });
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return;
      const pid = proc.pid;
      if (proc.connected) proc.send({ type: "stop" });
      const killer = setTimeout(() => {
        if (proc.exitCode === null && proc.signalCode === null) process.kill(pid, "SIGKILL");
      }, 8000);
      const softKill = setTimeout(() => {
        if (proc.exitCode === null && proc.signalCode === null) process.kill(pid, "SIGTERM");
      }, 5000);
      await exited;
      clearTimeout(killer);
      clearTimeout(softKill);
    },
  };
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat; undefined where /proc is missing. */
export function procCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // After the command: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
    const ticks = Number(fields[11]) + Number(fields[12]);
    return ticks / CLOCK_TICKS_PER_S;
  } catch {
    return undefined;
  }
}
/** USER_HZ: 100 on every Linux architecture Node supports (sysconf(_SC_CLK_TCK)). */
const CLOCK_TICKS_PER_S = 100;
