// The state of one Modbus device as people see it: connecting, ok, failing, mismatch, stopped, and
// whether it holds more than its layout. Each change is logged once (connected -> failing ->
// recovered), never once per attempt, so a device that keeps failing does not flood the log.
import type { Logger } from "pino";
import type { Layout } from "../../config/types.js";

/** `ok`: the last poll was answered; `failing`: not answering, answering garbage, or only exceptions. */
export type PollerState = "connecting" | "ok" | "failing" | "mismatch" | "stopped";

export class DeviceState {
  readonly #log: Logger;
  readonly #device: string;
  #state: PollerState = "connecting";
  #changes = 0;
  #layoutMismatch: string | undefined;

  constructor(log: Logger, device: string) {
    this.#log = log;
    this.#device = device;
  }

  get state(): PollerState {
    return this.#state;
  }

  /** State changes so far (the first start and stop() not counted). */
  get changes(): number {
    return this.#changes;
  }

  /** The strings, modules and cells the device holds beyond its layout, when it does. */
  get layoutMismatch(): string | undefined {
    return this.#layoutMismatch;
  }

  /** start() and stop(): not news for the log. */
  reset(state: "connecting" | "stopped"): void {
    this.#state = state;
  }

  /** Move to `state`, logging the change once; nothing happens once stopped. */
  set(state: PollerState, detail: string): void {
    if (this.#state === state || this.#state === "stopped") return;
    const previous = this.#state;
    this.#state = state;
    this.#changes++;
    const fields = { device: this.#device, state, previous, detail };
    switch (state) {
      case "ok":
        this.#log.info(fields, previous === "connecting" ? "modbus device connected" : "modbus device recovered");
        break;
      case "mismatch":
        this.#log.error(fields, "modbus device does not match its config; points bad/config, retrying later");
        break;
      case "failing":
        this.#log.warn(fields, "modbus device not answering correctly; points bad, retrying with backoff (logged again when it recovers)");
        break;
      case "connecting":
      case "stopped":
        break;
    }
  }

  /** What discovery found beyond `layout` (see sunspec.ts layoutSurplus); logged when it changes. */
  noteLayout(layout: Layout | undefined, surplus: readonly string[]): void {
    const text =
      surplus.length === 0 || layout === undefined
        ? undefined
        : `device holds more than its layout of ${layout.strings} strings x ${layout.modulesPerString} modules x ${layout.cellsPerModule} cells; not watched: ${surplus.join("; ")}`;
    if (text === this.#layoutMismatch) return;
    if (text !== undefined) this.#log.error({ device: this.#device, unwatched: surplus, detail: text }, "modbus device holds more than its configured layout; the extra elements are not watched");
    else this.#log.info({ device: this.#device }, "modbus device layout matches the config again");
    this.#layoutMismatch = text;
  }
}
