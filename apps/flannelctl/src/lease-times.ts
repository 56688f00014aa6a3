/**
 * Every lease with its etcd lease timing. etcd keeps no write time for a key (only its ModRevision), so "last
 * renewed" is derived from the etcd lease behind the key: flanneld grants a fresh etcd lease on every renewal, so
 * `grantedTTL - TTL remaining` is how long ago the current one was granted, i.e. the last renewal (or acquisition).
 */
import type { Lease } from '@flannel-ts/core';
import type { Registry, SkippedEntry } from '@flannel-ts/lease-manager';

export interface TimedLease {
  readonly lease: Lease;
  /** The etcd lease ID the key is attached to ('0' for a reservation). */
  readonly etcdLeaseId: string;
  /** Seconds the etcd lease was granted for; undefined for a reservation or an etcd lease that ended meanwhile. */
  readonly grantedTtlSeconds: number | undefined;
  /** Seconds left; undefined as above. */
  readonly ttlSeconds: number | undefined;
}

export interface TimedListing {
  readonly leases: TimedLease[];
  readonly skipped: SkippedEntry[];
  readonly revision: bigint;
}

/** How long ago the etcd lease behind the key was granted (ms), when known. */
export function renewedAgoMs(timed: TimedLease): number | undefined {
  if (timed.grantedTtlSeconds === undefined || timed.ttlSeconds === undefined) return undefined;
  return Math.max(0, timed.grantedTtlSeconds - timed.ttlSeconds) * 1000;
}

/** Lists every lease under `<prefix>/subnets/` with its etcd lease's granted and remaining TTL. */
export async function listTimedLeases(registry: Registry, now: () => number): Promise<TimedListing> {
  const listing = await registry.listEntries();
  const ids = [...new Set(listing.entries.map((e) => e.ttlLeaseId).filter((id) => id !== '0'))];
  const ttls = new Map<string, { ttl: number; granted: number }>();
  for (let i = 0; i < ids.length; i += 64) {
    await Promise.all(
      ids.slice(i, i + 64).map(async (id) => {
        const timing = await registry.timeToLive(id);
        if (timing) ttls.set(id, { ttl: timing.ttlSeconds, granted: timing.grantedTtlSeconds });
      }),
    );
  }
  const leases: TimedLease[] = [];
  const skipped: SkippedEntry[] = [];
  const remaining = new Map([...ttls].map(([id, t]) => [id, t.ttl]));
  for (const stored of listing.entries) {
    const entry = registry.decodeEntry(stored, remaining, now);
    if (!entry.ok) {
      skipped.push(entry.entry);
      continue;
    }
    const timing = ttls.get(stored.ttlLeaseId);
    leases.push({ lease: entry.lease, etcdLeaseId: stored.ttlLeaseId, grantedTtlSeconds: timing?.granted, ttlSeconds: timing?.ttl });
  }
  return { leases: leases.sort((a, b) => compareLeases(a.lease, b.lease)), skipped, revision: listing.revision };
}

/** By IPv4 subnet, then IPv6 subnet (numerically). */
export function compareLeases(a: Lease, b: Lease): number {
  const order = (x: Lease['subnet'], y: Lease['subnet']) => {
    if (!x || !y) return x ? -1 : y ? 1 : 0;
    return x.address < y.address ? -1 : x.address > y.address ? 1 : x.prefixLength - y.prefixLength;
  };
  return order(a.subnet, b.subnet) || order(a.ipv6Subnet, b.ipv6Subnet);
}
