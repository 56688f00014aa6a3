/**
 * Policy on top of the registry: how a host gets, keeps and loses its subnet (flannel's LocalManager,
 * flannel-compat.md §1.5-1.8 and §3), with flannel's bugs fixed. A thin facade: acquiring lives in acquire.ts,
 * keeping in keep-lease.ts, the peer watch in watch-peers.ts; they share one LeaseContext.
 */
import { waitProgress, FlannelError, errorMessage, type AdmissionContext, type Lease, type LeaseAttrs, type LeaseSubnets, type Logger, type NetworkConfig } from '@flannel-ts/core';
import { acquireLease, renewLease, type AcquireRequest } from './acquire.js';
import { sleep } from './backoff.js';
import { describeEtcdError, isRetryable } from './connection.js';
import { EtcdConnectivity } from './connectivity.js';
import { keepLease, type KeepLeaseOptions, type LeaseKeeper } from './keep-lease.js';
import { getNetworkConfig, listLeases, type LeaseContext } from './lease-context.js';
import { LEASE_TTL_SECONDS, type LeaseListing, type Registry } from './registry.js';
import { watchPeers, type PeerWatch, type WatchPeersOptions } from './watch-peers.js';

export interface LeaseManagerOptions {
  readonly registry: Registry;
  readonly log: Logger;
  readonly now?: () => number;
  readonly random?: () => number;
  /** TTL of the lease behind each subnet lease; flannel uses 24 h. */
  readonly leaseTtlSeconds?: number;
}

export class LeaseManager {
  readonly registry: Registry;
  readonly connectivity: EtcdConnectivity;
  readonly #ctx: LeaseContext;

  constructor(options: LeaseManagerOptions) {
    this.registry = options.registry;
    const log = options.log.child('lease-manager');
    const now = options.now ?? Date.now;
    this.connectivity = new EtcdConnectivity(log, now);
    this.#ctx = {
      registry: options.registry,
      log,
      now,
      random: options.random ?? Math.random,
      ttlSeconds: options.leaseTtlSeconds ?? LEASE_TTL_SECONDS,
      connectivity: this.connectivity,
      ownTtlLeases: new Map(),
    };
  }

  /** Reads and validates the network config. Throws CONFIG_NOT_FOUND, a ConfigError, or a store error. */
  getNetworkConfig(): Promise<NetworkConfig> {
    return getNetworkConfig(this.#ctx);
  }

  /**
   * Waits for a valid network config, retrying every `retryMs` (flannel retries every second). Logs once per
   * distinct reason, not once per retry. Returns undefined if the signal aborts first.
   */
  async waitForNetworkConfig(signal: AbortSignal, retryMs = 1000): Promise<NetworkConfig | undefined> {
    const { log, now } = this.#ctx;
    let lastReason: string | undefined;
    const progress = waitProgress(now());
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
          if (reason !== lastReason) log.warn('waiting for a valid network config', { key: this.registry.configKey, reason });
          lastReason = reason;
        }
      }
      const waited = progress.due(now());
      if (waited !== undefined) {
        const what = this.connectivity.reachable ? 'a valid network config' : 'etcd';
        log.info(`still waiting for ${what}`, { waitedSeconds: waited, key: this.registry.configKey, reason });
      }
      await sleep(retryMs, signal);
    }
    return undefined;
  }

  /** Lists leases, logging every entry that does not decode. */
  listLeases(options: { withExpiry?: boolean } = {}): Promise<LeaseListing> {
    return listLeases(this.#ctx, options);
  }

  /** Acquires this host's lease (flannel's AcquireLease). Throws SUBNET_EXHAUSTED when the network is full. */
  async acquireLease(request: AcquireRequest): Promise<Lease> {
    return (await acquireLease(this.#ctx, request)).lease;
  }

  /**
   * acquireLease, also returning the listing the lease was chosen from, so a peer watch can start from it
   * (`watchPeers(..., { initial })`) instead of listing every lease a second time.
   */
  acquireLeaseAndListing(request: AcquireRequest): Promise<{ lease: Lease; listing: LeaseListing }> {
    return acquireLease(this.#ctx, request);
  }

  /** Rewrites the lease with a fresh TTL (no-op TTL for a reservation). */
  renewLease(lease: Lease): Promise<Lease> {
    return renewLease(this.#ctx, lease);
  }

  /**
   * Keeps the lease: renews it `renewMarginMs` before expiry (retrying after `retryMs` on failure) and watches
   * its key; if the key is deleted (by an admin, or expiry while etcd was unreachable) it logs that and acquires
   * a lease again.
   */
  keepLease(initial: Lease, request: AcquireRequest, options: KeepLeaseOptions): LeaseKeeper {
    return keepLease(this.#ctx, initial, request, options);
  }

  /** Watches every peer's lease through admission into coalesced batches (see watch-peers.ts). */
  watchPeers(admission: AdmissionContext, options: WatchPeersOptions): PeerWatch {
    return watchPeers(this.#ctx, admission, options);
  }

  /** Writes a reservation: a lease key without a TTL lease, owned by the host with `attrs.publicIP`. */
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
}
