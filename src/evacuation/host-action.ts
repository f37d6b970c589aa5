// Runs the reference consumer's configured action for one host: each step a program with its
// arguments (an argv array, never a shell string), the trigger's host, rack, zone and id passed as
// arguments and as environment, with a timeout per attempt and retries. Host names are checked
// first: a name that is not an RFC 1123 host name (or starts with '-') never reaches a program.
import { spawn } from "node:child_process";
import type { ActionConfig } from "./consumer-config.js";

export const PLACEHOLDERS = ["host", "rack", "zone", "trigger", "site", "incident"] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];

/** What one host's action is about. */
export interface HostJob {
  readonly host: string;
  readonly rack?: string;
  readonly zone: string;
  readonly trigger: string;
  readonly site: string;
  readonly incident: number;
  /** The trigger's deadline (ISO time the room may be flooded and its power cut), when it has one. */
  readonly deadline?: string;
}

/** RFC 1123 host names (labels of letters, digits and inner '-', dot-separated, 253 characters at most). */
const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const HOST_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

export function validHostName(host: string): boolean {
  return host.length <= 253 && HOST_NAME.test(host);
}

/** One step's argv with the placeholders filled in; each argument stays one argument. */
export function argvFor(step: readonly string[], job: HostJob): string[] {
  const value: Record<Placeholder, string> = { host: job.host, rack: job.rack ?? "", zone: job.zone, trigger: job.trigger, site: job.site, incident: String(job.incident) };
  return step.map((arg, i) => (i === 0 ? arg : arg.replace(/\{(host|rack|zone|trigger|site|incident)\}/g, (_m, k: Placeholder) => value[k])));
}

export function envFor(job: HostJob, extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...extra,
    FIREBREAK_HOST: job.host,
    FIREBREAK_RACK: job.rack ?? "",
    FIREBREAK_ZONE: job.zone,
    FIREBREAK_TRIGGER: job.trigger,
    FIREBREAK_SITE: job.site,
    FIREBREAK_INCIDENT: String(job.incident),
    FIREBREAK_DEADLINE: job.deadline ?? "",
  };
}

export type HostOutcome = { readonly ok: true; readonly attempts: number } | { readonly ok: false; readonly attempts: number; readonly reason: string };

/** A process that ignores SIGTERM this long after its timeout gets SIGKILL. */
const KILL_GRACE_MS = 5000;
const TAIL_CHARS = 400;

/** Receives each line an action's steps print (the demo shows them; the consumer keeps only a tail). */
export type OutputSink = (host: string, line: string) => void;

/** Run every step once; resolves with why it failed, or undefined. */
function runSteps(job: HostJob, cfg: ActionConfig, sink?: OutputSink): Promise<string | undefined> {
  return new Promise((resolveRun) => {
    const deadline = Date.now() + cfg.timeoutMs;
    const next = (i: number): void => {
      if (i >= cfg.steps.length) return resolveRun(undefined);
      const argv = argvFor(cfg.steps[i]!, job);
      let tail = "";
      let done = false;
      const finish = (why: string | undefined) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (why === undefined) next(i + 1);
        else resolveRun(why);
      };
      // shell: false and an argv array: payload text never passes through a shell. detached: the
      // step gets its own process group, so a timeout ends what it started too.
      const child = spawn(argv[0]!, argv.slice(1), { shell: false, detached: true, env: envFor(job, cfg.env), stdio: ["ignore", "pipe", "pipe"] });
      const keep = (b: Buffer) => (tail = (tail + b.toString("utf8")).slice(-TAIL_CHARS));
      child.stdout.on("data", keep);
      if (sink !== undefined) child.stdout.on("data", (b: Buffer) => b.toString("utf8").split("\n").filter((l) => l.trim() !== "").forEach((l) => sink(job.host, l)));
      child.stderr.on("data", keep);
      const killGroup = (sig: NodeJS.Signals) => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, sig);
        } catch {
          /* already gone */
        }
      };
      const timer = setTimeout(() => {
        killGroup("SIGTERM");
        setTimeout(() => killGroup("SIGKILL"), KILL_GRACE_MS).unref();
        finish(`step ${i + 1} (${argv[0]}) timed out after ${Math.round(cfg.timeoutMs / 1000)} s`);
      }, Math.max(0, deadline - Date.now()));
      child.once("error", (err) => finish(`step ${i + 1} (${argv[0]}) could not start: ${err.message}`));
      child.once("close", (code, signal) => {
        if (code === 0) finish(undefined);
        else finish(`step ${i + 1} (${argv[0]}) ${signal !== null ? `ended by ${signal}` : `exited ${String(code)}`}${tail.trim() === "" ? "" : `: ${tail.trim().split("\n").slice(-2).join(" | ")}`}`);
      });
    };
    next(0);
  });
}

/** The action for one host, retried up to `retries` times with `retryDelayMs` between attempts. */
export async function runHostAction(job: HostJob, cfg: ActionConfig, onAttemptFailed?: (attempt: number, reason: string) => void, sink?: OutputSink): Promise<HostOutcome> {
  if (!validHostName(job.host)) return { ok: false, attempts: 0, reason: `"${job.host.slice(0, 80)}" is not a valid host name; not run` };
  let reason = "";
  for (let attempt = 1; attempt <= cfg.retries + 1; attempt++) {
    const why = await runSteps(job, cfg, sink);
    if (why === undefined) return { ok: true, attempts: attempt };
    reason = why;
    onAttemptFailed?.(attempt, why);
    if (attempt <= cfg.retries && cfg.retryDelayMs > 0) await new Promise((r) => setTimeout(r, cfg.retryDelayMs));
  }
  return { ok: false, attempts: cfg.retries + 1, reason };
}
