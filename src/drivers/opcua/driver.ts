// The OPC UA subscriber as a Driver (../driver.ts). node-opcua is large and prints a start-up note
// when loaded, so this file imports it only through `load` (given by ../factory.ts), on start():
// sites without OPC UA devices never load it.
import type { OpcuaDevice } from "../../config/types.js";
import type { Driver, DriverContext, DriverState, DriverStatus } from "../driver.js";
import type { OpcuaState, OpcuaSubscriber, OpcuaSubscriberContext } from "./subscriber.js";

export type SubscriberClass = new (ctx: OpcuaSubscriberContext) => OpcuaSubscriber;

const STATE: Readonly<Record<OpcuaState, DriverState>> = {
  idle: "connecting",
  connecting: "connecting",
  connected: "ok",
  disconnected: "failing",
  needs_operator: "needs_operator",
  stopped: "stopped",
};

export class OpcuaDriver implements Driver {
  readonly device: string;
  readonly protocol = "opcua";
  readonly transport = "opcua";
  readonly #config: OpcuaDevice;
  readonly #ctx: DriverContext;
  readonly #load: () => Promise<SubscriberClass>;
  #sub: OpcuaSubscriber | undefined;
  #loading: Promise<void> | undefined;
  #loadError: string | undefined;
  #stopped = false;

  constructor(device: OpcuaDevice, ctx: DriverContext, load: () => Promise<SubscriberClass>) {
    this.device = device.id;
    this.#config = device;
    this.#ctx = ctx;
    this.#load = load;
  }

  /** The subscriber, once node-opcua has loaded (tests look at its own status). */
  get subscriber(): OpcuaSubscriber | undefined {
    return this.#sub;
  }

  start(): void {
    this.#stopped = false;
    if (this.#sub !== undefined) return this.#sub.start();
    this.#loading ??= this.#load().then(
      (Subscriber) => {
        if (this.#stopped) return;
        const { clock, store, log, onPoll } = this.#ctx;
        this.#sub = new Subscriber({ device: this.#config, clock, store, log: log.child({ component: "opcua" }), ...(onPoll ? { onPoll } : {}) });
        this.#sub.start();
      },
      (err: unknown) => {
        this.#loadError = `cannot load the OPC UA driver: ${err instanceof Error ? err.message : String(err)}`;
        this.#ctx.log.fatal({ err, component: "opcua", device: this.device }, "cannot load the OPC UA driver: OPC UA devices stay bad/stale");
      },
    );
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loading;
    await this.#sub?.stop();
  }

  status(): DriverStatus {
    const s = this.#sub?.status();
    const base = { device: this.device, protocol: "opcua", transport: "opcua" } as const;
    if (s === undefined) return { ...base, connected: false, state: this.#stopped ? "stopped" : "connecting", polls: 0, failures: this.#loadError ? 1 : 0, reconnects: 0, ...(this.#loadError ? { lastError: this.#loadError } : {}) };
    return {
      ...base,
      connected: s.connected,
      state: STATE[s.state],
      polls: s.polls,
      ...(s.lastSuccessAt !== undefined ? { lastSuccessAt: s.lastSuccessAt } : {}),
      failures: s.failures,
      reconnects: s.reconnects,
      ...(s.lastError !== undefined ? { lastError: s.lastError } : {}),
    };
  }
}
