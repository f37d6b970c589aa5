// A test subscriber that records every message it receives and lets a test wait, with a bound,
// for one that matches. The error on timeout lists what did arrive.
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";

export interface Recorded {
  readonly topic: string;
  readonly payload: string;
  /** Parsed payload when it is JSON; undefined for an empty or non-JSON payload. */
  readonly json?: Record<string, unknown>;
  readonly retain: boolean;
  readonly qos: number;
  /** The broker's redelivery flag: this subscriber may have had this message already (QoS 1). */
  readonly dup: boolean;
  /** Real time of arrival, ms. */
  readonly at: number;
}

const DEFAULT_WAIT_MS = 10_000;

export class MqttRecorder {
  readonly #client: MqttClient;
  readonly #messages: Recorded[] = [];
  readonly #waiters = new Set<() => void>();

  private constructor(client: MqttClient) {
    this.#client = client;
    client.on("message", (topic, buf, packet) => {
      const payload = buf.toString("utf8");
      let json: Record<string, unknown> | undefined;
      try {
        const v: unknown = payload === "" ? undefined : JSON.parse(payload);
        if (typeof v === "object" && v !== null && !Array.isArray(v)) json = v as Record<string, unknown>;
      } catch {
        json = undefined;
      }
      const r: Recorded = { topic, payload, retain: packet.retain, qos: packet.qos, dup: packet.dup, at: Date.now() };
      this.#messages.push(json === undefined ? r : { ...r, json });
      for (const w of this.#waiters) w();
    });
  }

  /** Connect to `url`, subscribe to `topics` at QoS 1, resolve once the subscription is granted. */
  static async start(url: string, topics: string | readonly string[], opts: IClientOptions = {}): Promise<MqttRecorder> {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 200, connectTimeout: 5000, ...opts });
    const rec = new MqttRecorder(client);
    await client.subscribeAsync(typeof topics === "string" ? [topics] : [...topics], { qos: 1 });
    return rec;
  }

  /**
   * Subscribe to more topics. The broker sends retained messages per SUBSCRIBE, in order on one
   * connection, so a retained message seen here proves the earlier subscriptions' retained ones arrived.
   */
  async subscribe(topics: string | readonly string[]): Promise<void> {
    await this.#client.subscribeAsync(typeof topics === "string" ? [topics] : [...topics], { qos: 1 });
  }

  get messages(): readonly Recorded[] {
    return this.#messages;
  }

  /** Messages on one topic, in arrival order. */
  on(topic: string): Recorded[] {
    return this.#messages.filter((m) => m.topic === topic);
  }

  clear(): void {
    this.#messages.length = 0;
  }

  /**
   * Resolve with the first recorded message (already arrived or arriving) that matches; reject after
   * timeoutMs. The default leaves a loaded 2-core machine room; a test that means "soon" says so.
   */
  waitFor(predicate: (m: Recorded) => boolean, timeoutMs = DEFAULT_WAIT_MS, what = "a matching message"): Promise<Recorded> {
    const found = this.#messages.find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const m = this.#messages.find(predicate);
        if (m === undefined) return;
        cleanup();
        resolve(m);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received:\n${this.describe()}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
    });
  }

  /** Wait until `count` messages match. */
  async waitForCount(predicate: (m: Recorded) => boolean, count: number, timeoutMs = DEFAULT_WAIT_MS): Promise<Recorded[]> {
    await this.waitFor(() => this.#messages.filter(predicate).length >= count, timeoutMs, `${count} matching messages`);
    return this.#messages.filter(predicate);
  }

  describe(): string {
    if (this.#messages.length === 0) return "  (nothing)";
    return this.#messages
      .map((m) => `  ${m.topic} qos=${m.qos} retain=${m.retain} ${m.payload.length > 160 ? m.payload.slice(0, 160) + "…" : m.payload || "(empty)"}`)
      .join("\n");
  }

  async stop(): Promise<void> {
    await this.#client.endAsync(true);
  }
}
