/**
 * Between the peer watch and the backend: lease changes are coalesced per key while a batch is being applied, so
 * the backlog is bounded by the number of distinct leases, never by the number of events, and the watch never
 * waits for the kernel. Each batch is what changed since the last one the backend was given (latest state wins):
 * a lease added and removed meanwhile costs nothing, one renewed a thousand times costs nothing.
 *
 * A full reconcile (the daemon's periodic resync) runs through the same queue, so it never overlaps a batch, and
 * it adopts the peer set it was given as the applied state.
 */
import { errorMessage, sameLeaseAttrs, type Lease, type LeaseBatch, type LeaseEvent, type Logger, type PeerLeaseSet } from '@flannel-ts/core';

interface ReconcileRequest {
  readonly task: (peers: readonly Lease[]) => Promise<void>;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export class PeerDelivery {
  readonly #set: PeerLeaseSet;
  readonly #onBatch: (batch: LeaseBatch) => void | Promise<void>;
  readonly #log: Logger;
  /** What the backend was last given, by key. */
  readonly #applied = new Map<string, Lease>();
  /** Keys whose admitted state may differ from `#applied`. */
  readonly #dirty = new Set<string>();
  readonly #reconciles: ReconcileRequest[] = [];
  /** The one worker that talks to the backend is running. */
  #running = false;
  #idleWaiters: Array<() => void> = [];

  constructor(set: PeerLeaseSet, onBatch: (batch: LeaseBatch) => void | Promise<void>, log: Logger) {
    this.#set = set;
    this.#onBatch = onBatch;
    this.#log = log;
  }

  /** Number of leases waiting for the next batch. */
  get pending(): number {
    return this.#dirty.size;
  }

  /** Marks the leases of these events as changed; the worker picks them up after the batch in progress. */
  push(events: readonly LeaseEvent[]): void {
    for (const event of events) this.#dirty.add(event.lease.key);
    if (this.#dirty.size > 0) this.#wake();
  }

  /** Resolves once nothing is pending and nothing runs. */
  idle(): Promise<void> {
    if (!this.#running && this.#dirty.size === 0 && this.#reconciles.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Runs `task` with the whole admitted peer set, between batches (before any further batch), and takes that set
   * as applied: the backend reconciles against it. Changes arriving meanwhile go into the next batch. Never await
   * this from inside a batch (the batch would wait for itself).
   */
  reconcile(task: (peers: readonly Lease[]) => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#reconciles.push({ task, resolve, reject });
      this.#wake();
    });
  }

  #wake(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#work();
  }

  async #work(): Promise<void> {
    // Let the events of the current tick (one watch response, or several) join the batch.
    await Promise.resolve();
    try {
      for (;;) {
        const request = this.#reconciles.shift();
        if (request) {
          const peers = this.#set.peers();
          this.#applied.clear();
          for (const lease of peers) this.#applied.set(lease.key, lease);
          this.#dirty.clear();
          await request.task(peers).then(request.resolve, request.reject);
          continue;
        }
        if (this.#dirty.size === 0) break;
        const batch = this.#take();
        if (batch.length === 0) continue;
        try {
          await this.#onBatch(batch);
        } catch (err) {
          this.#log.error('applying lease batch failed', { events: batch.length, reason: errorMessage(err) });
        }
      }
    } finally {
      this.#running = false;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** The batch that turns what was applied into the current admitted state, for the dirty keys. */
  #take(): LeaseEvent[] {
    const removed: LeaseEvent[] = [];
    const added: LeaseEvent[] = [];
    for (const key of this.#dirty) {
      const before = this.#applied.get(key);
      const now = this.#set.admitted(key);
      const same = before !== undefined && now !== undefined && sameLeaseAttrs(before.attrs, now.attrs);
      if (before && !same) removed.push({ type: 'removed', lease: before });
      if (now && !same) added.push({ type: 'added', lease: now });
      if (now) this.#applied.set(key, now);
      else this.#applied.delete(key);
    }
    this.#dirty.clear();
    return [...removed, ...added];
  }
}
