/**
 * flannel's etcd layout (flannel-compat.md §1): keys, values, transactions and watches, and nothing about policy.
 *
 *   <prefix>/config                    the network config JSON
 *   <prefix>/subnets/10.1.30.0-24      one lease: LeaseAttrs JSON, attached to a 24 h etcd lease
 *
 * Keys are listed with the prefix `<prefix>/subnets/` (with the slash: flannel's range without it also matches
 * unrelated keys such as `<prefix>/subnetsX`). A key or value that does not decode is reported in `skipped`,
 * never thrown, so one bad entry cannot hide the others.
 */
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import {
  decodeLeaseAttrs,
  encodeLeaseAttrs,
  formatSubnetKey,
  parseSubnetKey,
  type Lease,
  type LeaseAttrs,
  type LeaseSubnets,
} from '@flannel-ts/core';
import { DEFAULT_ETCD_PREFIX } from './connection.js';

/** flannel's lease TTL: 24 hours. */
export const LEASE_TTL_SECONDS = 24 * 60 * 60;

export interface SkippedEntry {
  readonly key: string;
  readonly reason: string;
}

export interface LeaseListing {
  readonly leases: Lease[];
  readonly skipped: SkippedEntry[];
  /** Store revision of the listing; a watch resumes at revision + 1. */
  readonly revision: bigint;
}

export type DecodedEntry = { ok: true; lease: Lease } | { ok: false; entry: SkippedEntry };

/** Joins path elements as Go's path.Join does for the prefix: no trailing or doubled slashes. */
export function joinKey(...parts: string[]): string {
  const joined = parts.filter((p) => p !== '').join('/').replace(/\/{2,}/g, '/');
  return joined.length > 1 ? joined.replace(/\/$/, '') : joined;
}

export class EtcdRegistry {
  readonly client: Etcd3;
  readonly prefix: string;
  readonly configKey: string;
  /** `<prefix>/subnets/`, the range every lease key lives in. */
  readonly subnetsPrefix: string;

  constructor(client: Etcd3, prefix: string = DEFAULT_ETCD_PREFIX) {
    this.client = client;
    this.prefix = joinKey(prefix);
    this.configKey = joinKey(this.prefix, 'config');
    this.subnetsPrefix = `${joinKey(this.prefix, 'subnets')}/`;
  }

  leaseKey(subnets: LeaseSubnets | string): string {
    return this.subnetsPrefix + (typeof subnets === 'string' ? subnets : formatSubnetKey(subnets));
  }

  async getConfigText(): Promise<string | undefined> {
    return (await this.client.get(this.configKey).string()) ?? undefined;
  }

  async putConfigText(text: string): Promise<void> {
    await this.client.put(this.configKey).value(text).exec();
  }

  /** Lists every lease. With `withExpiry`, looks up each etcd lease's TTL (one call per distinct etcd lease). */
  async listLeases(options: { withExpiry?: boolean; now?: () => number } = {}): Promise<LeaseListing> {
    const response = await this.client.getAll().prefix(this.subnetsPrefix).exec();
    const ttls = options.withExpiry ? await this.#timeToLive(response.kvs.map((kv) => kv.lease)) : undefined;
    const now = options.now ?? Date.now;
    const leases: Lease[] = [];
    const skipped: SkippedEntry[] = [];
    for (const kv of response.kvs) {
      const entry = this.decodeEntry(kv, ttls, now);
      if (entry.ok) leases.push(entry.lease);
      else skipped.push(entry.entry);
    }
    return { leases, skipped, revision: BigInt(response.header.revision) };
  }

  async getLease(subnets: LeaseSubnets | string, now: () => number = Date.now): Promise<DecodedEntry | undefined> {
    const response = await this.client.get(this.leaseKey(subnets)).exec();
    const kv = response.kvs[0];
    if (!kv) return undefined;
    return this.decodeEntry(kv, await this.#timeToLive([kv.lease]), now);
  }

  decodeEntry(kv: IKeyValue, ttls: Map<string, number> | undefined, now: () => number): DecodedEntry {
    const fullKey = kv.key.toString();
    const subnetKey = fullKey.slice(this.subnetsPrefix.length);
    const subnets = parseSubnetKey(subnetKey);
    if (!subnets.ok) return { ok: false, entry: { key: fullKey, reason: subnets.reason } };
    const attrs = decodeLeaseAttrs(kv.value.toString());
    if (!attrs.ok) return { ok: false, entry: { key: fullKey, reason: attrs.reason } };
    let expiresAt: number | null | undefined;
    if (kv.lease === '0') expiresAt = null;
    else {
      const ttl = ttls?.get(kv.lease);
      expiresAt = ttl === undefined ? undefined : now() + ttl * 1000;
    }
    return { ok: true, lease: { key: subnetKey, ...subnets.value, attrs: attrs.value, expiresAt, createRevision: BigInt(kv.create_revision) } };
  }

  /**
   * Creates the lease key only if it does not exist (one transaction), attached to `leaseId` (see grantLease), or to
   * none when it is null (a reservation). Returns false when someone else holds the key; the etcd lease is left
   * for the caller to reuse or revoke.
   */
  async createLease(subnets: LeaseSubnets, attrs: LeaseAttrs, leaseId: string | null): Promise<boolean> {
    const key = this.leaseKey(subnets);
    const put = this.client.put(key).value(encodeLeaseAttrs(attrs));
    if (leaseId !== null) put.lease(leaseId);
    const result = await this.client.if(key, 'Create', '==', 0).then(put).commit();
    return result.succeeded;
  }

  /** Grants an etcd lease of `ttlSeconds`; returns its ID. */
  grantLease(ttlSeconds: number): Promise<string> {
    return this.#grant(ttlSeconds);
  }

  /** Revokes an etcd lease (best effort: an unrevoked lease only lingers until its TTL ends). */
  revokeLeaseId(leaseId: string): Promise<void> {
    return this.#revoke(leaseId);
  }

  /**
   * Writes the lease unconditionally with a fresh etcd lease (or none for a reservation), then revokes the etcd
   * lease the key had before, which flannel leaves to expire unused (fixes flannel quirk 5).
   */
  async putLease(subnets: LeaseSubnets | string, attrs: LeaseAttrs, ttlSeconds: number | null, onGranted?: (leaseId: string) => void): Promise<void> {
    const key = this.leaseKey(subnets);
    const previous = (await this.client.get(key).exec()).kvs[0]?.lease;
    const leaseId = ttlSeconds === null ? undefined : await this.#grant(ttlSeconds);
    if (leaseId !== undefined) onGranted?.(leaseId);
    const put = this.client.put(key).value(encodeLeaseAttrs(attrs));
    if (leaseId !== undefined) put.lease(leaseId);
    try {
      await put.exec();
    } catch (err) {
      if (leaseId !== undefined) await this.#revoke(leaseId);
      throw err;
    }
    if (previous && previous !== '0' && previous !== leaseId) await this.#revoke(previous);
  }

  /** Deletes a lease key; returns whether it existed. */
  async deleteLease(subnets: LeaseSubnets | string): Promise<boolean> {
    const result = await this.client.delete().key(this.leaseKey(subnets)).exec();
    return Number(result.deleted) > 0;
  }

  /** Starts a watch of every lease key from `fromRevision`. */
  watchLeases(fromRevision: bigint): Promise<Watcher> {
    return this.client.watch().prefix(this.subnetsPrefix).startRevision(fromRevision.toString()).create();
  }

  /** Starts a watch of one lease key from `fromRevision`. */
  watchLease(subnets: LeaseSubnets | string, fromRevision: bigint): Promise<Watcher> {
    return this.client.watch().key(this.leaseKey(subnets)).startRevision(fromRevision.toString()).create();
  }

  /** True when reads at `revision` fail because it was compacted. */
  async isRevisionCompacted(revision: bigint): Promise<boolean> {
    try {
      await this.client.get(this.configKey).revision(revision.toString()).exec();
      return false;
    } catch (err) {
      if (/compacted/i.test((err as Error).message)) return true;
      throw err;
    }
  }

  async #grant(ttlSeconds: number): Promise<string> {
    const response = await this.client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 });
    return response.ID;
  }

  async #revoke(leaseId: string): Promise<void> {
    // Best effort: an unrevoked etcd lease only lingers until its TTL ends.
    await this.client.leaseClient.leaseRevoke({ ID: leaseId }).catch(() => undefined);
  }

  async #timeToLive(leaseIds: readonly string[]): Promise<Map<string, number>> {
    const distinct = [...new Set(leaseIds.filter((id) => id !== '0'))];
    const ttls = new Map<string, number>();
    const batchSize = 64;
    for (let i = 0; i < distinct.length; i += batchSize) {
      await Promise.all(
        distinct.slice(i, i + batchSize).map(async (id) => {
          const response = await this.client.leaseClient.leaseTimeToLive({ ID: id, keys: false });
          const ttl = Number(response.TTL);
          if (ttl >= 0) ttls.set(id, ttl);
        }),
      );
    }
    return ttls;
  }
}
