/** What the lease policy files (acquire, keep, watch-peers) share: the registry, clocks, logging, connectivity. */
import { FlannelError, parseNetworkConfig, type Lease, type LeaseAttrs, type Logger, type NetworkConfig } from '@flannel-ts/core';
import type { EtcdConnectivity } from './connectivity.js';
import type { LeaseListing, Registry, SkippedEntry } from './registry.js';

export interface LeaseContext {
  readonly registry: Registry;
  readonly log: Logger;
  readonly now: () => number;
  readonly random: () => number;
  /** TTL of the lease behind each subnet lease; flannel uses 24 h. */
  readonly ttlSeconds: number;
  readonly connectivity: EtcdConnectivity;
  /** subnet key -> the TTL lease this process attached to it (to tell our writes from someone else's). */
  readonly ownTtlLeases: Map<string, string>;
}

/** Reads and validates the network config. Throws CONFIG_NOT_FOUND, a ConfigError, or a store error. */
export async function getNetworkConfig(ctx: LeaseContext): Promise<NetworkConfig> {
  const text = await ctx.registry.getConfigText();
  if (text === undefined) {
    throw new FlannelError(
      'CONFIG_NOT_FOUND',
      `flannel config not found in etcd store at ${ctx.registry.configKey}: create it with \`flannelctl config set 10.1.0.0/16\` (or etcdctl put with the v3 API)`,
    );
  }
  return parseNetworkConfig(text);
}

/** Lists leases, logging every entry that does not decode. */
export async function listLeases(ctx: LeaseContext, options: { withExpiry?: boolean } = {}): Promise<LeaseListing> {
  const listing = await ctx.registry.listLeases({ withExpiry: options.withExpiry ?? false, now: ctx.now });
  ctx.connectivity.succeeded();
  logSkipped(ctx, listing.skipped);
  return listing;
}

export function logSkipped(ctx: LeaseContext, skipped: readonly SkippedEntry[]): void {
  for (const entry of skipped) ctx.log.warn('skipped malformed lease', { key: entry.key, reason: entry.reason });
}

/** The lease as this host holds it after a write with `ttlSeconds` (null: a reservation). */
export function leaseFrom(ctx: LeaseContext, base: Pick<Lease, 'key' | 'subnet' | 'ipv6Subnet'>, attrs: LeaseAttrs, ttlSeconds: number | null): Lease {
  return {
    key: base.key,
    subnet: base.subnet,
    ipv6Subnet: base.ipv6Subnet,
    attrs,
    expiresAt: ttlSeconds === null ? null : ctx.now() + ttlSeconds * 1000,
  };
}
