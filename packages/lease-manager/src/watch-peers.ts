/**
 * Watching every peer's lease (flannel-compat.md §1.8): a full listing first, then changes from the next revision
 * on. Each lease passes admission (core's decision, from this host's point of view) before it reaches a batch:
 * rejected leases are logged once per lease and reason and never delivered. Batches never contain the own lease;
 * a malformed entry is logged and skipped and never makes peers look removed (quirks 6, 7).
 */
import { PeerLeaseSet, parseSubnetKey, type AdmissionContext, type Lease, type LeaseBatch, type LeaseEvent, type PeerUpdate, type RejectedLease } from '@flannel-ts/core';
import { Backoff, sleep } from './backoff.js';
import { listLeases, logSkipped, type LeaseContext } from './lease-context.js';
import { PeerDelivery } from './peer-delivery.js';
import type { LeaseListing } from './registry.js';
import { runWatchLoop, type WatchChanges } from './watch-loop.js';

export interface WatchPeersOptions {
  readonly signal: AbortSignal;
  /** Told about each lease that admission newly rejects or stops rejecting (after it was logged). */
  readonly onAdmission?: ((update: PeerUpdate) => void) | undefined;
  /** A recent listing to start from (e.g. the one the lease was acquired with); changes since are watched. */
  readonly initial?: LeaseListing | undefined;
  /**
   * Receives each non-empty batch, one at a time: what changed since the previous batch, coalesced per lease
   * (removals first), so a slow backend sees fewer, larger batches rather than a growing queue.
   */
  readonly onBatch: (batch: LeaseBatch) => void | Promise<void>;
}

export interface PeerWatch extends AsyncDisposable {
  /** Resolves once the first full listing was delivered. */
  readonly synced: Promise<void>;
  /** The admitted peers: what the backend programs. */
  peers(): Lease[];
  /** The peer leases admission refused, with the reason: shown, never programmed. */
  rejected(): RejectedLease[];
  /** Tells the watch which lease is this host's own (after a re-acquire). */
  setOwn(own: Lease): void;
  /** Leases changed in the store and waiting for the next batch (bounded by the number of distinct leases). */
  pending(): number;
  /**
   * Runs a full reconcile of the backend with the admitted peers, never concurrently with a batch (the batches
   * resume after it, with what changed meanwhile).
   */
  reconcile(task: (peers: readonly Lease[]) => Promise<void>): Promise<void>;
}

/** The lease events a watch response means; entries that do not decode are logged and left out. */
function leaseEvents(ctx: LeaseContext, response: WatchChanges): LeaseEvent[] {
  const events: LeaseEvent[] = [];
  for (const change of response.events) {
    if (change.type === 'put') {
      const entry = ctx.registry.decodeEntry(change.entry, undefined, ctx.now);
      if (entry.ok) events.push({ type: 'added', lease: entry.lease });
      else logSkipped(ctx, [entry.entry]);
    } else {
      const key = change.key.slice(ctx.registry.subnetsPrefix.length);
      const subnets = parseSubnetKey(key);
      if (subnets.ok) events.push({ type: 'removed', lease: { key, ...subnets.value, attrs: { publicIP: '0.0.0.0' }, expiresAt: undefined } });
    }
  }
  return events;
}

export function watchPeers(ctx: LeaseContext, admission: AdmissionContext, options: WatchPeersOptions): PeerWatch {
  const controller = new AbortController();
  const signal = AbortSignal.any([controller.signal, options.signal]);
  const set = new PeerLeaseSet(admission);
  // The watch never waits for the backend: changes are coalesced per key into the next batch.
  const delivery = new PeerDelivery(set, options.onBatch, ctx.log);
  const deliver = (update: PeerUpdate) => {
    logAdmission(ctx, update);
    if (update.rejected.length > 0 || update.cleared.length > 0) options.onAdmission?.(update);
    delivery.push(update.events);
  };
  const resync = async (): Promise<bigint> => {
    const listing = await listLeases(ctx);
    deliver(set.reset(listing.leases));
    return listing.revision;
  };
  let markSynced: () => void = () => undefined;
  const synced = new Promise<void>((resolve) => (markSynced = resolve));

  const loop = (async () => {
    // Let the caller hold the returned watch before the first batch reaches its callback.
    await Promise.resolve();
    const backoff = new Backoff(100, 5000);
    let fromRevision: bigint | undefined;
    if (options.initial) {
      deliver(set.reset(options.initial.leases));
      fromRevision = options.initial.revision + 1n;
    }
    while (!signal.aborted && fromRevision === undefined) {
      try {
        fromRevision = (await resync()) + 1n;
      } catch (err) {
        ctx.connectivity.failed(err, 'listing leases');
        await sleep(backoff.next(), signal);
      }
    }
    // Synced once the first listing reached the backend.
    await delivery.idle();
    markSynced();
    if (fromRevision === undefined) return;
    await runWatchLoop({
      open: (rev) => ctx.registry.watchLeases(rev),
      resync,
      isRevisionCompacted: (rev) => ctx.registry.isRevisionCompacted(rev),
      onResponse: (response) => deliver(set.apply(leaseEvents(ctx, response))),
      fromRevision,
      signal,
      log: ctx.log,
      connectivity: ctx.connectivity,
      what: 'leases',
    });
  })();

  return {
    synced,
    peers: () => set.peers(),
    rejected: () => set.rejected(),
    pending: () => delivery.pending,
    reconcile: (task) => delivery.reconcile(task),
    setOwn: (own) => deliver(set.setOwn(own)),
    async [Symbol.asyncDispose]() {
      controller.abort();
      await loop;
      await delivery.idle();
    },
  };
}

/** One line per lease and reason: a rejection is logged when it starts or its reason changes, not per resync. */
function logAdmission(ctx: LeaseContext, update: PeerUpdate): void {
  for (const { lease, rejection } of update.rejected) {
    ctx.log.warn('peer lease rejected, not programming it', {
      key: ctx.registry.leaseKey(lease.key),
      reason: rejection.reason,
      detail: rejection.detail,
      publicIP: lease.attrs.publicIP,
      fix: 'correct or delete the key (flannelctl leases revoke); flannelctl status lists every rejected lease',
    });
  }
  const admitted = new Set(update.events.filter((e) => e.type === 'added').map((e) => e.lease.key));
  for (const lease of update.cleared) {
    if (admitted.has(lease.key)) ctx.log.info('peer lease admitted now', { key: ctx.registry.leaseKey(lease.key) });
    else ctx.log.info('rejected peer lease is gone', { key: ctx.registry.leaseKey(lease.key) });
  }
}
