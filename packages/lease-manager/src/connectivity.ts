import type { Logger } from '@flannel-ts/core';
import { errorMessage } from '@flannel-ts/core';

/**
 * Tracks whether etcd answers, and logs only when that changes: an unreachable etcd gives one warning, not one
 * line per retry. Also records when etcd last answered, for readiness checks.
 */
export class EtcdConnectivity {
  readonly #log: Logger;
  readonly #now: () => number;
  #reachable = true;
  #lastSuccessAt: number | undefined;

  constructor(log: Logger, now: () => number = Date.now) {
    this.#log = log;
    this.#now = now;
  }

  get reachable(): boolean {
    return this.#reachable;
  }

  get lastSuccessAt(): number | undefined {
    return this.#lastSuccessAt;
  }

  succeeded(): void {
    this.#lastSuccessAt = this.#now();
    if (!this.#reachable) {
      this.#reachable = true;
      this.#log.info('etcd reachable again');
    }
  }

  failed(err: unknown, doing: string): void {
    if (this.#reachable) {
      this.#reachable = false;
      this.#log.warn('etcd unreachable, retrying with back-off', { while: doing, reason: errorMessage(err) });
    }
  }
}
