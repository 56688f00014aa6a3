/**
 * The registry contract in memory: revisions, create revisions, TTL leases on an injectable clock, watch history
 * and compaction, as etcd keeps them. For unit tests of the lease policy and for library users who want flannel's
 * policy without a store; test/registry.contract.test.ts holds it to the same cases as EtcdRegistry.
 *
 * TTL leases expire when the registry is next used after the clock passed their end (or on `expireLeases()`):
 * with an injected clock, time moves only when the test moves it.
 */
import { encodeLeaseAttrs, type LeaseAttrs, type LeaseSubnets } from '@flannel-ts/core';
import { NO_TTL_LEASE, RegistryBase, WatchStream, type EntryListing, type RegistryChange, type RegistryWatch, type StoredEntry, type TtlLeaseTiming, type WatchOptions, type WatchRange } from './registry.js';

export interface MemoryRegistryOptions {
  readonly prefix?: string | undefined;
  /** Milliseconds since the epoch; TTL leases end by this clock. */
  readonly now?: (() => number) | undefined;
}

interface TtlLease {
  readonly grantedTtlSeconds: number;
  readonly expiresAt: number;
  readonly keys: Set<string>;
}

interface Watcher {
  readonly range: WatchRange;
  readonly withPrevious: boolean;
  readonly stream: WatchStream;
}

/** The error a call fails with while the registry is made unreachable (isRetryable treats it as etcd's). */
function unavailable(): Error {
  return new Error('14 UNAVAILABLE: the memory registry is set unreachable');
}

export class MemoryRegistry extends RegistryBase {
  readonly #now: () => number;
  readonly #entries = new Map<string, StoredEntry>();
  readonly #ttlLeases = new Map<string, TtlLease>();
  /** Every revision's changes, oldest first, back to the compaction point. */
  readonly #history: Array<{ revision: bigint; events: RegistryChange[] }> = [];
  readonly #watchers = new Set<Watcher>();
  #revision = 1n;
  #compactedRevision = 0n;
  #nextLeaseId = 0x7000n;
  #reachable = true;

  constructor(options: MemoryRegistryOptions = {}) {
    super(options.prefix);
    this.#now = options.now ?? Date.now;
  }

  /** The current store revision. */
  get revision(): bigint {
    return this.#revision;
  }

  /** Makes every call fail as an unreachable etcd does; open watches see `disconnected`, then `connected` again. */
  setReachable(reachable: boolean): void {
    if (reachable === this.#reachable) return;
    this.#reachable = reachable;
    for (const watcher of this.#watchers) watcher.stream.push(reachable ? { type: 'connected' } : { type: 'disconnected', error: unavailable() });
  }

  /** Drops the history before `revision`: watches and reads from earlier revisions fail as compacted. */
  compact(revision: bigint = this.#revision): void {
    this.#compactedRevision = revision;
    while (this.#history.length > 0 && this.#history[0]!.revision < revision) this.#history.shift();
  }

  /** Deletes the keys of every TTL lease whose end the clock has passed. */
  expireLeases(): void {
    const now = this.#now();
    for (const [id, lease] of this.#ttlLeases) if (lease.expiresAt <= now) this.#revoke(id);
  }

  /** Writes any key, as an operator or another tool might (values are not checked: the store holds anything). */
  async putRaw(key: string, value: string, ttlLeaseId: string = NO_TTL_LEASE): Promise<void> {
    this.#enter();
    this.#commit([this.#put(key, value, ttlLeaseId)]);
  }

  async getConfigText(): Promise<string | undefined> {
    this.#enter();
    return this.#entries.get(this.configKey)?.value;
  }

  async putConfigText(text: string): Promise<void> {
    await this.putRaw(this.configKey, text);
  }

  async listEntries(): Promise<EntryListing> {
    this.#enter();
    const entries = [...this.#entries.values()].filter((e) => e.key.startsWith(this.subnetsPrefix)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { entries, revision: this.#revision };
  }

  async getEntry(subnets: LeaseSubnets | string): Promise<{ entry: StoredEntry | undefined; revision: bigint }> {
    this.#enter();
    return { entry: this.#entries.get(this.leaseKey(subnets)), revision: this.#revision };
  }

  async createLease(subnets: LeaseSubnets, attrs: LeaseAttrs, leaseId: string | null): Promise<boolean> {
    this.#enter();
    const key = this.leaseKey(subnets);
    if (this.#entries.has(key)) return false;
    this.#requireLease(leaseId);
    this.#commit([this.#put(key, encodeLeaseAttrs(attrs), leaseId ?? NO_TTL_LEASE)]);
    return true;
  }

  async grantLease(ttlSeconds: number): Promise<string> {
    this.#enter();
    const id = (this.#nextLeaseId++).toString();
    this.#ttlLeases.set(id, { grantedTtlSeconds: ttlSeconds, expiresAt: this.#now() + ttlSeconds * 1000, keys: new Set() });
    return id;
  }

  async revokeLeaseId(leaseId: string): Promise<void> {
    // Best effort, as on etcd: an unreachable store leaves the lease to its TTL.
    if (!this.#reachable) return;
    this.expireLeases();
    this.#revoke(leaseId);
  }

  async putLease(subnets: LeaseSubnets | string, attrs: LeaseAttrs, ttlSeconds: number | null, onGranted?: (leaseId: string) => void): Promise<void> {
    this.#enter();
    const key = this.leaseKey(subnets);
    const previous = this.#entries.get(key)?.ttlLeaseId;
    const leaseId = ttlSeconds === null ? undefined : await this.grantLease(ttlSeconds);
    if (leaseId !== undefined) onGranted?.(leaseId);
    this.#commit([this.#put(key, encodeLeaseAttrs(attrs), leaseId ?? NO_TTL_LEASE)]);
    if (previous && previous !== NO_TTL_LEASE && previous !== leaseId) await this.revokeLeaseId(previous);
  }

  async deleteLease(subnets: LeaseSubnets | string): Promise<boolean> {
    this.#enter();
    const change = this.#delete(this.leaseKey(subnets));
    if (!change) return false;
    this.#commit([change]);
    return true;
  }

  async timeToLive(leaseId: string): Promise<TtlLeaseTiming | undefined> {
    this.#enter();
    const lease = this.#ttlLeases.get(leaseId);
    if (!lease) return undefined;
    return { ttlSeconds: Math.max(0, Math.ceil((lease.expiresAt - this.#now()) / 1000)), grantedTtlSeconds: lease.grantedTtlSeconds };
  }

  async watch(range: WatchRange, fromRevision: bigint, options: WatchOptions = {}): Promise<RegistryWatch> {
    this.#enter();
    const watcher: Watcher = { range, withPrevious: options.withPrevious ?? false, stream: new WatchStream(async () => void this.#watchers.delete(watcher)) };
    if (fromRevision < this.#compactedRevision) {
      watcher.stream.push({ type: 'compacted' });
      return watcher.stream;
    }
    for (const { revision, events } of this.#history) if (revision >= fromRevision) this.#deliver(watcher, revision, events);
    this.#watchers.add(watcher);
    return watcher.stream;
  }

  async isRevisionCompacted(revision: bigint): Promise<boolean> {
    this.#enter();
    return revision < this.#compactedRevision;
  }

  /** Every call starts here: an unreachable store fails, and leases that ended are gone. */
  #enter(): void {
    if (!this.#reachable) throw unavailable();
    this.expireLeases();
  }

  #requireLease(leaseId: string | null | undefined): void {
    if (leaseId && leaseId !== NO_TTL_LEASE && !this.#ttlLeases.has(leaseId)) throw new Error('etcdserver: requested lease not found');
  }

  /** Stages a put at the next revision (committed by #commit). */
  #put(key: string, value: string, ttlLeaseId: string): RegistryChange {
    this.#requireLease(ttlLeaseId);
    const revision = this.#revision + 1n;
    const previous = this.#entries.get(key);
    if (previous && previous.ttlLeaseId !== NO_TTL_LEASE) this.#ttlLeases.get(previous.ttlLeaseId)?.keys.delete(key);
    const entry: StoredEntry = { key, value, ttlLeaseId, createRevision: previous?.createRevision ?? revision, modRevision: revision };
    this.#entries.set(key, entry);
    if (ttlLeaseId !== NO_TTL_LEASE) this.#ttlLeases.get(ttlLeaseId)!.keys.add(key);
    return { type: 'put', entry, previous };
  }

  #delete(key: string): RegistryChange | undefined {
    const previous = this.#entries.get(key);
    if (!previous) return undefined;
    this.#entries.delete(key);
    if (previous.ttlLeaseId !== NO_TTL_LEASE) this.#ttlLeases.get(previous.ttlLeaseId)?.keys.delete(key);
    return { type: 'delete', key, revision: this.#revision + 1n, previous };
  }

  /** One revision per revoke, for all the lease's keys, as etcd does. */
  #revoke(leaseId: string): void {
    const lease = this.#ttlLeases.get(leaseId);
    if (!lease) return;
    this.#ttlLeases.delete(leaseId);
    const changes = [...lease.keys].map((key) => this.#delete(key)).filter((c): c is RegistryChange => c !== undefined);
    if (changes.length > 0) this.#commit(changes);
  }

  #commit(events: RegistryChange[]): void {
    this.#revision += 1n;
    this.#history.push({ revision: this.#revision, events });
    for (const watcher of this.#watchers) this.#deliver(watcher, this.#revision, events);
  }

  #deliver(watcher: Watcher, revision: bigint, events: readonly RegistryChange[]): void {
    if (watcher.stream.ended) {
      this.#watchers.delete(watcher);
      return;
    }
    const inRange = (key: string) => ('key' in watcher.range ? key === watcher.range.key : key.startsWith(watcher.range.prefix));
    const matching = events
      .filter((e) => inRange(e.type === 'put' ? e.entry.key : e.key))
      .map((e) => (watcher.withPrevious ? e : e.type === 'put' ? { type: 'put' as const, entry: e.entry } : { type: 'delete' as const, key: e.key, revision: e.revision }));
    if (matching.length > 0) watcher.stream.push({ type: 'changes', revision, events: matching });
  }
}
