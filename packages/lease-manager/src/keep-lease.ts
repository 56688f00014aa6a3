/**
 * Keeping this host's lease (flannel-compat.md §1.6-1.7): renew it before expiry, watch its key, and acquire a lease
 * again when the key is deleted (flannel ends renewals silently then: quirk 18). A write to the key with a TTL
 * lease that is not ours means another host claims our public IP; it is reported, not fought over.
 */
import { errorMessage, type Lease } from '@flannel-ts/core';
import { acquireLease, renewLease, type AcquireRequest } from './acquire.js';
import { Backoff, sleep } from './backoff.js';
import { isRetryable } from './connection.js';
import { getNetworkConfig, type LeaseContext } from './lease-context.js';
import { NO_TTL_LEASE, type RegistryChange } from './registry.js';
import { runWatchLoop, type WatchChanges } from './watch-loop.js';

export interface KeepLeaseOptions {
  /** Renew this long before expiry (flanneld's --subnet-lease-renew-margin, in ms). */
  readonly renewMarginMs: number;
  /** Wait after a failed renewal; flannel waits one minute. */
  readonly retryMs?: number;
  readonly signal: AbortSignal;
  /** Called when the lease was lost and acquired again (possibly with another subnet). */
  readonly onLeaseChanged?: (lease: Lease) => void | Promise<void>;
  /** Called when another host writes this lease (a duplicate public IP). */
  readonly onConflict?: (lease: Lease) => void;
}

export interface LeaseKeeper extends AsyncDisposable {
  /** The lease as last acquired or renewed. */
  readonly lease: Lease;
}

/**
 * Who wrote our key, from a put on it: `conflict` when the TTL lease is someone else's (we attached ours to it), and
 * `reserved` when the key lost its TTL lease (an admin turned it into a reservation).
 */
export function classifyOwnKeyWrite(change: Extract<RegistryChange, { type: 'put' }>, ownTtlLease: string | undefined): { conflict: boolean; reserved: boolean } {
  const ttlLeaseId = change.entry.ttlLeaseId;
  return {
    conflict: ttlLeaseId !== NO_TTL_LEASE && ownTtlLease !== undefined && ttlLeaseId !== ownTtlLease,
    reserved: ttlLeaseId === NO_TTL_LEASE,
  };
}

export function keepLease(ctx: LeaseContext, initial: Lease, request: AcquireRequest, options: KeepLeaseOptions): LeaseKeeper {
  const { registry, log, connectivity } = ctx;
  const controller = new AbortController();
  const signal = AbortSignal.any([controller.signal, options.signal]);
  const retryMs = options.retryMs ?? 60_000;
  let current = initial;
  let renewTimer: NodeJS.Timeout | undefined;
  let restartWatch: AbortController | undefined;

  // Renewal timer: `renewMarginMs` before expiry; a reservation is never renewed.
  const schedule = () => {
    clearTimeout(renewTimer);
    if (signal.aborted || typeof current.expiresAt !== 'number') return;
    const delay = Math.max(0, current.expiresAt - options.renewMarginMs - ctx.now());
    renewTimer = setTimeout(() => void renew(), Math.min(delay, 2 ** 31 - 1));
  };
  const renew = async () => {
    try {
      current = await renewLease(ctx, current);
      log.info('renewed lease', { subnet: current.key, expiresAt: new Date(current.expiresAt ?? 0).toISOString() });
      schedule();
    } catch (err) {
      // An unreachable etcd is logged once by connectivity; other failures each time.
      if (isRetryable(err)) connectivity.failed(err, 'renewing lease');
      else log.warn('error renewing lease, trying again', { subnet: current.key, inMs: retryMs, reason: errorMessage(err) });
      log.debug('renewal failed, retrying', { subnet: current.key, inMs: retryMs });
      clearTimeout(renewTimer);
      if (!signal.aborted) renewTimer = setTimeout(() => void renew(), retryMs);
    }
  };

  // Re-acquisition after the key was deleted, retried with back-off until it succeeds or the keeper stops.
  const reacquire = async () => {
    log.warn('lease was removed from etcd (revoked or expired), acquiring a lease again', { subnet: current.key });
    const backoff = new Backoff(1000, 30_000);
    let lastReason: string | undefined;
    while (!signal.aborted) {
      try {
        // The config may have changed meanwhile; if it is gone or invalid now, keep the one we run with.
        const config = await getNetworkConfig(ctx).catch((err: unknown) => {
          if (isRetryable(err)) throw err;
          return request.config;
        });
        const { lease } = await acquireLease(ctx, { ...request, config, previous: current });
        const changed = lease.key !== current.key;
        current = lease;
        schedule();
        await options.onLeaseChanged?.(lease);
        if (changed) restartWatch?.abort();
        return;
      } catch (err) {
        const reason = errorMessage(err);
        if (isRetryable(err)) connectivity.failed(err, 're-acquiring lease');
        else if (reason !== lastReason) log.error('re-acquiring lease failed, retrying', { reason });
        lastReason = reason;
        await sleep(backoff.next(), signal);
      }
    }
  };

  // The own-key watch: deletes re-acquire; foreign writes are a duplicate public IP.
  const onResponse = async (response: WatchChanges) => {
    for (const change of response.events) {
      if (change.type === 'delete') {
        await reacquire();
        continue;
      }
      const decoded = registry.decodeEntry(change.entry, undefined, ctx.now);
      const { conflict, reserved } = classifyOwnKeyWrite(change, ctx.ownTtlLeases.get(current.key));
      if (conflict) {
        // Someone else wrote our key with a TTL lease of their own: another host claims our public IP
        // (flannel reuses a lease by PublicIP, so two hosts with one address would silently share a subnet).
        const claimant = decoded.ok ? decoded.lease.attrs.publicIP : undefined;
        log.error('duplicate public IP: another host took over this lease', { subnet: current.key, publicIP: claimant, fix: 'give each host its own --public-ip (or interface address)' });
        options.onConflict?.(current);
      }
      if (decoded.ok && reserved && current.expiresAt !== null) {
        log.info('own lease was turned into a reservation', { subnet: current.key });
        current = { ...current, expiresAt: null };
        schedule();
      }
    }
  };
  // The own key's current state; a missing key means the lease is gone.
  const resync = async (): Promise<bigint> => {
    const { entry, revision } = await registry.getEntry(current.key);
    if (!entry) await reacquire();
    return revision;
  };

  const loop = (async () => {
    schedule();
    while (!signal.aborted) {
      restartWatch = new AbortController();
      const watchSignal = AbortSignal.any([signal, restartWatch.signal]);
      let fromRevision: bigint;
      try {
        fromRevision = (await resync()) + 1n;
      } catch (err) {
        connectivity.failed(err, 'reading own lease');
        await sleep(1000, signal);
        continue;
      }
      await runWatchLoop({
        open: (rev) => registry.watchLease(current.key, rev),
        resync,
        isRevisionCompacted: (rev) => registry.isRevisionCompacted(rev),
        onResponse,
        fromRevision,
        signal: watchSignal,
        log,
        connectivity,
        what: 'own lease',
      });
    }
  })();

  return {
    get lease() {
      return current;
    },
    async [Symbol.asyncDispose]() {
      controller.abort();
      clearTimeout(renewTimer);
      await loop;
    },
  };
}
