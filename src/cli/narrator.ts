// Turns what the demo's MQTT subscriber receives (and what the simulator does) into plain words
// on the terminal, each line stamped with room time and screen time, and the topic it came on.
import { describeEvidenceList } from "../alarms/describe.js";
import type { SiteConfig } from "../config/types.js";
import type { Evidence } from "../events.js";
import type { Clock } from "../runtime/clock.js";
import type { Daemon } from "../runtime/daemon.js";

export interface NarratedSimEvent {
  readonly kind: string;
  /** Clock time, ms. */
  readonly at: number;
  readonly message: string;
}


const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const red = (s: string) => (process.stdout.isTTY ? `\x1b[1;31m${s}\x1b[0m` : s);
const yellow = (s: string) => (process.stdout.isTTY ? `\x1b[33m${s}\x1b[0m` : s);
const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);

export class Narrator {
  readonly #clock: Clock;
  readonly #startedAt: number;
  readonly #realStart = Date.now();
  readonly #out: (line: string) => void;
  #evacuateListeners: (() => void)[] = [];
  readonly #marks = new Map<string, number>();

  constructor(opts: { clock: Clock; startedAt: number; out: (line: string) => void }) {
    this.#clock = opts.clock;
    this.#startedAt = opts.startedAt;
    this.#out = opts.out;
  }

  banner(lines: string[]): void {
    for (const l of lines) this.#out(bold(l));
    this.#out("");
  }

  line(text: string): void {
    this.#out(`${this.#stamp()} ${text}`);
  }

  onEvacuate(fn: () => void): void {
    this.#evacuateListeners.push(fn);
  }

  /** Print "the room is up" once every device has answered, or what is still missing after a while. */
  watchHealth(daemon: Daemon, config: SiteConfig): void {
    const began = Date.now();
    const t = setInterval(() => {
      const now = this.#clock.now();
      let good = 0;
      let total = 0;
      for (const key of daemon.store.keys()) {
        total++;
        if (daemon.store.read(key, now).quality === "good") good++;
      }
      const status = daemon.pollerStatus();
      const answering = status.filter((s) => s.connected && s.polls > 0).length;
      if (answering === config.devices.length && good === total) {
        clearInterval(t);
        const zones = [...config.zones.keys()].map((z) => `${z} normal`).join(", ");
        this.line(`room up and healthy: ${answering}/${config.devices.length} devices answering, ${good}/${total} points good; zones ${zones}`);
      } else if (Date.now() - began > 10_000) {
        clearInterval(t);
        this.line(yellow(`room not fully up: ${answering}/${config.devices.length} devices answering, ${good}/${total} points good`));
      }
    }, 200);
    t.unref();
  }

  sim(e: NarratedSimEvent): void {
    if (!this.#marks.has(`sim:${e.kind}`)) this.#marks.set(`sim:${e.kind}`, e.at);
    this.#out(`${this.#stamp(e.at)} ${dim("simulator:")} ${e.message}`);
  }

  mqtt(topic: string, payload: string, retained: boolean): void {
    const parts = topic.split("/");
    const kind = parts[3];
    const arrow = dim(`  -> ${topic}${retained ? " (retained)" : ""}`);
    if (payload === "") {
      this.line(`${kind} ${parts.slice(4).join("/")}: retained message removed${arrow}`);
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(payload) as Record<string, unknown>;
    } catch {
      this.line(yellow(`unparseable payload on ${topic}: ${payload.slice(0, 80)}`));
      return;
    }
    switch (kind) {
      case "status":
        this.line(`firebreak ${String(body.status)} (instance ${String(body.instance)}, version ${String(body.version)})${arrow}`);
        return;
      case "zone": {
        const stage = String(body.stage);
        const skipped = Array.isArray(body.skipped) && body.skipped.length > 0 ? ` (passing ${body.skipped.join(", ")})` : "";
        const fault = body.fault === true ? yellow(` [fault: ${describeEvidenceList((body.faults as Evidence[] | undefined) ?? [])}]`) : "";
        if (stage !== "normal" && stage !== "unknown") this.#mark(`stage:${stage}`);
        const evidence = describeEvidenceList((body.evidence as Evidence[] | undefined) ?? []);
        const text =
          body.previous === stage
            ? `zone ${String(body.zone)}: still ${stage}, ${body.fault === true ? yellow(`sensing DEGRADED: ${describeEvidenceList((body.faults as Evidence[] | undefined) ?? [])}`) : "sensing OK"}`
            : `zone ${String(body.zone)}: ${String(body.previous)} -> ${stage}${skipped}${fault}; ${evidence}`;
        this.line(`${stage === "alarm" || stage === "evacuate" || stage === "released" ? red(text) : stage === "normal" ? text : yellow(text)}${arrow}`);
        return;
      }
      case "alarm":
        this.line(`alarm ${String(body.id)} [${String(body.priority)}, ${String(body.class)}]: ${body.active === true ? "ACTIVE" : "inactive"}, ${String(body.state)}: ${String(body.message)}${arrow}`);
        return;
      case "evacuate": {
        if (parts[5] === "ack") {
          const hosts = body.hosts as { done?: string[]; failed?: string[] } | undefined;
          const state = String(body.state);
          if (state === "done") this.#mark("evacuation-done");
          const detail = `${hosts?.done?.length ?? 0} hosts drained${(hosts?.failed?.length ?? 0) > 0 ? `, FAILED: ${hosts!.failed!.join(", ")}` : ""}`;
          const text = `consumer ${parts[6]} acknowledges ${String(body.id)}: ${state} (${detail})`;
          this.line(`${state === "failed" ? red(text) : state === "done" ? bold(text) : text}${arrow}`);
          return;
        }
        if (parts[5] === "status") {
          const missing = (body.missing as string[] | undefined) ?? [];
          this.line(`evacuation ${String(body.id)}: ${String(body.state)}${missing.length > 0 ? `, waiting for ${missing.join(", ")}` : ""} (announced ${String(body.announcements)}x)${arrow}`);
          return;
        }
        this.#mark("evacuate");
        this.line(red(`EVACUATE zone ${String(body.zone)}: trigger ${String(body.id)}; drain racks ${(body.racks as string[]).join(", ")} = hosts ${(body.hosts as string[]).join(", ")}; ack by ${String(body.ackBy)}${typeof body.deadline === "string" ? `; power may be cut by ${body.deadline}` : ""}; reason: ${String(body.reason)}`) + arrow);
        for (const f of this.#evacuateListeners) f();
        return;
      }
      case "consumer":
        this.line(dim(`consumer ${String(body.consumer)}: ${String(body.status)}, room ${String(body.room)}${body.reason === undefined ? "" : ` (${String(body.reason)})`}`) + arrow);
        return;
      case "events":
        if (body.type === "command") {
          const outcome = body.ok === true ? "accepted" : `refused (${String(body.code)})`;
          this.line(bold(`operator command ${outcome}: ${String(body.detail)}`) + arrow);
          return;
        }
        this.line(dim(`event #${String(body.seq)} (${String(body.type)}) on ${topic}`));
        return;
      case "cmd":
        return; // commands and replies are narrated from the `command` event the daemon records
      default:
        this.line(`${topic}: ${payload.slice(0, 120)}`);
    }
  }

  summary(): void {
    const heat = this.#marks.get("sim:scenario-step");
    const first = ["stage:watch", "stage:pre_alarm", "stage:alarm", "stage:evacuate"].map((k) => this.#marks.get(k)).find((v) => v !== undefined);
    const evac = this.#marks.get("evacuate");
    const vent = this.#marks.get("sim:vent");
    const runaway = this.#marks.get("sim:runaway");
    this.#out("");
    this.#out(bold("summary (room time):"));
    const since = (a: number | undefined, b: number | undefined, what: string) => {
      if (a !== undefined && b !== undefined) this.#out(`  ${what}: ${fmtDuration(b - a)} (${fmtDuration((b - a) / this.#clock.speed)} on screen)`);
    };
    since(heat, first, "fault injected -> first warning");
    since(vent, evac, "first vent -> evacuation trigger");
    since(heat, evac, "fault injected -> evacuation trigger");
    const drained = this.#marks.get("evacuation-done");
    since(evac, drained, "evacuation trigger -> consumer done (every host drained)");
    since(vent, drained, "first vent -> consumer done");
    since(evac, runaway, "evacuation trigger -> thermal runaway (time the orchestrators had)");
    since(evac, this.#marks.get("stage:released"), "evacuation trigger -> agent released");
    since(drained, runaway, "consumer done -> thermal runaway (margin)");
    if (evac === undefined) this.#out("  no evacuation trigger was published");
  }

  #mark(key: string): void {
    if (!this.#marks.has(key)) this.#marks.set(key, this.#clock.now());
  }

  #stamp(at: number = this.#clock.now()): string {
    const room = fmtClock(at - this.#startedAt);
    const real = ((Date.now() - this.#realStart) / 1000).toFixed(1).padStart(5);
    return dim(`[room ${room} | ${real} s]`);
  }
}

function fmtClock(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

function fmtDuration(ms: number): string {
  const s = ms / 1000;
  return s >= 60 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${s.toFixed(1)} s`;
}
