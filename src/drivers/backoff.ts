// Reconnect backoff for one device, the same for every driver (Modbus, OPC UA): exponential with
// jitter, whatever the failure (refused, closed, timed out, garbage). The Modbus poller resets it
// only after a poll that fully succeeded, never after a connect alone, so a device that accepts TCP
// and then sends garbage cannot pull it into a reconnect storm. Pure: the random source is passed in.

export interface BackoffPolicy {
  readonly minMs: number;
  readonly maxMs: number;
  /** Each delay is scaled by a factor drawn from [1 - jitter, 1 + jitter). */
  readonly jitter: number;
}

// 250 ms doubling to 30 s, ±20 % jitter so a hall of devices that lost one switch does not
// reconnect in lockstep (firebreak's choice; 30 s keeps a dead device's retries at 2 a minute).
export const DEFAULT_BACKOFF: BackoffPolicy = { minMs: 250, maxMs: 30_000, jitter: 0.2 };

export class Backoff {
  readonly #policy: BackoffPolicy;
  readonly #random: () => number;
  #failures = 0;

  constructor(policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random) {
    this.#policy = policy;
    this.#random = random;
  }

  /** Failed attempts since the last full success. */
  get failures(): number {
    return this.#failures;
  }

  /** One more failure: the delay before the next attempt. */
  next(): number {
    const { minMs, maxMs, jitter } = this.#policy;
    const base = Math.min(maxMs, minMs * 2 ** Math.min(this.#failures, 30));
    this.#failures++;
    return Math.round(base * (1 - jitter + 2 * jitter * this.#random()));
  }

  /** A poll fully succeeded. */
  reset(): void {
    this.#failures = 0;
  }
}
