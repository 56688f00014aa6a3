/**
 * "Still waiting" lines during a long wait: a loop that polls or retries asks `due(now)` each round and logs when
 * it returns the seconds waited, so an operator sees what is awaited and for how long instead of one line and
 * silence. Pure: the caller owns the clock and the loop.
 */
export const WAIT_PROGRESS_EVERY_MS = 5000;

export interface WaitProgress {
  /** Whole seconds waited when a progress line is due (at most one per `everyMs`), else undefined. */
  due(now: number): number | undefined;
}

export function waitProgress(startedAt: number, everyMs: number = WAIT_PROGRESS_EVERY_MS): WaitProgress {
  let next = startedAt + everyMs;
  return {
    due(now) {
      if (now < next) return undefined;
      while (next <= now) next += everyMs;
      return Math.round((now - startedAt) / 1000);
    },
  };
}
