// The reference consumer (`firebreak consumer`): subscribes to the site's triggers with a
// persistent session, verifies each (src/evacuation/trigger-wire.ts), records it (./consumer-store.ts)
// and runs the configured action once per host (./host-action.ts), acknowledging `accepted` at once,
// `progress` per host and `done`/`failed` at the end. It also watches the daemon's `status`: no
// daemon, or `offline`, means the room is not watched, and it says so on its own retained status.
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import mqtt, { type MqttClient } from "mqtt";
import type { Logger } from "pino";
import { noDelay } from "../outputs/mqtt/no-delay.js";
import type { Clock } from "../runtime/clock.js";
import { topics, type Topics } from "../outputs/mqtt/topics.js";
import { signAck, type AckState } from "./ack-wire.js";
import type { ConsumerConfig } from "./consumer-config.js";
import { ConsumerStore, type TriggerRow } from "./consumer-store.js";
import { runHostAction, type HostJob, type OutputSink } from "./host-action.js";
import { verifyTrigger } from "./trigger-wire.js";

/** Without any daemon status this long after connecting, the room counts as not watched. */
const STATUS_GRACE_MS = 5000;

export class Consumer {
  readonly #cfg: ConsumerConfig;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #t: Topics;
  readonly #key: KeyObject;
  readonly #trusted: Map<string, KeyObject>;
  readonly #store: ConsumerStore;
  #client: MqttClient | undefined;
  readonly #queue: { job: HostJob }[] = [];
  /** Trigger id -> its deadline (ISO), as the last verified announcement said (not stored: a re-announcement brings it back). */
  readonly #deadlines = new Map<string, string>();
  #running = 0;
  /** The last acknowledgment's ts per trigger: each one is newer than the one before. */
  readonly #lastAckTs = new Map<string, number>();
  #daemon: { status: string; instance?: string; tsMs?: number } | undefined;
  #watched: boolean | undefined;
  #connectedAt = 0;
  #check: NodeJS.Timeout | undefined;
  #stopping = false;
  readonly #sink: OutputSink | undefined;

  /** `onActionOutput`: what the action prints, line by line (the demo's screen); otherwise only its tail is kept. */
  constructor(opts: { config: ConsumerConfig; clock: Clock; log: Logger; onActionOutput?: OutputSink }) {
    this.#cfg = opts.config;
    this.#sink = opts.onActionOutput;
    this.#clock = opts.clock;
    this.#log = opts.log;
    this.#t = topics(opts.config.site);
    this.#key = createPrivateKey(opts.config.signingKeyPem);
    this.#trusted = new Map([...opts.config.trustedKeys].map(([kid, pem]) => [kid, createPublicKey(pem)]));
    this.#store = ConsumerStore.open(opts.config.stateFile);
  }

  start(): void {
    const c = this.#cfg;
    const recovered = this.#store.recover(this.#clock.now());
    for (const r of recovered.interrupted) this.#log.error({ trigger: r.id, host: r.host }, `host ${r.host} of ${r.id}: its action was running when the consumer stopped; reported failed, not run again`);
    const will = JSON.stringify({ v: 1, consumer: c.consumer, status: "offline", room: "unknown" });
    this.#client = mqtt.connect(c.mqtt.url, {
      clientId: c.mqtt.clientId,
      clean: false, // a persistent session: the broker keeps triggers for us while we are away
      keepalive: c.mqtt.keepaliveS,
      reconnectPeriod: c.mqtt.reconnectMinMs,
      will: { topic: this.#t.consumerStatus(c.consumer), payload: Buffer.from(will), qos: 1, retain: true },
      ...(c.mqtt.username === undefined ? {} : { username: c.mqtt.username }),
      ...(c.mqtt.password === undefined ? {} : { password: c.mqtt.password }),
      ...(c.mqtt.ca === undefined ? {} : { ca: c.mqtt.ca }),
      ...(c.mqtt.cert === undefined ? {} : { cert: c.mqtt.cert }),
      ...(c.mqtt.key === undefined ? {} : { key: c.mqtt.key }),
    });
    this.#client.on("connect", () => {
      noDelay(this.#client?.stream); // acknowledgements and progress without Nagle's wait (src/outputs/mqtt/no-delay.ts)
      this.#connectedAt = Date.now();
      this.#log.info({ url: c.mqtt.url, clientId: c.mqtt.clientId }, "consumer connected");
      this.#client!.subscribe({ [`${this.#t.prefix}evacuate/+`]: { qos: 1 }, [this.#t.status]: { qos: 1 } }, (err) => {
        if (err) this.#log.error({ err }, "subscribing to triggers failed");
        else this.#log.info("consumer subscribed to triggers"); // listening from here on: what tests and operators wait for
      });
      this.#publishStatus();
      for (const id of recovered.open) this.#resume(id);
      recovered.open.length = 0;
    });
    this.#client.on("error", (err) => this.#log.warn({ err: { message: err.message } }, `mqtt: ${err.message}`));
    this.#client.on("message", (topic, payload) => {
      try {
        if (topic === this.#t.status) this.#onDaemonStatus(payload);
        else this.#onTrigger(topic, payload);
      } catch (err) {
        this.#log.error({ err, topic }, "handling a message failed");
      }
    });
    this.#check = setInterval(() => this.#judgeWatch(), 1000);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#check);
    const c = this.#client;
    if (c?.connected === true) await c.publishAsync(this.#t.consumerStatus(this.#cfg.consumer), JSON.stringify({ v: 1, ts: new Date(this.#clock.now()).toISOString(), consumer: this.#cfg.consumer, status: "offline", room: "unknown" }), { qos: 1, retain: true }).catch(() => undefined);
    await c?.endAsync().catch(() => undefined);
    this.#store.close();
  }

  #onTrigger(topic: string, payload: Buffer): void {
    const zone = topic.slice(`${this.#t.prefix}evacuate/`.length);
    if (payload.length === 0) {
      this.#log.info({ zone }, `the trigger of zone ${zone} was withdrawn (incident closed); actions already started run to their end`);
      return;
    }
    const v = verifyTrigger(payload, { site: this.#cfg.site, keys: this.#trusted, now: this.#clock.now(), maxAgeMs: this.#cfg.maxAgeMs });
    if (!v.ok) {
      this.#log.warn({ zone, code: v.code, trigger: v.id }, `trigger refused (${v.code}): ${v.reason}; nothing run, nothing acknowledged`);
      return;
    }
    const t = v.trigger;
    if (t.zone !== zone) {
      this.#log.warn({ zone, trigger: t.id }, `trigger refused (malformed): it names zone ${t.zone} but came on the topic of ${zone}`);
      return;
    }
    if (this.#cfg.zones !== undefined && !this.#cfg.zones.includes(zone)) {
      this.#log.debug({ zone, trigger: t.id }, "trigger for a zone this consumer does not handle");
      return;
    }
    // The panel's deadline (the room flooded, its power cut): work of the earliest deadline goes first.
    if (t.deadline !== undefined) this.#deadlines.set(t.id, t.deadline);
    const known = this.#store.get(t.id);
    if (known !== undefined) {
      // Re-announced, delivered twice, or from the redundant daemon: nothing runs again; the
      // daemon that asks again gets our current answer.
      this.#store.seen(t.id, v.tsMs);
      this.#log.info({ trigger: t.id, announcement: t["announcement"] }, `trigger ${t.id} seen again: already handled, acknowledging its current state`);
      this.#ack(known);
      return;
    }
    const rackOf = t.rackOf ?? {};
    const hosts = [...new Set(t.hosts)].map((h) => ({ host: h, ...(rackOf[h] === undefined ? {} : { rack: rackOf[h] }) }));
    this.#store.add({ id: t.id, zone, incident: t.incident, tsMs: v.tsMs, hosts }, this.#clock.now());
    this.#log.warn({ trigger: t.id, zone, hosts: t.hosts, reason: t.reason }, `evacuation trigger ${t.id} accepted: ${t.hosts.length} hosts to act on`);
    this.#resume(t.id);
  }

  /** Acknowledge where a trigger stands and queue its hosts still pending. */
  #resume(id: string): void {
    const row = this.#store.get(id);
    if (row === undefined) return;
    this.#ack(row);
    for (const h of row.hosts) {
      if (h.state !== "pending" || this.#queue.some((q) => q.job.trigger === id && q.job.host === h.host)) continue;
      const deadline = this.#deadlines.get(id);
      this.#queue.push({ job: { host: h.host, ...(h.rack === undefined ? {} : { rack: h.rack }), zone: row.zone, trigger: id, site: this.#cfg.site, incident: row.incident, ...(deadline === undefined ? {} : { deadline }) } });
    }
    // Earliest deadline first; jobs without one keep their order after those with one (a stable sort).
    const at = (d: string | undefined): number => (d === undefined ? Infinity : Date.parse(d));
    this.#queue.sort((a, b) => at(a.job.deadline) - at(b.job.deadline));
    this.#pump();
  }

  #pump(): void {
    while (!this.#stopping && this.#running < this.#cfg.action.concurrency && this.#queue.length > 0) {
      const { job } = this.#queue.shift()!;
      this.#running++;
      this.#store.markRunning(job.trigger, job.host, this.#clock.now());
      this.#log.info({ trigger: job.trigger, host: job.host, rack: job.rack }, `host ${job.host}: action started`);
      runHostAction(job, this.#cfg.action, (attempt, why) => this.#log.warn({ trigger: job.trigger, host: job.host, attempt }, `host ${job.host}: attempt ${attempt} failed: ${why}`), this.#sink)
        .then((r) => {
          this.#store.finish(job.trigger, job.host, r.ok, r.ok ? undefined : r.reason, this.#clock.now());
          if (r.ok) this.#log.info({ trigger: job.trigger, host: job.host, attempts: r.attempts }, `host ${job.host}: done`);
          else this.#log.error({ trigger: job.trigger, host: job.host, attempts: r.attempts }, `host ${job.host}: failed: ${r.reason}`);
          const row = this.#store.get(job.trigger);
          if (row !== undefined) this.#ack(row);
        })
        .catch((err: unknown) => this.#log.error({ err, trigger: job.trigger, host: job.host }, "running a host's action failed"))
        .finally(() => {
          this.#running--;
          this.#pump();
        });
    }
  }

  #ack(row: TriggerRow): void {
    const done = row.hosts.filter((h) => h.state === "done").map((h) => h.host);
    const failed = row.hosts.filter((h) => h.state === "failed");
    const finished = done.length + failed.length === row.hosts.length;
    const state: AckState = finished ? (failed.length > 0 ? "failed" : "done") : done.length + failed.length > 0 ? "progress" : "accepted";
    const reason = failed.length > 0 ? failed.map((h) => `${h.host}: ${h.reason ?? "failed"}`).join("; ").slice(0, 1900) : undefined;
    const tsMs = Math.max(this.#clock.now(), (this.#lastAckTs.get(row.id) ?? 0) + 1);
    this.#lastAckTs.set(row.id, tsMs);
    const body = signAck(row.zone, this.#cfg.consumer, { id: row.id, state, hosts: { done, failed: failed.map((h) => h.host) }, ...(reason === undefined ? {} : { reason }), tsMs }, this.#key);
    this.#client?.publish(this.#t.evacuateAck(row.zone, this.#cfg.consumer), JSON.stringify(body), { qos: 1, retain: false });
    this.#log.info({ trigger: row.id, state, done: done.length, failed: failed.length }, `acknowledged ${row.id}: ${state}`);
  }

  #onDaemonStatus(payload: Buffer): void {
    let body: { status?: unknown; instance?: unknown; ts?: unknown } = {};
    try {
      body = payload.length === 0 ? {} : (JSON.parse(payload.toString("utf8")) as typeof body);
    } catch {
      body = { status: "unreadable" };
    }
    const tsMs = typeof body.ts === "string" ? Date.parse(body.ts) : undefined;
    this.#daemon = { status: typeof body.status === "string" ? body.status : "missing", ...(typeof body.instance === "string" ? { instance: body.instance } : {}), ...(tsMs !== undefined && Number.isFinite(tsMs) ? { tsMs } : {}) };
    this.#judgeWatch();
  }

  /** Is the room watched? `online`, and (with daemon_silence_s) heard from recently. */
  #judgeWatch(): void {
    if (this.#client?.connected !== true) return;
    const d = this.#daemon;
    let why: string | undefined;
    if (d === undefined) {
      if (Date.now() - this.#connectedAt < STATUS_GRACE_MS) return;
      why = `no firebreak status on ${this.#t.status}: no daemon has announced itself`;
    } else if (d.status !== "online") why = `firebreak ${d.instance ?? ""} is ${d.status}`.replace("  ", " ");
    else if (this.#cfg.daemonSilenceMs !== undefined && (d.tsMs === undefined || this.#clock.now() - d.tsMs > this.#cfg.daemonSilenceMs)) why = `firebreak's last status is older than ${this.#cfg.daemonSilenceMs / 1000} s`;
    const watched = why === undefined;
    if (watched === this.#watched) return;
    this.#watched = watched;
    if (watched) this.#log.info({ instance: d?.instance }, "the room is watched: firebreak is online");
    else this.#log.error({ instance: d?.instance }, `the room is NOT watched: ${why}; no trigger will come for a fire there`);
    this.#publishStatus(why);
  }

  #publishStatus(why?: string): void {
    const body = {
      v: 1,
      ts: new Date(this.#clock.now()).toISOString(),
      consumer: this.#cfg.consumer,
      status: "online",
      room: this.#watched === undefined ? "unknown" : this.#watched ? "watched" : "unwatched",
      ...(why === undefined ? {} : { reason: why }),
      ...(this.#daemon === undefined ? {} : { daemon: { status: this.#daemon.status, ...(this.#daemon.instance === undefined ? {} : { instance: this.#daemon.instance }) } }),
    };
    this.#client?.publish(this.#t.consumerStatus(this.#cfg.consumer), JSON.stringify(body), { qos: 1, retain: true });
  }
}
