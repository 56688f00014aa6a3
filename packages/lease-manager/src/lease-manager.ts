/**
 * Policy on top of the registry: how a host gets, keeps and loses its subnet (flannel's LocalManager,
 * flannel-compat.md §1.5-1.8 and §3), with flannel's bugs fixed:
 * - a lost creation race is retried (up to 10 times) instead of ending the daemon (quirk 3);
 * - a reservation (a key without an etcd lease) stays without one when its owner starts (quirk 4, flannel#1329);
 * - a deleted own lease is re-acquired instead of ending renewals silently (quirk 18);
 * - one malformed entry in the store is skipped and logged and never makes peers look removed (quirks 6, 7).
 */
import {
  waitProgress,
  FlannelError,
  PeerLeaseSet,
  errorMessage,
  formatSubnetKey,
  parseNetworkConfig,
  parseSubnetKey,
  planAllocation,
  type Lease,
  type LeaseAttrs,
  type LeaseBatch,
  type LeaseEvent,
  type LeaseSubnets,
  type Logger,
  type AdmissionContext,
  type PeerUpdate,
  type RejectedLease,
  type NetworkConfig,
} from '@flannel-ts/core';
import type { IWatchResponse } from 'etcd3';
import { Backoff, sleep } from './backoff.js';
import { describeEtcdError, isRetryable } from './connection.js';
import { EtcdConnectivity } from './connectivity.js';
import { LEASE_TTL_SECONDS, type EtcdRegistry, type LeaseListing, type SkippedEntry } from './registry.js';
import { runWatchLoop } from './watch-loop.js';
import { PeerDelivery } from './peer-delivery.js';

export const MAX_ACQUIRE_ATTEMPTS = 10;

export interface LeaseManagerOptions {
  readonly registry: EtcdRegistry;
  readonly log: Logger;
  readonly now?: () => number;
  readonly random?: () => number;
  /** TTL of the etcd lease behind each subnet lease; flannel uses 24 h. */
  readonly leaseTtlSeconds?: number;
}

export interface AcquireRequest {
  readonly config: NetworkConfig;
  readonly attrs: LeaseAttrs;
  /** The subnets of a previous run (from subnet.env), preferred when still free. */
  readonly previous?: Partial<LeaseSubnets> | undefined;
}

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

export class LeaseManager {
  readonly registry: EtcdRegistry;
  readonly connectivity: EtcdConnectivity;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #ttlSeconds: number;
  /** subnet key -> the etcd lease this process attached to it (to tell our writes from someone else's). */
  readonly #ownEtcdLeases = new Map<string, string>();

  constructor(options: LeaseManagerOptions) {
    this.registry = options.registry;
    this.#log = options.log.child('lease-manager');
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#ttlSeconds = options.leaseTtlSeconds ?? LEASE_TTL_SECONDS;
    this.connectivity = new EtcdConnectivity(this.#log, this.#now);
  }

  /** Reads and validates the network config. Throws CONFIG_NOT_FOUND, a ConfigError, or a store error. */
  async getNetworkConfig(): Promise<NetworkConfig> {
    const text = await this.registry.getConfigText();
    if (text === undefined) {
      throw new FlannelError(
        'CONFIG_NOT_FOUND',
        `flannel config not found in etcd store at ${this.registry.configKey}: create it with \`flannelctl config set 10.1.0.0/16\` (or etcdctl put with the v3 API)`,
      );
    }
    return parseNetworkConfig(text);
  }

  /**
   * Waits for a valid network config, retrying every `retryMs` (flannel retries every second). Logs once per
   * distinct reason, not once per retry. Returns undefined if the signal aborts first.
   */
  async waitForNetworkConfig(signal: AbortSignal, retryMs = 1000): Promise<NetworkConfig | undefined> {
    let lastReason: string | undefined;
    const progress = waitProgress(this.#now());
    while (!signal.aborted) {
      let reason: string;
      try {
        const config = await this.getNetworkConfig();
        this.connectivity.succeeded();
        return config;
      } catch (err) {
        if (isRetryable(err)) {
          this.connectivity.failed(err, 'reading network config');
          reason = describeEtcdError(err);
        } else {
          this.connectivity.succeeded();
          reason = errorMessage(err);
          if (reason !== lastReason) this.#log.warn('waiting for a valid network config', { key: this.registry.configKey, reason });
          lastReason = reason;
        }
      }
      const waited = progress.due(this.#now());
      if (waited !== undefined) {
        const what = this.connectivity.reachable ? 'a valid network config' : 'etcd';
        this.#log.info(`still waiting for ${what}`, { waitedSeconds: waited, key: this.registry.configKey, reason });
      }
      await sleep(retryMs, signal);
    }
    return undefined;
  }

  /** Lists leases, logging every entry that does not decode. */
  async listLeases(options: { withExpiry?: boolean } = {}): Promise<LeaseListing> {
    const listing = await this.registry.listLeases({ withExpiry: options.withExpiry ?? false, now: this.#now });
    this.connectivity.succeeded();
    this.#logSkipped(listing.skipped);
    return listing;
  }

  /** Acquires this host's lease (flannel's AcquireLease). Throws SUBNET_EXHAUSTED when the network is full. */
  async acquireLease(request: AcquireRequest): Promise<Lease> {
    return (await this.acquireLeaseAndListing(request)).lease;
  }

  /**
   * acquireLease, also returning the listing the lease was chosen from, so a peer watch can start from it
   * (`watchPeers(..., { initial })`) instead of listing every lease a second time.
   */
  async acquireLeaseAndListing(request: AcquireRequest): Promise<{ lease: Lease; listing: LeaseListing }> {
    // One etcd lease serves every attempt: a lost race costs a listing and a transaction, not a grant and a revoke.
    let leaseId: string | undefined;
    try {
      for (let attempt = 1; attempt <= MAX_ACQUIRE_ATTEMPTS; attempt++) {
        const listing = await this.listLeases();
        const { leases } = listing;
        const plan = planAllocation({
          config: request.config,
          leases,
          publicIP: request.attrs.publicIP,
          previous: request.previous,
          random: this.#random,
        });
        for (const stale of plan.stale) {
          this.#log.info('own lease not compatible with current config, deleting', { subnet: stale.key });
          await this.registry.deleteLease(stale.key);
        }
        if (plan.kind === 'reuse') {
          // A reservation keeps having no etcd lease (fixes flannel quirk 4).
          const ttl = plan.lease.expiresAt === null ? null : this.#ttlSeconds;
          await this.registry.putLease(plan.lease.key, request.attrs, ttl, (id) => this.#ownEtcdLeases.set(plan.lease.key, id));
          const lease = this.#leaseFrom(plan.lease, request.attrs, ttl);
          this.#log.info(ttl === null ? 'reusing reserved subnet' : 'reusing lease', { subnet: lease.key, publicIP: request.attrs.publicIP });
          return { lease, listing };
        }
        leaseId ??= await this.registry.grantLease(this.#ttlSeconds);
        this.#ownEtcdLeases.set(formatSubnetKey(plan.subnets), leaseId);
        if (await this.registry.createLease(plan.subnets, request.attrs, leaseId)) {
          const lease = this.#leaseFrom({ key: formatSubnetKey(plan.subnets), ...plan.subnets }, request.attrs, this.#ttlSeconds);
          leaseId = undefined; // now owned by the key
          this.#log.info('acquired lease', { subnet: lease.key, publicIP: request.attrs.publicIP, source: plan.source });
          return { lease, listing };
        }
        this.#log.info('subnet was taken by another host at the same moment, retrying', { subnet: formatSubnetKey(plan.subnets), attempt });
      }
    } finally {
      if (leaseId !== undefined) await this.registry.revokeLeaseId(leaseId);
    }
    throw new FlannelError(
      'LEASE_CONFLICT',
      `max retries reached trying to acquire a subnet: ${MAX_ACQUIRE_ATTEMPTS} attempts each lost a race with another host; try again`,
    );
  }

  /** Rewrites the lease with a fresh TTL (no-op TTL for a reservation). */
  async renewLease(lease: Lease): Promise<Lease> {
    const ttl = lease.expiresAt === null ? null : this.#ttlSeconds;
    await this.registry.putLease(lease.key, lease.attrs, ttl, (id) => this.#ownEtcdLeases.set(lease.key, id));
    this.connectivity.succeeded();
    return this.#leaseFrom(lease, lease.attrs, ttl);
  }

  /**
   * Keeps the lease: renews it `renewMarginMs` before expiry (retrying after `retryMs` on failure) and watches
   * its key; if the key is deleted (by an admin, or expiry while etcd was unreachable) it logs that and acquires
   * a lease again.
   */
  keepLease(initial: Lease, request: AcquireRequest, options: KeepLeaseOptions): LeaseKeeper {
    const controller = new AbortController();
    const signal = AbortSignal.any([controller.signal, options.signal]);
    const retryMs = options.retryMs ?? 60_000;
    let current = initial;
    let renewTimer: NodeJS.Timeout | undefined;
    let restartWatch: AbortController | undefined;

    const schedule = () => {
      clearTimeout(renewTimer);
      if (signal.aborted || typeof current.expiresAt !== 'number') return;
      const delay = Math.max(0, current.expiresAt - options.renewMarginMs - this.#now());
      renewTimer = setTimeout(() => void renew(), Math.min(delay, 2 ** 31 - 1));
    };
    const renew = async () => {
      try {
        current = await this.renewLease(current);
        this.#log.info('renewed lease', { subnet: current.key, expiresAt: new Date(current.expiresAt ?? 0).toISOString() });
        schedule();
      } catch (err) {
        // An unreachable etcd is logged once by connectivity; other failures each time.
        if (isRetryable(err)) this.connectivity.failed(err, 'renewing lease');
        else this.#log.warn('error renewing lease, trying again', { subnet: current.key, inMs: retryMs, reason: errorMessage(err) });
        this.#log.debug('renewal failed, retrying', { subnet: current.key, inMs: retryMs });
        clearTimeout(renewTimer);
        if (!signal.aborted) renewTimer = setTimeout(() => void renew(), retryMs);
      }
    };
    const reacquire = async () => {
      this.#log.warn('lease was removed from etcd (revoked or expired), acquiring a lease again', { subnet: current.key });
      const backoff = new Backoff(1000, 30_000);
      let lastReason: string | undefined;
      while (!signal.aborted) {
        try {
          // The config may have changed meanwhile; if it is gone or invalid now, keep the one we run with.
          const config = await this.getNetworkConfig().catch((err: unknown) => {
            if (isRetryable(err)) throw err;
            return request.config;
          });
          const lease = await this.acquireLease({ ...request, config, previous: current });
          const changed = lease.key !== current.key;
          current = lease;
          schedule();
          await options.onLeaseChanged?.(lease);
          if (changed) restartWatch?.abort();
          return;
        } catch (err) {
          const reason = errorMessage(err);
          if (isRetryable(err)) this.connectivity.failed(err, 're-acquiring lease');
          else if (reason !== lastReason) this.#log.error('re-acquiring lease failed, retrying', { reason });
          lastReason = reason;
          await sleep(backoff.next(), signal);
        }
      }
    };
    const onResponse = async (response: IWatchResponse) => {
      for (const event of response.events) {
        if (event.type === 'Delete') await reacquire();
        else {
          const decodedEntry = this.registry.decodeEntry(event.kv, undefined, this.#now);
          const ours = this.#ownEtcdLeases.get(current.key);
          if (event.kv.lease !== '0' && ours !== undefined && event.kv.lease !== ours) {
            // Someone else wrote our key with an etcd lease of their own: another host claims our public IP
            // (flannel reuses a lease by PublicIP, so two hosts with one address would silently share a subnet).
            const claimant = decodedEntry.ok ? decodedEntry.lease.attrs.publicIP : undefined;
            this.#log.error('duplicate public IP: another host took over this lease', { subnet: current.key, publicIP: claimant, fix: 'give each host its own --public-ip (or interface address)' });
            options.onConflict?.(current);
          }
          if (decodedEntry.ok && event.kv.lease === '0' && current.expiresAt !== null) {
            this.#log.info('own lease was turned into a reservation', { subnet: current.key });
            current = { ...current, expiresAt: null };
            schedule();
          }
        }
      }
    };
    // The own key's current state; a missing key means the lease is gone.
    const resync = async (): Promise<bigint> => {
      const response = await this.registry.client.get(this.registry.leaseKey(current.key)).exec();
      if (response.kvs.length === 0) await reacquire();
      return BigInt(response.header.revision);
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
          this.connectivity.failed(err, 'reading own lease');
          await sleep(1000, signal);
          continue;
        }
        await runWatchLoop({
          open: (rev) => this.registry.watchLease(current.key, rev),
          resync,
          isRevisionCompacted: (rev) => this.registry.isRevisionCompacted(rev),
          onResponse,
          fromRevision,
          signal: watchSignal,
          log: this.#log,
          connectivity: this.connectivity,
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

  /**
   * Watches every peer's lease: a full listing first, then changes from the next revision on. Each lease passes
   * admission (core's admission decision, from the host's point of view in `admission`) before it reaches a batch:
   * rejected leases are logged once per lease and reason and never delivered. Batches never contain the own lease;
   * a malformed entry is logged and skipped.
   */
  watchPeers(admission: AdmissionContext, options: WatchPeersOptions): PeerWatch {
    const controller = new AbortController();
    const signal = AbortSignal.any([controller.signal, options.signal]);
    const set = new PeerLeaseSet(admission);
    // The watch never waits for the backend: changes are coalesced per key into the next batch.
    const delivery = new PeerDelivery(set, options.onBatch, this.#log);
    const deliver = (update: PeerUpdate) => {
      this.#logAdmission(update);
      if (update.rejected.length > 0 || update.cleared.length > 0) options.onAdmission?.(update);
      delivery.push(update.events);
    };
    const resync = async (): Promise<bigint> => {
      const listing = await this.listLeases();
      deliver(set.reset(listing.leases));
      return listing.revision;
    };
    let markSynced: () => void = () => undefined;
    const synced = new Promise<void>((resolve) => (markSynced = resolve));
    const onResponse = async (response: IWatchResponse) => {
      const events: LeaseEvent[] = [];
      for (const event of response.events) {
        if (event.type === 'Put') {
          const entry = this.registry.decodeEntry(event.kv, undefined, this.#now);
          if (entry.ok) events.push({ type: 'added', lease: entry.lease });
          else this.#logSkipped([entry.entry]);
        } else if (event.type === 'Delete') {
          const key = event.kv.key.toString().slice(this.registry.subnetsPrefix.length);
          const subnets = parseSubnetKey(key);
          if (subnets.ok) events.push({ type: 'removed', lease: { key, ...subnets.value, attrs: { publicIP: '0.0.0.0' }, expiresAt: undefined } });
        }
      }
      deliver(set.apply(events));
    };

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
          this.connectivity.failed(err, 'listing leases');
          await sleep(backoff.next(), signal);
        }
      }
      // Synced once the first listing reached the backend.
      await delivery.idle();
      markSynced();
      if (fromRevision === undefined) return;
      await runWatchLoop({
        open: (rev) => this.registry.watchLeases(rev),
        resync,
        isRevisionCompacted: (rev) => this.registry.isRevisionCompacted(rev),
        onResponse,
        fromRevision,
        signal,
        log: this.#log,
        connectivity: this.connectivity,
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

  /** Writes a reservation: a lease key without an etcd lease, owned by the host with `attrs.publicIP`. */
  async reserveLease(subnets: LeaseSubnets, attrs: LeaseAttrs, options: { force?: boolean } = {}): Promise<void> {
    if (!options.force) {
      const { leases } = await this.listLeases();
      const clash = leases.find(
        (l) => (l.subnet && subnets.subnet && l.subnet.overlaps(subnets.subnet)) || (l.ipv6Subnet && subnets.ipv6Subnet && l.ipv6Subnet.overlaps(subnets.ipv6Subnet)),
      );
      if (clash) {
        throw new FlannelError(
          'LEASE_CONFLICT',
          `subnet overlaps the existing lease ${clash.key} of ${clash.attrs.publicIP}: revoke that lease first, or pick a free subnet`,
        );
      }
    }
    await this.registry.putLease(subnets, attrs, null);
  }

  /** Deletes a lease; throws LEASE_NOT_FOUND when there is none with that key. */
  async revokeLease(subnetKey: string): Promise<void> {
    if (!(await this.registry.deleteLease(subnetKey))) {
      throw new FlannelError('LEASE_NOT_FOUND', `no lease ${this.registry.leaseKey(subnetKey)}: list leases with \`flannelctl leases list\``);
    }
  }

  #leaseFrom(base: Pick<Lease, 'key' | 'subnet' | 'ipv6Subnet'>, attrs: LeaseAttrs, ttlSeconds: number | null): Lease {
    return {
      key: base.key,
      subnet: base.subnet,
      ipv6Subnet: base.ipv6Subnet,
      attrs,
      expiresAt: ttlSeconds === null ? null : this.#now() + ttlSeconds * 1000,
    };
  }

  /** One line per lease and reason: a rejection is logged when it starts or its reason changes, not per resync. */
  #logAdmission(update: PeerUpdate): void {
    for (const { lease, rejection } of update.rejected) {
      this.#log.warn('peer lease rejected, not programming it', {
        key: this.registry.leaseKey(lease.key),
        reason: rejection.reason,
        detail: rejection.detail,
        publicIP: lease.attrs.publicIP,
        fix: 'correct or delete the key (flannelctl leases revoke); flannelctl status lists every rejected lease',
      });
    }
    const admitted = new Set(update.events.filter((e) => e.type === 'added').map((e) => e.lease.key));
    for (const lease of update.cleared) {
      if (admitted.has(lease.key)) this.#log.info('peer lease admitted now', { key: this.registry.leaseKey(lease.key) });
      else this.#log.info('rejected peer lease is gone', { key: this.registry.leaseKey(lease.key) });
    }
  }

  #logSkipped(skipped: readonly SkippedEntry[]): void {
    for (const entry of skipped) this.#log.warn('skipped malformed lease', { key: entry.key, reason: entry.reason });
  }
}
