/**
 * Getting and renewing this host's lease (flannel's AcquireLease / RenewLease, flannel-compat.md §1.5-1.6):
 * - a lost creation race is retried (up to 10 times) instead of ending the daemon (quirk 3);
 * - a reservation (a key without a TTL lease) stays without one when its owner starts (quirk 4, flannel#1329).
 */
import { FlannelError, formatSubnetKey, planAllocation, type Lease, type LeaseAttrs, type LeaseSubnets, type NetworkConfig } from '@flannel-ts/core';
import { leaseFrom, listLeases, type LeaseContext } from './lease-context.js';
import type { LeaseListing } from './registry.js';

export const MAX_ACQUIRE_ATTEMPTS = 10;

export interface AcquireRequest {
  readonly config: NetworkConfig;
  readonly attrs: LeaseAttrs;
  /** The subnets of a previous run (from subnet.env), preferred when still free. */
  readonly previous?: Partial<LeaseSubnets> | undefined;
}

/** Acquires this host's lease; also returns the listing it was chosen from. Throws SUBNET_EXHAUSTED when full. */
export async function acquireLease(ctx: LeaseContext, request: AcquireRequest): Promise<{ lease: Lease; listing: LeaseListing }> {
  const { registry, log } = ctx;
  // One TTL lease serves every attempt: a lost race costs a listing and a transaction, not a grant and a revoke.
  let leaseId: string | undefined;
  try {
    for (let attempt = 1; attempt <= MAX_ACQUIRE_ATTEMPTS; attempt++) {
      const listing = await listLeases(ctx);
      const plan = planAllocation({
        config: request.config,
        leases: listing.leases,
        publicIP: request.attrs.publicIP,
        previous: request.previous,
        random: ctx.random,
      });
      for (const stale of plan.stale) {
        log.info('own lease not compatible with current config, deleting', { subnet: stale.key });
        await registry.deleteLease(stale.key);
      }
      if (plan.kind === 'reuse') {
        // A reservation keeps having no TTL lease (fixes flannel quirk 4).
        const ttl = plan.lease.expiresAt === null ? null : ctx.ttlSeconds;
        await registry.putLease(plan.lease.key, request.attrs, ttl, (id) => ctx.ownTtlLeases.set(plan.lease.key, id));
        const lease = leaseFrom(ctx, plan.lease, request.attrs, ttl);
        log.info(ttl === null ? 'reusing reserved subnet' : 'reusing lease', { subnet: lease.key, publicIP: request.attrs.publicIP });
        return { lease, listing };
      }
      leaseId ??= await registry.grantLease(ctx.ttlSeconds);
      ctx.ownTtlLeases.set(formatSubnetKey(plan.subnets), leaseId);
      if (await registry.createLease(plan.subnets, request.attrs, leaseId)) {
        const lease = leaseFrom(ctx, { key: formatSubnetKey(plan.subnets), ...plan.subnets }, request.attrs, ctx.ttlSeconds);
        leaseId = undefined; // now owned by the key
        log.info('acquired lease', { subnet: lease.key, publicIP: request.attrs.publicIP, source: plan.source });
        return { lease, listing };
      }
      log.info('subnet was taken by another host at the same moment, retrying', { subnet: formatSubnetKey(plan.subnets), attempt });
    }
  } finally {
    if (leaseId !== undefined) await registry.revokeLeaseId(leaseId);
  }
  throw new FlannelError(
    'LEASE_CONFLICT',
    `max retries reached trying to acquire a subnet: ${MAX_ACQUIRE_ATTEMPTS} attempts each lost a race with another host; try again`,
  );
}

/** Rewrites the lease with a fresh TTL (no-op TTL for a reservation). */
export async function renewLease(ctx: LeaseContext, lease: Lease): Promise<Lease> {
  const ttl = lease.expiresAt === null ? null : ctx.ttlSeconds;
  await ctx.registry.putLease(lease.key, lease.attrs, ttl, (id) => ctx.ownTtlLeases.set(lease.key, id));
  ctx.connectivity.succeeded();
  return leaseFrom(ctx, lease, lease.attrs, ttl);
}
