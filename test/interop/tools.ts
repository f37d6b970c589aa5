// The other Modbus implementations the interop tests hold firebreak against: pymodbus (Debian's
// python3-pymodbus) as a server, mbpoll (Debian's mbpoll) as a client, socat for a serial PTY pair.
// A missing tool is a failure naming the package (.ci/run installs them), never a skip.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Debian's python, not a pyenv shim: python3-pymodbus is installed for /usr/bin/python3. */
const PYTHON = "/usr/bin/python3";
const SERVER = fileURLToPath(new URL("./pymodbus_server.py", import.meta.url));

/** Throw naming the Debian package when a tool is missing. */
export function requireTools(): void {
  const py = spawnSync(PYTHON, ["-c", "import pymodbus, serial; print(pymodbus.__version__)"], { encoding: "utf8" });
  if (py.status !== 0) throw new Error(`python3-pymodbus is missing (${PYTHON}: ${(py.stderr || String(py.error)).trim().split("\n").pop()}): apt-get install python3-pymodbus python3-serial python3-serial-asyncio (.ci/run does)`);
  const mb = spawnSync("mbpoll", ["-V"], { encoding: "utf8" });
  if (mb.error !== undefined || mb.status !== 0) throw new Error(`mbpoll is missing (${String(mb.error ?? mb.stderr)}): apt-get install mbpoll (.ci/run does)`);
  const so = spawnSync("socat", ["-V"], { encoding: "utf8" });
  if (so.error !== undefined) throw new Error("socat is missing: apt-get install socat (.ci/run does)");
}

/** Register runs per table, keyed by start address, as pymodbus_server.py reads them. */
export type RegisterMap = Partial<Record<"holding" | "input" | "coil" | "discrete", Record<number, readonly number[]>>>;

export interface Started {
  readonly child: ChildProcess;
  /** The TCP port, or the serial device. */
  readonly where: string;
  stop(): Promise<void>;
}

/** Wait for a line of stdout matching `re` (bounded), or fail with what the process said. */
function waitLine(child: ChildProcess, re: RegExp, what: string, timeoutMs = 15_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => done(new Error(`${what}: no "${re.source}" within ${timeoutMs} ms; stdout: ${out} stderr: ${err}`)), timeoutMs);
    const onOut = (b: Buffer): void => {
      out += b.toString();
      const m = re.exec(out);
      if (m !== null) done(undefined, m);
    };
    const onErr = (b: Buffer): void => void (err += b.toString());
    const onExit = (code: number | null): void => done(new Error(`${what} exited (${code}) before it was ready: ${err || out}`));
    function done(e?: Error, m?: RegExpExecArray): void {
      clearTimeout(timer);
      child.stdout?.off("data", onOut);
      child.stderr?.off("data", onErr);
      child.off("exit", onExit);
      if (e !== undefined) reject(e);
      else resolve(m!);
    }
    child.stdout?.on("data", onOut);
    child.stderr?.on("data", onErr);
    child.once("exit", onExit);
  });
}

/** Stop a child we started, by its pid: SIGTERM, then SIGKILL if it does not go within 3 s. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 3000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** Start pymodbus serving `units` over TCP (a free port) or RTU on `serial`. */
export async function startPymodbus(units: ReadonlyMap<number, RegisterMap>, serial?: string): Promise<Started> {
  const dir = await mkdtemp(join(tmpdir(), "fb-pymodbus-"));
  const file = join(dir, "map.json");
  await writeFile(file, JSON.stringify({ units: Object.fromEntries(units) }));
  const child = spawn(PYTHON, [SERVER, file, ...(serial !== undefined ? ["--serial", serial] : [])], { stdio: ["pipe", "pipe", "pipe"] });
  child.stderr?.resume();
  const stop = async (): Promise<void> => {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const m = await waitLine(child, /ready (\S+)/, "pymodbus server");
    return { child, where: m[1]!, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** A socat PTY pair: `a` and `b` are symlinks to the two ends. */
export async function startPtyPair(): Promise<{ a: string; b: string; stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "fb-pty-"));
  const a = join(dir, "a");
  const b = join(dir, "b");
  const child = spawn("socat", ["-d", "-d", `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ["ignore", "pipe", "pipe"] });
  const stop = async (): Promise<void> => {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // socat -d -d logs "starting data transfer loop" once both ends exist.
    await waitLineStderr(child, /starting data transfer loop/);
    return { a, b, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

function waitLineStderr(child: ChildProcess, re: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    let err = "";
    const timer = setTimeout(() => reject(new Error(`socat: no "${re.source}" within 10 s: ${err}`)), 10_000);
    child.stderr?.on("data", (b: Buffer) => {
      err += b.toString();
      if (re.test(err)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`socat exited (${code}): ${err}`));
    });
  });
}

export interface MbpollResult {
  readonly code: number | null;
  /** Address → value, from lines like "[40002]: \t1" or, past 32767, "[0]: \t36992 (-28544)" (the unsigned value kept). */
  readonly values: Map<number, number>;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run mbpoll once (-1) with PDU addressing (-0): `args` are the table, range and target options. */
export function mbpoll(args: readonly string[]): Promise<MbpollResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("mbpoll", ["-1", "-0", "-o", "2", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      const values = new Map<number, number>();
      for (const m of stdout.matchAll(/^\[(\d+)\]:[ \t]+(-?\d+)(?: \(-?\d+\))?[ \t]*$/gm)) values.set(Number(m[1]), Number(m[2]));
      resolve({ code, values, stdout, stderr });
    });
  });
}
