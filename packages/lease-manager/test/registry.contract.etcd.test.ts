/**
 * The Registry contract: the same cases against etcd (a real etcd-server from the testkit harness) and against
 * MemoryRegistry, so the in-memory store the policy's unit tests run on behaves as etcd does where policy looks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdServer } from '@flannel-ts/testkit';
import { IpNet, type LeaseSubnets } from '@flannel-ts/core';
import { connectEtcd, EtcdRegistry, MemoryRegistry, NO_TTL_LEASE, type Registry, type RegistryChange, type RegistryWatch, type WatchMessage } from '../src/index.js';

interface Fixture {
  /** A registry under a prefix of its own, so cases never see each other's keys. */
  registry(): Registry;
  /** Writes a key the way another tool might. */
  putRaw(registry: Registry, key: string, value: string): Promise<void>;
  /** Compacts the store's history up to its current revision. */
  compact(registry: Registry): Promise<void>;
  /** Lets `seconds` pass for TTL leases. */
  passTime(registry: Registry, seconds: number): Promise<void>;
}

const subnets = (cidr: string): LeaseSubnets => ({ subnet: IpNet.parse(cidr)!, ipv6Subnet: undefined });
const attrs = { publicIP: '192.0.2.1' };

/** The next message that is not a connection report, within a bound. */
async function nextChange(watch: RegistryWatch): Promise<WatchMessage> {
  const iterator = watch[Symbol.asyncIterator]();
  for (;;) {
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no watch message within 5 s')), 5000).unref());
    const result = await Promise.race([iterator.next(), timeout]);
    if (result.done) throw new Error('watch ended');
    if (result.value.type !== 'connected' && result.value.type !== 'disconnected') return result.value;
  }
}

/** The next `count` changes, however the store groups them into messages. */
async function nextEvents(watch: RegistryWatch, count: number): Promise<RegistryChange[]> {
  const events: RegistryChange[] = [];
  while (events.length < count) {
    const message = await nextChange(watch);
    if (message.type !== 'changes') throw new Error(`expected changes, got ${message.type}`);
    events.push(...message.events);
  }
  return events;
}

const revisionOf = (change: RegistryChange) => (change.type === 'put' ? change.entry.modRevision : change.revision);

function contract(name: string, setup: () => Promise<Fixture & AsyncDisposable>): void {
  describe(`Registry contract: ${name}`, () => {
    let fixture: Fixture & AsyncDisposable;
    beforeAll(async () => {
      fixture = await setup();
    });
    afterAll(async () => {
      await fixture?.[Symbol.asyncDispose]();
    });

    it('round-trips the config text; a missing config is undefined', async () => {
      const registry = fixture.registry();
      expect(await registry.getConfigText()).toBeUndefined();
      await registry.putConfigText('{"Network":"10.1.0.0/16"}');
      expect(await registry.getConfigText()).toBe('{"Network":"10.1.0.0/16"}');
    });

    it('creates a lease key only when absent, with flannel JSON, its TTL lease and revisions', async () => {
      const registry = fixture.registry();
      const leaseId = await registry.grantLease(60);
      expect(await registry.createLease(subnets('10.1.5.0/24'), attrs, leaseId)).toBe(true);
      expect(await registry.createLease(subnets('10.1.5.0/24'), { publicIP: '192.0.2.2' }, leaseId)).toBe(false);
      const { entry, revision } = await registry.getEntry('10.1.5.0-24');
      expect(entry).toMatchObject({ key: `${registry.subnetsPrefix}10.1.5.0-24`, value: '{"PublicIP":"192.0.2.1","PublicIPv6":null}', ttlLeaseId: leaseId });
      expect(entry!.createRevision).toBe(entry!.modRevision);
      expect(revision).toBeGreaterThanOrEqual(entry!.modRevision);
      const timing = await registry.timeToLive(leaseId);
      expect(timing?.grantedTtlSeconds).toBe(60);
      expect(timing!.ttlSeconds).toBeGreaterThan(55);
      expect(timing!.ttlSeconds).toBeLessThanOrEqual(60);
    });

    it('puts a lease with a fresh TTL lease, revoking the one it replaced; a reservation has none', async () => {
      const registry = fixture.registry();
      const granted: string[] = [];
      await registry.putLease('10.1.6.0-24', attrs, 60, (id) => granted.push(id));
      const first = (await registry.getEntry('10.1.6.0-24')).entry!;
      await registry.putLease('10.1.6.0-24', attrs, 60, (id) => granted.push(id));
      const second = (await registry.getEntry('10.1.6.0-24')).entry!;
      expect(granted).toHaveLength(2);
      expect([first.ttlLeaseId, second.ttlLeaseId]).toEqual(granted);
      expect(await registry.timeToLive(granted[0]!)).toBeUndefined();
      expect(second.createRevision).toBe(first.createRevision);
      expect(second.modRevision).toBeGreaterThan(first.modRevision);
      await registry.putLease('10.1.6.0-24', attrs, null);
      expect((await registry.getEntry('10.1.6.0-24')).entry!.ttlLeaseId).toBe(NO_TTL_LEASE);
      expect(await registry.timeToLive(granted[1]!)).toBeUndefined();
    });

    it('lists leases with expiry, reports malformed entries, and deletes', async () => {
      const registry = fixture.registry();
      await registry.putLease('10.1.7.0-24', attrs, 120);
      await registry.putLease('10.1.8.0-24', { publicIP: '192.0.2.2' }, null);
      await fixture.putRaw(registry, `${registry.subnetsPrefix}banana`, '{"PublicIP":"192.0.2.9"}');
      await fixture.putRaw(registry, `${registry.subnetsPrefix}10.1.9.0-24`, 'not json');
      // Outside the range: `<prefix>/subnetsX` is not a lease key.
      await fixture.putRaw(registry, `${registry.prefix}/subnetsX`, '{}');
      const listing = await registry.listLeases({ withExpiry: true, now: () => 1_000_000 });
      expect(listing.leases.map((l) => [l.key, l.attrs.publicIP]).sort()).toEqual([['10.1.7.0-24', '192.0.2.1'], ['10.1.8.0-24', '192.0.2.2']]);
      const timed = listing.leases.find((l) => l.key === '10.1.7.0-24')!;
      expect(timed.expiresAt).toBeGreaterThan(1_000_000 + 115_000);
      expect(listing.leases.find((l) => l.key === '10.1.8.0-24')!.expiresAt).toBeNull();
      expect(listing.skipped.map((s) => s.key).sort()).toEqual([`${registry.subnetsPrefix}10.1.9.0-24`, `${registry.subnetsPrefix}banana`]);
      expect(await registry.deleteLease('10.1.7.0-24')).toBe(true);
      expect(await registry.deleteLease('10.1.7.0-24')).toBe(false);
      expect(await registry.getLease('10.1.7.0-24')).toBeUndefined();
      expect((await registry.listLeases()).revision).toBeGreaterThan(listing.revision);
    });

    it('watches from the revision after a listing: puts and deletes in order, previous values on request', async () => {
      const registry = fixture.registry();
      await registry.putLease('10.1.10.0-24', attrs, null);
      const listing = await registry.listLeases();
      // Written after the listing, before the watch: replayed from history.
      await registry.putLease('10.1.11.0-24', attrs, null);
      const watch = await registry.watch({ prefix: registry.subnetsPrefix }, listing.revision + 1n, { withPrevious: true });
      const own = await registry.watchLease('10.1.10.0-24', listing.revision + 1n);
      try {
        await registry.deleteLease('10.1.10.0-24');
        const [put, removed] = await nextEvents(watch, 2);
        expect(put).toMatchObject({ type: 'put', entry: { key: `${registry.subnetsPrefix}10.1.11.0-24` } });
        expect(removed).toMatchObject({ type: 'delete', key: `${registry.subnetsPrefix}10.1.10.0-24`, previous: { value: '{"PublicIP":"192.0.2.1","PublicIPv6":null}' } });
        expect(revisionOf(removed!)).toBeGreaterThan(revisionOf(put!));
        // The key watch sees only its key.
        expect(await nextEvents(own, 1)).toMatchObject([{ type: 'delete', key: `${registry.subnetsPrefix}10.1.10.0-24` }]);
      } finally {
        await watch.close();
        await own.close();
      }
    });

    it('reports a compacted start revision, and isRevisionCompacted tells old from current', async () => {
      const registry = fixture.registry();
      const before = (await registry.listLeases()).revision;
      await registry.putLease('10.1.12.0-24', attrs, null);
      await registry.putLease('10.1.13.0-24', attrs, null);
      await fixture.compact(registry);
      const now = (await registry.listLeases()).revision;
      expect(await registry.isRevisionCompacted(before)).toBe(true);
      expect(await registry.isRevisionCompacted(now)).toBe(false);
      const watch = await registry.watchLeases(before);
      try {
        expect(await nextChange(watch)).toEqual({ type: 'compacted' });
      } finally {
        await watch.close();
      }
    });

    it('deletes the keys of a TTL lease when it ends or is revoked, and the watch sees it', async () => {
      const registry = fixture.registry();
      const short = await registry.grantLease(2);
      expect(await registry.createLease(subnets('10.1.14.0/24'), attrs, short)).toBe(true);
      const revoked = await registry.grantLease(60);
      expect(await registry.createLease(subnets('10.1.15.0/24'), attrs, revoked)).toBe(true);
      const from = (await registry.listLeases()).revision + 1n;
      const watch = await registry.watchLeases(from);
      try {
        await registry.revokeLeaseId(revoked);
        expect(await nextEvents(watch, 1)).toMatchObject([{ type: 'delete', key: `${registry.subnetsPrefix}10.1.15.0-24` }]);
        await fixture.passTime(registry, 4);
        expect(await nextEvents(watch, 1)).toMatchObject([{ type: 'delete', key: `${registry.subnetsPrefix}10.1.14.0-24` }]);
        expect(await registry.timeToLive(short)).toBeUndefined();
        expect((await registry.listLeases()).leases).toEqual([]);
      } finally {
        await watch.close();
      }
    });
  });
}

let prefixes = 0;
const nextPrefix = () => `/contract-${process.pid}-${++prefixes}/network`;

contract('etcd', async () => {
  const etcd: EtcdServer = await startEtcd();
  const client: Etcd3 = connectEtcd({ endpoints: [etcd.endpoint], callTimeoutMs: 3000 });
  return {
    registry: () => new EtcdRegistry(client, nextPrefix()),
    putRaw: async (_registry, key, value) => void (await client.put(key).value(value).exec()),
    compact: async () => {
      const head = await client.get('x').exec();
      await client.kv.compact({ revision: head.header.revision, physical: true });
    },
    passTime: async (_registry, seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000)),
    async [Symbol.asyncDispose]() {
      client.close();
      await etcd[Symbol.asyncDispose]();
    },
  };
});

contract('memory', async () => {
  let clock = 1_700_000_000_000;
  return {
    registry: () => new MemoryRegistry({ prefix: nextPrefix(), now: () => clock }),
    putRaw: (registry, key, value) => (registry as MemoryRegistry).putRaw(key, value),
    compact: async (registry) => (registry as MemoryRegistry).compact(),
    passTime: async (registry, seconds) => {
      clock += seconds * 1000;
      (registry as MemoryRegistry).expireLeases();
    },
    async [Symbol.asyncDispose]() {},
  };
});
