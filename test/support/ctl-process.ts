// `firebreak ctl …` as a process: its exit code and everything it printed.
import { spawnCli } from "./daemon-process.js";

export function ctlProcess(args: readonly string[]): Promise<{ code: number | null; out: string }> {
  const child = spawnCli(["ctl", ...args]);
  let out = "";
  child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (out += b.toString()));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, out })));
}
