// Starts a real Mosquitto broker for integration tests: temp config on 127.0.0.1, optional TLS,
// users and persistence, and a stop/restart on the same port. Processes are ended by pid.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { freePort } from "./ports.js";

export interface MosquittoTls {
  /** PEM files. */
  readonly cafile: string;
  readonly certfile: string;
  readonly keyfile: string;
  /** Demand a client certificate signed by `cafile` (default true). */
  readonly requireCertificate?: boolean;
}

export interface MosquittoOptions {
  readonly port?: number;
  readonly tls?: MosquittoTls;
  /** Keep sessions and retained messages across restart() (default true). */
  readonly persistence?: boolean;
  /** username -> password; when given, anonymous clients are refused. */
  readonly users?: Readonly<Record<string, string>>;
  /** Text of a Mosquitto ACL file (e.g. docs/mosquitto-acl.example); written next to the config and named by `acl_file`. */
  readonly acl?: string;
  /** Extra raw lines for mosquitto.conf, e.g. `max_queued_messages 5`. */
  readonly extraConfig?: readonly string[];
}

export interface Broker {
  readonly port: number;
  /** mqtt://127.0.0.1:<port> or mqtts://localhost:<port> with TLS (the server cert names localhost). */
  readonly url: string;
  /** pid of the running broker process (changes after restart). */
  readonly pid: number;
  /** The temp directory holding config and persistence. */
  readonly dir: string;
  /** What the broker wrote to stderr so far. */
  log(): string;
  /** SIGTERM by pid (Mosquitto saves its persistence file), SIGKILL if it has not exited in 5 s. Keeps the data. */
  stop(): Promise<void>;
  /** SIGKILL by pid, as a crash or power loss: nothing is saved beyond the last autosave. Keeps the data. */
  crash(): Promise<void>;
  /** Stop if running, then start again on the same port with the same persistence. */
  restart(): Promise<void>;
  /** stop() and delete the temp directory. */
  destroy(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;

export function findMosquitto(): string {
  const dirs = (process.env.PATH ?? "").split(delimiter).concat(["/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin"]);
  for (const d of dirs) {
    if (d !== "" && existsSync(join(d, "mosquitto"))) return join(d, "mosquitto");
  }
  throw new Error("mosquitto not found: apt-get install mosquitto (the test suite needs a real broker and never skips)");
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Broker> {
  const bin = findMosquitto();
  const port = opts.port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), "firebreak-mosq-"));
  const conf = join(dir, "mosquitto.conf");
  const lines = [
    `listener ${port} 127.0.0.1`,
    `allow_anonymous ${opts.users === undefined ? "true" : "false"}`,
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    "log_type notice",
  ];
  // As root, Mosquitto would drop to the `mosquitto` user, which cannot write our temp dir.
  if (process.getuid?.() === 0) lines.push("user root");
  if (opts.persistence ?? true) {
    lines.push("persistence true", `persistence_location ${dir}/`, "persistence_file mosquitto.db");
  } else {
    lines.push("persistence false");
  }
  if (opts.users !== undefined) {
    const pwFile = join(dir, "passwd");
    await writeFile(pwFile, "");
    for (const [user, pass] of Object.entries(opts.users)) {
      execFileSync("mosquitto_passwd", ["-b", pwFile, user, pass], { stdio: "pipe" });
    }
    lines.push(`password_file ${pwFile}`);
  }
  if (opts.acl !== undefined) {
    const aclFile = join(dir, "acl");
    await writeFile(aclFile, opts.acl);
    lines.push(`acl_file ${aclFile}`);
  }
  if (opts.tls !== undefined) {
    lines.push(`cafile ${opts.tls.cafile}`, `certfile ${opts.tls.certfile}`, `keyfile ${opts.tls.keyfile}`);
    lines.push(`require_certificate ${opts.tls.requireCertificate ?? true ? "true" : "false"}`);
  }
  lines.push(...(opts.extraConfig ?? []));
  await writeFile(conf, lines.join("\n") + "\n");

  let child: ChildProcess | undefined;
  let stderr = "";

  async function launch(): Promise<void> {
    const c = spawn(bin, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
    child = c;
    c.stderr?.setEncoding("utf8");
    c.stderr?.on("data", (s: string) => {
      stderr += s;
    });
    await waitForPort(port, c, () => stderr);
  }

  async function stop(): Promise<void> {
    const c = child;
    if (c === undefined || c.pid === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once("exit", () => resolve()));
    process.kill(c.pid, "SIGTERM");
    let killTimer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      killTimer = setTimeout(() => {
        if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) process.kill(c.pid, "SIGKILL");
        resolve();
      }, STOP_GRACE_MS);
    });
    await Promise.race([exited, killed]);
    await exited;
    clearTimeout(killTimer);
  }

  async function crash(): Promise<void> {
    const c = child;
    if (c === undefined || c.pid === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once("exit", () => resolve()));
    process.kill(c.pid, "SIGKILL");
    await exited;
  }

  await launch();
  return {
    port,
    url: opts.tls === undefined ? `mqtt://127.0.0.1:${port}` : `mqtts://localhost:${port}`,
    get pid() {
      return child?.pid ?? -1;
    },
    dir,
    log: () => stderr,
    stop,
    crash,
    async restart() {
      await stop();
      await launch();
    },
    async destroy() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Poll a TCP connect until the broker listens; fail early if the process dies. */
async function waitForPort(port: number, c: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (c.exitCode !== null || c.signalCode !== null) {
      throw new Error(`mosquitto exited (${c.exitCode ?? c.signalCode}) before listening on ${port}:\n${stderr()}`);
    }
    if (await canConnect(port)) return;
    if (Date.now() > deadline) {
      if (c.pid !== undefined) process.kill(c.pid, "SIGKILL");
      throw new Error(`mosquitto did not listen on 127.0.0.1:${port} within ${READY_TIMEOUT_MS} ms:\n${stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 50)); // poll interval, not a correctness wait
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => {
      s.destroy();
      resolve(false);
    });
  });
}
