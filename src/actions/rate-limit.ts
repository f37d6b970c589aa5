// A protective action's rate limit: at most `max` attempts (writes and dry runs) in any window of
// `perMs`. Pure: the attempt times in, whether one more is allowed and the times still in the window out.

export interface RateVerdict {
  readonly allowed: boolean;
  /** Attempt times inside the window ending at `now`, oldest first. */
  readonly recent: readonly number[];
  /** When the next attempt would be allowed (only when not allowed). */
  readonly nextAt?: number;
}

export function checkRate(attempts: readonly number[], limit: { readonly max: number; readonly perMs: number }, now: number): RateVerdict {
  const recent = attempts.filter((t) => t > now - limit.perMs && t <= now);
  if (recent.length < limit.max) return { allowed: true, recent };
  return { allowed: false, recent, nextAt: recent[recent.length - limit.max]! + limit.perMs };
}
