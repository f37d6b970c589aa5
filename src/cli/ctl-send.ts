// `firebreak ctl`'s one exchange with the broker: connect as the operator, subscribe to the reply
// topic (and the retained status, to explain a silence), publish the signed command at QoS 1, and
// wait a bounded time for the daemon's answer.
import { readFile } from "node:fs/promises";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { parseReply, type Reply } from "../commands/reply.js";
import { loadSiteConfig } from "../config/load.js";
import { explainConnectionError } from "../outputs/mqtt/connection-errors.js";
import { topics } from "../outputs/mqtt/topics.js";

export interface Connection {
  readonly url: string;
  readonly site: string;
  readonly username?: string;
  readonly password?: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface ConnectionOptions {
  readonly config?: string;
  readonly broker?: string;
  readonly site?: string;
  readonly username?: string;
  readonly passwordFile?: string;
  readonly caFile?: string;
}

/** Something the operator must fix before anything is sent (exit 2). */
export class CtlUsageError extends Error {}

/**
 * Broker and site from the site config's `mqtt` section (loaded and checked by the project's
 * loader), or from --broker/--site. --username/--password-file/--ca-file override the config's:
 * an operator normally has their own broker account, not the daemon's.
 */
export async function resolveConnection(o: ConnectionOptions): Promise<Connection> {
  let base: Connection | undefined;
  if (o.config !== undefined) {
    const c = await loadSiteConfig(o.config);
    if (c.mqtt === undefined && o.broker === undefined) throw new CtlUsageError(`${o.config} has no mqtt section: give --broker <url>`);
    const m = c.mqtt;
    base = {
      url: m?.url ?? "",
      site: c.site,
      ...(m?.username === undefined ? {} : { username: m.username }),
      ...(m?.password === undefined ? {} : { password: m.password }),
      ...(m?.ca === undefined ? {} : { ca: m.ca }),
      ...(m?.cert === undefined ? {} : { cert: m.cert }),
      ...(m?.key === undefined ? {} : { key: m.key }),
    };
  }
  const url = o.broker ?? base?.url;
  const site = o.site ?? base?.site;
  if (url === undefined || site === undefined) throw new CtlUsageError("say where to send: -c <site.yaml>, or --broker <mqtt://host:port> --site <site id>");
  if (!/^mqtts?:\/\/\S+$/.test(url)) throw new CtlUsageError(`--broker ${url}: use mqtt://host:port or mqtts://host:port`);
  const read = async (file: string, what: string) => {
    try {
      return await readFile(file, "utf8");
    } catch (e) {
      throw new CtlUsageError(`cannot read ${what} ${file}: ${(e as Error).message}`);
    }
  };
  const password = o.passwordFile === undefined ? (o.username === undefined ? base?.password : undefined) : (await read(o.passwordFile, "--password-file")).replace(/\r?\n$/, "");
  const ca = o.caFile === undefined ? base?.ca : await read(o.caFile, "--ca-file");
  const username = o.username ?? base?.username;
  return {
    url,
    site,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    ...(ca === undefined ? {} : { ca }),
    ...(base?.cert === undefined ? {} : { cert: base.cert }),
    ...(base?.key === undefined ? {} : { key: base.key }),
  };
}

export type Outcome =
  /** `replies`: one per answering instance, first first (at least one); fewer than asked when the time ran out. */
  | { readonly kind: "reply"; readonly reply: Reply; readonly replies: readonly Reply[] }
  /** `status` is the retained status payload seen for the site, if any: it says whether a daemon is there. */
  | { readonly kind: "timeout"; readonly status?: string; readonly noSubscribers: boolean }
  | { readonly kind: "failed"; readonly why: string };

export interface Exchange {
  readonly verb: string;
  readonly requestId: string;
  readonly payload: string;
  readonly timeoutMs: number;
  readonly operator: string;
  /**
   * How many daemons' replies to wait for (distinct `instance`s; default 1). Every daemon of the
   * site receives every command and answers for its own picture (README "firebreak ctl").
   */
  readonly instances?: number;
  /** With `instances` 1: how long to keep listening after the first reply, to notice other daemons' answers. */
  readonly graceMs?: number;
}

/** MQTT v5 so the broker's PUBACK/SUBACK says "not authorized" instead of dropping silently. */
export async function exchange(conn: Connection, x: Exchange): Promise<Outcome> {
  const t = topics(conn.site);
  const replyTopic = t.cmdReply(x.requestId);
  const opts: IClientOptions = {
    clientId: `firebreak-ctl-${x.operator}-${x.requestId.slice(0, 8)}`,
    clean: true,
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: Math.min(x.timeoutMs, 10_000),
    ...(conn.username === undefined ? {} : { username: conn.username }),
    ...(conn.password === undefined ? {} : { password: conn.password }),
    ...(conn.ca === undefined ? {} : { ca: conn.ca }),
    ...(conn.cert === undefined ? {} : { cert: conn.cert }),
    ...(conn.key === undefined ? {} : { key: conn.key }),
  };
  let client: MqttClient;
  try {
    client = await mqtt.connectAsync(conn.url, opts, false);
  } catch (e) {
    // A broker that speaks only MQTT 3.1.1 (e.g. the demo's embedded one) answers v5 with
    // "unacceptable protocol version": go on in 3.1.1, without v5's reason codes.
    if (!/protocol version/i.test((e as Error).message)) return { kind: "failed", why: `cannot connect to ${conn.url}: ${explainConnectionError(e as Error)}` };
    try {
      client = await mqtt.connectAsync(conn.url, { ...opts, protocolVersion: 4 }, false);
    } catch (e2) {
      return { kind: "failed", why: `cannot connect to ${conn.url}: ${explainConnectionError(e2 as Error)}` };
    }
  }
  try {
    let status: string | undefined;
    const want = Math.max(1, x.instances ?? 1);
    // One reply per instance: a QoS 1 duplicate of the same daemon's answer is not a second daemon.
    const replies = new Map<string, Reply>();
    let resolveAll: () => void = () => undefined;
    const allIn = new Promise<void>((resolve) => (resolveAll = resolve));
    const malformed: string[] = [];
    client.on("message", (topic, buf) => {
      if (topic === t.status) status = buf.toString("utf8");
      if (topic !== replyTopic) return;
      const r = parseReply(buf);
      if (typeof r === "string") return void malformed.push(r);
      const key = r.instance ?? `(unnamed ${replies.size})`;
      if (!replies.has(key)) replies.set(key, r);
      if (replies.size >= want) resolveAll();
    });
    // Subscribe before publishing: a fast daemon's reply must find us listening.
    const granted = await client.subscribeAsync([replyTopic, t.status], { qos: 1 });
    const refusedSub = granted.find((g) => g.topic === replyTopic && g.qos >= 0x80);
    if (refusedSub !== undefined) return { kind: "failed", why: `the broker refused our subscription to ${replyTopic} (reason ${refusedSub.qos}): its ACL must let ${conn.username ?? "this user"} read firebreak/v1/${conn.site}/cmd/reply/#` };
    // MQTT v5 PUBACK reason code 16, "No matching subscribers": nobody (no daemon) listens on
    // cmd/<verb>. mqtt.js resolves a publish with the packet it sent, so the PUBACK is read here.
    const pubackCodes = new Map<number, number>();
    client.on("packetreceive", (p) => {
      if (p.cmd === "puback" && p.messageId !== undefined) pubackCodes.set(p.messageId, p.reasonCode ?? 0);
    });
    let noSubscribers = false;
    try {
      const sent = await client.publishAsync(t.cmd(x.verb), x.payload, { qos: 1, retain: false });
      noSubscribers = sent?.messageId !== undefined && pubackCodes.get(sent.messageId) === 16;
    } catch (e) {
      return { kind: "failed", why: `the broker refused the command on ${t.cmd(x.verb)}: ${(e as Error).message}; its ACL must let ${conn.username ?? "this user"} write firebreak/v1/${conn.site}/cmd/#` };
    }
    const timers: NodeJS.Timeout[] = [];
    const after = (ms: number) => new Promise<void>((resolve) => timers.push(setTimeout(resolve, ms)));
    const timedOut = after(x.timeoutMs);
    await Promise.race([allIn, timedOut]);
    // Asked for one: a short grace after it, so other daemons' answers are noticed (and named).
    if (want === 1 && replies.size === 1) await Promise.race([after(x.graceMs ?? 0), timedOut]);
    for (const tm of timers) clearTimeout(tm);
    const got = [...replies.values()];
    if (got.length > 0) return { kind: "reply", reply: got[0]!, replies: got };
    if (malformed.length > 0) return { kind: "failed", why: `a reply arrived on ${replyTopic} but could not be read: ${malformed[0]}` };
    return status === undefined ? { kind: "timeout", noSubscribers } : { kind: "timeout", status, noSubscribers };
  } finally {
    await client.endAsync(true);
  }
}
