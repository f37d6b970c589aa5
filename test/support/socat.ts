// A real PTY pair from socat for RTU tests: two linked pseudo-terminals, `a` and `b`, that carry
// bytes between them like a null-modem cable (at memory speed: no baud rate is enforced). Started
// and stopped by pid; waits for socat's own "starting data transfer loop" line, not a sleep.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface PtyPair {
  readonly a: string;
  readonly b: string;
  readonly pid: number;
  /** SIGTERM by pid, SIGKILL after 3 s; both PTYs disappear. Idempotent. */
  stop(): Promise<void>;
  /** stop() and remove the temp directory. */
  destroy(): Promise<void>;
}

export async function startPtyPair(): Promise<PtyPair> {
  const dir = await mkdtemp(join(tmpdir(), "fb-pty-"));
  const a = join(dir, "a");
  const b = join(dir, "b");
  const child: ChildProcess = spawn("socat", ["-d", "-d", `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  // Listened to from the start: the exit can only be seen once.
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`socat did not start its PTY pair within 5 s: ${stderr}`)), 5000);
    const fail = (e: Error): void => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(e);
    };
    child.once("error", fail);
    const early = (code: number | null): void => fail(new Error(`socat exited with ${code}: ${stderr}`));
    child.once("exit", early);
    child.stderr!.on("data", (c: Buffer) => {
      stderr += c.toString();
      if (stderr.includes("starting data transfer loop")) {
        clearTimeout(timer);
        child.off("exit", early);
        resolve();
      }
    });
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(child.pid!, "SIGTERM");
    const kill = setTimeout(() => child.exitCode === null && process.kill(child.pid!, "SIGKILL"), 3000);
    await exited;
    clearTimeout(kill);
  };
  return { a, b, pid: child.pid!, stop, destroy: async () => (await stop(), await rm(dir, { recursive: true, force: true })) };
}
