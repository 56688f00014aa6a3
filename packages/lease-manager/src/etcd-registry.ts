/** The registry on etcd v3: flannel's keys and values exactly, with the etcd3 client kept inside. */
import type { Etcd3, IKeyValue, IWatchResponse } from 'etcd3';
import { encodeLeaseAttrs, type LeaseAttrs, type LeaseSubnets } from '@flannel-ts/core';
import { RegistryBase, WatchStream, type EntryListing, type RegistryChange, type RegistryWatch, type StoredEntry, type TtlLeaseTiming, type WatchOptions, type WatchRange } from './registry.js';

function stored(kv: IKeyValue): StoredEntry {
  return { key: kv.key.toString(), value: kv.value.toString(), ttlLeaseId: kv.lease, createRevision: BigInt(kv.create_revision), modRevision: BigInt(kv.mod_revision) };
}

function isCompacted(err: unknown): boolean {
  return /compacted/i.test(String((err as Error | undefined)?.message ?? err));
}

export class EtcdRegistry extends RegistryBase {
  readonly #client: Etcd3;

  constructor(client: Etcd3, prefix?: string) {
    super(prefix);
    this.#client = client;
  }

  async getConfigText(): Promise<string | undefined> {
    return (await this.#client.get(this.configKey).string()) ?? undefined;
  }

  async putConfigText(text: string): Promise<void> {
    await this.#client.put(this.configKey).value(text).exec();
  }

  async listEntries(): Promise<EntryListing> {
    const response = await this.#client.getAll().prefix(this.subnetsPrefix).exec();
    return { entries: response.kvs.map(stored), revision: BigInt(response.header.revision) };
  }

  async getEntry(subnets: LeaseSubnets | string): Promise<{ entry: StoredEntry | undefined; revision: bigint }> {
    const response = await this.#client.get(this.leaseKey(subnets)).exec();
    const kv = response.kvs[0];
    return { entry: kv ? stored(kv) : undefined, revision: BigInt(response.header.revision) };
  }

  async createLease(subnets: LeaseSubnets, attrs: LeaseAttrs, leaseId: string | null): Promise<boolean> {
    const key = this.leaseKey(subnets);
    const put = this.#client.put(key).value(encodeLeaseAttrs(attrs));
    if (leaseId !== null) put.lease(leaseId);
    const result = await this.#client.if(key, 'Create', '==', 0).then(put).commit();
    return result.succeeded;
  }

  async grantLease(ttlSeconds: number): Promise<string> {
    const response = await this.#client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 });
    return response.ID;
  }

  async revokeLeaseId(leaseId: string): Promise<void> {
    // Best effort: an unrevoked etcd lease only lingers until its TTL ends.
    await this.#client.leaseClient.leaseRevoke({ ID: leaseId }).catch(() => undefined);
  }

  async putLease(subnets: LeaseSubnets | string, attrs: LeaseAttrs, ttlSeconds: number | null, onGranted?: (leaseId: string) => void): Promise<void> {
    const key = this.leaseKey(subnets);
    const previous = (await this.#client.get(key).exec()).kvs[0]?.lease;
    const leaseId = ttlSeconds === null ? undefined : await this.grantLease(ttlSeconds);
    if (leaseId !== undefined) onGranted?.(leaseId);
    const put = this.#client.put(key).value(encodeLeaseAttrs(attrs));
    if (leaseId !== undefined) put.lease(leaseId);
    try {
      await put.exec();
    } catch (err) {
      if (leaseId !== undefined) await this.revokeLeaseId(leaseId);
      throw err;
    }
    if (previous && previous !== '0' && previous !== leaseId) await this.revokeLeaseId(previous);
  }

  async deleteLease(subnets: LeaseSubnets | string): Promise<boolean> {
    const result = await this.#client.delete().key(this.leaseKey(subnets)).exec();
    return Number(result.deleted) > 0;
  }

  async timeToLive(leaseId: string): Promise<TtlLeaseTiming | undefined> {
    const response = await this.#client.leaseClient.leaseTimeToLive({ ID: leaseId, keys: false });
    const ttlSeconds = Number(response.TTL);
    return ttlSeconds >= 0 ? { ttlSeconds, grantedTtlSeconds: Number(response.grantedTTL) } : undefined;
  }

  async watch(range: WatchRange, fromRevision: bigint, options: WatchOptions = {}): Promise<RegistryWatch> {
    let builder = this.#client.watch();
    builder = 'key' in range ? builder.key(range.key) : builder.prefix(range.prefix);
    if (options.withPrevious) builder = builder.withPreviousKV();
    const watcher = await builder.startRevision(fromRevision.toString()).create();
    // Cancelling can hang on a dead connection: give it a second.
    const stream = new WatchStream(() => Promise.race([watcher.cancel().catch(() => undefined), new Promise<void>((resolve) => setTimeout(resolve, 1000).unref())]));
    // The next revision the watch would deliver: where an unexplained cancel is checked for compaction.
    let since = fromRevision;
    watcher.on('data', (response: IWatchResponse) => {
      since = BigInt(response.header.revision) + 1n;
      const events: RegistryChange[] = response.events.map((event) => {
        const previous = event.prev_kv ? stored(event.prev_kv) : undefined;
        return event.type === 'Put'
          ? { type: 'put', entry: stored(event.kv), previous }
          : { type: 'delete', key: event.kv.key.toString(), revision: BigInt(event.kv.mod_revision), previous };
      });
      stream.push({ type: 'changes', revision: BigInt(response.header.revision), events });
    });
    watcher.on('disconnected', (error: unknown) => stream.push({ type: 'disconnected', error }));
    watcher.on('connected', () => stream.push({ type: 'connected' }));
    watcher.on('error', (error: unknown) => {
      if (isCompacted(error)) return stream.push({ type: 'compacted' });
      // etcd 3.4 cancels a watch on a compacted revision without a reason: a read at that revision tells.
      void this.isRevisionCompacted(since).then(
        (compacted) => stream.push(compacted ? { type: 'compacted' } : { type: 'failed', error }),
        () => stream.push({ type: 'failed', error }),
      );
    });
    return stream;
  }

  async isRevisionCompacted(revision: bigint): Promise<boolean> {
    try {
      await this.#client.get(this.configKey).revision(revision.toString()).exec();
      return false;
    } catch (err) {
      if (isCompacted(err)) return true;
      throw err;
    }
  }
}
