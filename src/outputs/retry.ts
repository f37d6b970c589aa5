// Retry delays for the HTTP outputs (pager, history): exponential from min to max with ±20 %
// jitter, so outputs of many daemons that lost the same server do not retry in lockstep. The same
// policy shape as the Modbus driver's backoff (src/drivers/modbus/backoff.ts), kept here because
// outputs do not import drivers. Pure: the random source is passed in.

export class RetryDelay {
  readonly #minMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  #failures = 0;

  constructor(minMs: number, maxMs: number, random: () => number = Math.random) {
    this.#minMs = minMs;
    this.#maxMs = maxMs;
    this.#random = random;
  }

  /** Failures since the last success. */
  get failures(): number {
    return this.#failures;
  }

  /** One more failure: how long to wait before the next try. */
  next(): number {
    const base = Math.min(this.#maxMs, this.#minMs * 2 ** Math.min(this.#failures, 30));
    this.#failures++;
    return Math.round(base * (0.8 + 0.4 * this.#random()));
  }

  reset(): void {
    this.#failures = 0;
  }
}
