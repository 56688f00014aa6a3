import type { Logger } from '@flannel-ts/core';
import { describeEtcdError } from './connection.js';

/**
 * Tracks whether etcd answers, and logs only when that changes: an unreachable etcd gives one warning, not one
 * line per retry. Also records when etcd last answered, for readiness checks.
 */
export class EtcdConnectivity {
  readonly #log: Logger;
  readonly #now: () => number;
  #reachable = true;
  #lastSuccessAt: number | undefined;
  #unreachableSince: number | undefined;
  #outages = 0;
  #watchRestarts = 0;

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

  /** When the current outage began; undefined while etcd answers. */
  get unreachableSince(): number | undefined {
    return this.#unreachableSince;
  }

  /** How many times etcd became unreachable. */
  get outages(): number {
    return this.#outages;
  }

  /** How many times a watch had to be re-established (errors, compaction, reconnects). */
  get watchRestarts(): number {
    return this.#watchRestarts;
  }

  watchRestarted(): void {
    this.#watchRestarts++;
  }

  succeeded(): void {
    this.#lastSuccessAt = this.#now();
    if (!this.#reachable) {
      this.#reachable = true;
      this.#unreachableSince = undefined;
      this.#log.info('etcd reachable again');
    }
  }

  failed(err: unknown, doing: string): void {
    if (this.#reachable) {
      this.#reachable = false;
      this.#unreachableSince = this.#now();
      this.#outages++;
      this.#log.warn('etcd unreachable, retrying with back-off', { while: doing, reason: describeEtcdError(err) });
    }
  }
}
