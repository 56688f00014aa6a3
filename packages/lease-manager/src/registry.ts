/**
 * flannel's store layout (flannel-compat.md §1) behind one interface: keys, values, create-if-absent, TTL leases
 * and watches, and nothing about policy. `EtcdRegistry` is the real store; `MemoryRegistry` honours the same
 * contract in memory (test/registry.contract.test.ts runs the same cases against both).
 *
 *   <prefix>/config                    the network config JSON
 *   <prefix>/subnets/10.1.30.0-24      one lease: LeaseAttrs JSON, attached to a 24 h TTL lease
 *
 * Keys are listed with the prefix `<prefix>/subnets/` (with the slash: flannel's range without it also matches
 * unrelated keys such as `<prefix>/subnetsX`). A key or value that does not decode is reported in `skipped`,
 * never thrown, so one bad entry cannot hide the others.
 */
import {
  decodeLeaseAttrs,
  formatSubnetKey,
  parseSubnetKey,
  type Lease,
  type LeaseAttrs,
  type LeaseSubnets,
} from '@flannel-ts/core';
import { DEFAULT_ETCD_PREFIX } from '@flannel-ts/core';

/** flannel's lease TTL: 24 hours. */
export const LEASE_TTL_SECONDS = 24 * 60 * 60;

/** The TTL lease ID of a key that has none (a reservation, or the config). */
export const NO_TTL_LEASE = '0';

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

/** One key as stored, undecoded (everything in it is untrusted). */
export interface StoredEntry {
  /** The full key, e.g. `/coreos.com/network/subnets/10.1.30.0-24`. */
  readonly key: string;
  readonly value: string;
  /** The TTL lease the key is attached to; NO_TTL_LEASE for none. */
  readonly ttlLeaseId: string;
  readonly createRevision: bigint;
  readonly modRevision: bigint;
}

export interface EntryListing {
  readonly entries: StoredEntry[];
  readonly revision: bigint;
}

export type RegistryChange =
  | { readonly type: 'put'; readonly entry: StoredEntry; readonly previous?: StoredEntry | undefined }
  | { readonly type: 'delete'; readonly key: string; readonly revision: bigint; readonly previous?: StoredEntry | undefined };

/**
 * What a watch delivers. `changes` come in store order; `compacted` (the start revision no longer exists) and
 * `failed` end the stream; `disconnected` / `connected` only report the connection (the store resumes by itself).
 */
export type WatchMessage =
  | { readonly type: 'changes'; readonly revision: bigint; readonly events: readonly RegistryChange[] }
  | { readonly type: 'disconnected'; readonly error: unknown }
  | { readonly type: 'connected' }
  | { readonly type: 'compacted' }
  | { readonly type: 'failed'; readonly error: unknown };

export interface RegistryWatch extends AsyncIterable<WatchMessage> {
  /** Stops the watch; the iteration ends. */
  close(): Promise<void>;
}

/**
 * The RegistryWatch both registries return: change batches in store order, connection changes, and one final
 * message when the watch ends on its own (compaction or failure). A consumer reads it with `for await` and closes
 * it to stop; messages are buffered until read, so none is lost while the consumer works.
 */
export class WatchStream implements RegistryWatch {
  readonly #buffer: WatchMessage[] = [];
  #waiter: ((result: IteratorResult<WatchMessage>) => void) | undefined;
  #ended = false;
  readonly #onClose: () => Promise<void>;
  #closing: Promise<void> | undefined;

  constructor(onClose: () => Promise<void> = async () => undefined) {
    this.#onClose = onClose;
  }

  /** True once the stream ended (a final message, or close()). */
  get ended(): boolean {
    return this.#ended;
  }

  push(message: WatchMessage): void {
    if (this.#ended) return;
    if (message.type === 'compacted' || message.type === 'failed') this.#ended = true;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter({ value: message, done: false });
    } else this.#buffer.push(message);
  }

  /** Idempotent: a second call waits for the first. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const wasEnded = this.#ended;
    this.#ended = true;
    this.#buffer.length = 0;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.({ value: undefined, done: true });
    // A watch that ended by itself is already gone at the source: cancelling it again could wait forever.
    if (!wasEnded) await this.#onClose();
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchMessage> {
    return {
      next: () => {
        const message = this.#buffer.shift();
        if (message) return Promise.resolve({ value: message, done: false });
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (this.#waiter = resolve));
      },
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }
}

export type WatchRange = { readonly key: string } | { readonly prefix: string };

export interface WatchOptions {
  /** Include each change's previous state (`previous`), where the store still has it. */
  readonly withPrevious?: boolean;
}

export interface TtlLeaseTiming {
  /** Seconds left. */
  readonly ttlSeconds: number;
  /** Seconds the lease was granted for. */
  readonly grantedTtlSeconds: number;
}

/** The store flannel's policy runs on. Keys are full keys; `leaseKey` builds them. */
export interface Registry {
  readonly prefix: string;
  readonly configKey: string;
  /** `<prefix>/subnets/`, the range every lease key lives in. */
  readonly subnetsPrefix: string;
  leaseKey(subnets: LeaseSubnets | string): string;

  getConfigText(): Promise<string | undefined>;
  putConfigText(text: string): Promise<void>;

  /** Every key under subnetsPrefix, undecoded, with the revision of the read. */
  listEntries(): Promise<EntryListing>;
  /** One lease key, undecoded, with the revision of the read. */
  getEntry(subnets: LeaseSubnets | string): Promise<{ entry: StoredEntry | undefined; revision: bigint }>;
  /** Lists and decodes every lease. With `withExpiry`, looks up each TTL lease (one call per distinct lease). */
  listLeases(options?: { withExpiry?: boolean; now?: () => number }): Promise<LeaseListing>;
  getLease(subnets: LeaseSubnets | string, now?: () => number): Promise<DecodedEntry | undefined>;
  decodeEntry(entry: StoredEntry, ttls: Map<string, number> | undefined, now: () => number): DecodedEntry;

  /**
   * Creates the lease key only if it does not exist (atomically), attached to `leaseId` (see grantLease), or to
   * none when it is null (a reservation). Returns false when someone else holds the key; the TTL lease is left
   * for the caller to reuse or revoke.
   */
  createLease(subnets: LeaseSubnets, attrs: LeaseAttrs, leaseId: string | null): Promise<boolean>;
  /** Grants a TTL lease of `ttlSeconds`; returns its ID. */
  grantLease(ttlSeconds: number): Promise<string>;
  /** Revokes a TTL lease and deletes its keys (best effort: an unrevoked lease only lingers until its TTL ends). */
  revokeLeaseId(leaseId: string): Promise<void>;
  /**
   * Writes the lease unconditionally with a fresh TTL lease (or none for a reservation), then revokes the TTL
   * lease the key had before, which flannel leaves to expire unused (fixes flannel quirk 5).
   */
  putLease(subnets: LeaseSubnets | string, attrs: LeaseAttrs, ttlSeconds: number | null, onGranted?: (leaseId: string) => void): Promise<void>;
  /** Deletes a lease key; returns whether it existed. */
  deleteLease(subnets: LeaseSubnets | string): Promise<boolean>;
  /** A TTL lease's timing; undefined when it ended (or never existed). */
  timeToLive(leaseId: string): Promise<TtlLeaseTiming | undefined>;

  /** Watches a key or a prefix from `fromRevision` on. */
  watch(range: WatchRange, fromRevision: bigint, options?: WatchOptions): Promise<RegistryWatch>;
  watchLeases(fromRevision: bigint): Promise<RegistryWatch>;
  watchLease(subnets: LeaseSubnets | string, fromRevision: bigint): Promise<RegistryWatch>;
  /** True when reads at `revision` fail because it was compacted. */
  isRevisionCompacted(revision: bigint): Promise<boolean>;
}

/** Joins path elements as Go's path.Join does for the prefix: no trailing or doubled slashes. */
export function joinKey(...parts: string[]): string {
  const joined = parts.filter((p) => p !== '').join('/').replace(/\/{2,}/g, '/');
  return joined.length > 1 ? joined.replace(/\/$/, '') : joined;
}

/** The layout and decoding every registry shares, on top of the store's own calls. */
export abstract class RegistryBase implements Registry {
  readonly prefix: string;
  readonly configKey: string;
  readonly subnetsPrefix: string;

  constructor(prefix: string = DEFAULT_ETCD_PREFIX) {
    this.prefix = joinKey(prefix);
    this.configKey = joinKey(this.prefix, 'config');
    this.subnetsPrefix = `${joinKey(this.prefix, 'subnets')}/`;
  }

  leaseKey(subnets: LeaseSubnets | string): string {
    return this.subnetsPrefix + (typeof subnets === 'string' ? subnets : formatSubnetKey(subnets));
  }

  abstract getConfigText(): Promise<string | undefined>;
  abstract putConfigText(text: string): Promise<void>;
  abstract listEntries(): Promise<EntryListing>;
  abstract getEntry(subnets: LeaseSubnets | string): Promise<{ entry: StoredEntry | undefined; revision: bigint }>;
  abstract createLease(subnets: LeaseSubnets, attrs: LeaseAttrs, leaseId: string | null): Promise<boolean>;
  abstract grantLease(ttlSeconds: number): Promise<string>;
  abstract revokeLeaseId(leaseId: string): Promise<void>;
  abstract putLease(subnets: LeaseSubnets | string, attrs: LeaseAttrs, ttlSeconds: number | null, onGranted?: (leaseId: string) => void): Promise<void>;
  abstract deleteLease(subnets: LeaseSubnets | string): Promise<boolean>;
  abstract timeToLive(leaseId: string): Promise<TtlLeaseTiming | undefined>;
  abstract watch(range: WatchRange, fromRevision: bigint, options?: WatchOptions): Promise<RegistryWatch>;
  abstract isRevisionCompacted(revision: bigint): Promise<boolean>;

  async listLeases(options: { withExpiry?: boolean; now?: () => number } = {}): Promise<LeaseListing> {
    const listing = await this.listEntries();
    const ttls = options.withExpiry ? await this.#remaining(listing.entries.map((e) => e.ttlLeaseId)) : undefined;
    const now = options.now ?? Date.now;
    const leases: Lease[] = [];
    const skipped: SkippedEntry[] = [];
    for (const stored of listing.entries) {
      const entry = this.decodeEntry(stored, ttls, now);
      if (entry.ok) leases.push(entry.lease);
      else skipped.push(entry.entry);
    }
    return { leases, skipped, revision: listing.revision };
  }

  async getLease(subnets: LeaseSubnets | string, now: () => number = Date.now): Promise<DecodedEntry | undefined> {
    const { entry } = await this.getEntry(subnets);
    if (!entry) return undefined;
    return this.decodeEntry(entry, await this.#remaining([entry.ttlLeaseId]), now);
  }

  decodeEntry(stored: StoredEntry, ttls: Map<string, number> | undefined, now: () => number): DecodedEntry {
    const subnetKey = stored.key.slice(this.subnetsPrefix.length);
    const subnets = parseSubnetKey(subnetKey);
    if (!subnets.ok) return { ok: false, entry: { key: stored.key, reason: subnets.reason } };
    const attrs = decodeLeaseAttrs(stored.value);
    if (!attrs.ok) return { ok: false, entry: { key: stored.key, reason: attrs.reason } };
    let expiresAt: number | null | undefined;
    if (stored.ttlLeaseId === NO_TTL_LEASE) expiresAt = null;
    else {
      const ttl = ttls?.get(stored.ttlLeaseId);
      expiresAt = ttl === undefined ? undefined : now() + ttl * 1000;
    }
    return { ok: true, lease: { key: subnetKey, ...subnets.value, attrs: attrs.value, expiresAt, createRevision: stored.createRevision } };
  }

  watchLeases(fromRevision: bigint): Promise<RegistryWatch> {
    return this.watch({ prefix: this.subnetsPrefix }, fromRevision);
  }

  watchLease(subnets: LeaseSubnets | string, fromRevision: bigint): Promise<RegistryWatch> {
    return this.watch({ key: this.leaseKey(subnets) }, fromRevision);
  }

  /** Seconds left per distinct TTL lease, 64 lookups at a time. */
  async #remaining(leaseIds: readonly string[]): Promise<Map<string, number>> {
    const distinct = [...new Set(leaseIds.filter((id) => id !== NO_TTL_LEASE))];
    const ttls = new Map<string, number>();
    const batchSize = 64;
    for (let i = 0; i < distinct.length; i += batchSize) {
      await Promise.all(
        distinct.slice(i, i + batchSize).map(async (id) => {
          const timing = await this.timeToLive(id);
          if (timing) ttls.set(id, timing.ttlSeconds);
        }),
      );
    }
    return ttls;
  }
}
