/** Lease policy (acquire, keep, watch peers) against MemoryRegistry: fast, no etcd. */
import { describe, expect, it } from 'vitest';
import { IpNet, isFlannelError } from '@flannel-ts/core';
import { createRecordingLogger, waitFor } from '@flannel-ts/testkit';
import { LeaseManager, MemoryRegistry, NO_TTL_LEASE, type LeaseManagerOptions } from '../src/index.js';
import { attrs, batchCollector, config } from './helpers.js';

const NET16 = config({ Network: '10.1.0.0/16' });

function setup() {
  const registry = new MemoryRegistry();
  const log = createRecordingLogger();
  const manager = (options: Partial<LeaseManagerOptions> = {}) => new LeaseManager({ registry, log, ...options });
  return { registry, log, manager };
}

describe('acquire (memory registry)', () => {
  it('creates the key with flannel JSON and a TTL lease, and reuses it for the same public IP', async () => {
    const { registry, manager } = setup();
    const lease = await manager().acquireLease({ config: NET16, attrs: attrs('192.0.2.1') });
    const { entry } = await registry.getEntry(lease.key);
    expect(entry?.value).toBe('{"PublicIP":"192.0.2.1","PublicIPv6":null}');
    expect((await registry.timeToLive(entry!.ttlLeaseId))?.grantedTtlSeconds).toBe(86400);
    const again = await manager().acquireLease({ config: NET16, attrs: attrs('192.0.2.1') });
    expect(again.key).toBe(lease.key);
    expect(await registry.timeToLive(entry!.ttlLeaseId)).toBeUndefined();
  });

  it('gives hosts acquiring at the same moment distinct subnets, and refuses a full network clearly', async () => {
    const { manager } = setup();
    const small = config({ Network: '10.1.0.0/22', SubnetLen: 24 });
    const leases = await Promise.all([1, 2, 3].map((i) => manager().acquireLease({ config: small, attrs: attrs(`192.0.2.${i}`) })));
    expect(new Set(leases.map((l) => l.key)).size).toBe(3);
    await expect(manager().acquireLease({ config: small, attrs: attrs('192.0.2.9') })).rejects.toSatisfy((err) => isFlannelError(err, 'SUBNET_EXHAUSTED'));
  });

  it('keeps a reservation without a TTL lease when its owner starts', async () => {
    const { registry, manager } = setup();
    await manager().reserveLease({ subnet: IpNet.parse('10.1.42.0/24')!, ipv6Subnet: undefined }, attrs('192.0.2.7'));
    const lease = await manager().acquireLease({ config: NET16, attrs: attrs('192.0.2.7') });
    expect(lease.expiresAt).toBeNull();
    expect((await registry.getEntry(lease.key)).entry!.ttlLeaseId).toBe(NO_TTL_LEASE);
  });
});

describe('keep (memory registry)', () => {
  it('renews before expiry, revoking the TTL lease it replaced', async () => {
    const { registry, log, manager } = setup();
    const keeperManager = manager({ leaseTtlSeconds: 2 });
    const request = { config: NET16, attrs: attrs('192.0.2.1') };
    const lease = await keeperManager.acquireLease(request);
    const first = (await registry.getEntry(lease.key)).entry!.ttlLeaseId;
    await using keeper = keeperManager.keepLease(lease, request, { renewMarginMs: 1900, signal: new AbortController().signal });
    await waitFor(() => log.find('renewed lease'), { what: 'a renewal' });
    expect(await registry.timeToLive(first)).toBeUndefined();
    expect((await registry.getEntry(lease.key)).entry!.ttlLeaseId).not.toBe(first);
    expect(keeper.lease.key).toBe(lease.key);
  });

  it('retries a renewal while the store is unreachable, with one outage warning', async () => {
    const { registry, log, manager } = setup();
    const keeperManager = manager({ leaseTtlSeconds: 2 });
    const request = { config: NET16, attrs: attrs('192.0.2.1') };
    const lease = await keeperManager.acquireLease(request);
    registry.setReachable(false);
    await using _keeper = keeperManager.keepLease(lease, request, { renewMarginMs: 1950, retryMs: 20, signal: new AbortController().signal });
    await waitFor(() => log.records.filter((r) => r.message === 'renewal failed, retrying').length >= 3, { what: 'renewal retries' });
    registry.setReachable(true);
    await waitFor(() => log.find('renewed lease'), { what: 'a renewal once reachable' });
    expect(log.records.filter((r) => r.message === 'etcd unreachable, retrying with back-off')).toHaveLength(1);
  });

  it('acquires again when the key is deleted, and reports another host writing it (duplicate public IP)', async () => {
    const { registry, log, manager } = setup();
    const keeperManager = manager();
    const request = { config: NET16, attrs: attrs('192.0.2.1') };
    const lease = await keeperManager.acquireLease(request);
    const changed: string[] = [];
    const conflicts: string[] = [];
    await using keeper = keeperManager.keepLease(lease, request, {
      renewMarginMs: 1000,
      signal: new AbortController().signal,
      onLeaseChanged: (l) => void changed.push(l.key),
      onConflict: (l) => void conflicts.push(l.key),
    });
    await registry.deleteLease(lease.key);
    await waitFor(() => changed.length === 1, { what: 'the re-acquired lease' });
    expect(log.find('lease was removed from etcd (revoked or expired), acquiring a lease again')).toBeDefined();
    expect(changed).toEqual([lease.key]);
    expect((await registry.getEntry(lease.key)).entry).toBeDefined();
    // A second host with the same public IP reuses (rewrites) our lease with its own TTL lease.
    await manager().acquireLease(request);
    await waitFor(() => conflicts.length === 1, { what: 'the conflict' });
    expect(log.find('duplicate public IP: another host took over this lease')?.fields).toMatchObject({ subnet: keeper.lease.key, publicIP: '192.0.2.1' });
  });

  it('turns into a reservation when an admin removes the TTL lease', async () => {
    const { registry, log, manager } = setup();
    const keeperManager = manager();
    const request = { config: NET16, attrs: attrs('192.0.2.1') };
    const lease = await keeperManager.acquireLease(request);
    await using keeper = keeperManager.keepLease(lease, request, { renewMarginMs: 1000, signal: new AbortController().signal });
    await registry.putLease(lease.key, request.attrs, null);
    await waitFor(() => log.find('own lease was turned into a reservation'), { what: 'the reservation' });
    expect(keeper.lease.expiresAt).toBeNull();
  });
});

describe('watchPeers (memory registry)', () => {
  it('delivers a snapshot, then changes, never the own lease; skips malformed entries', async () => {
    const { registry, log, manager } = setup();
    const own = await manager().acquireLease({ config: NET16, attrs: attrs('192.0.2.1') });
    const peerA = await manager().acquireLease({ config: NET16, attrs: attrs('192.0.2.2') });
    const collector = batchCollector();
    await using watch = manager().watchPeers({ config: NET16, own }, { signal: new AbortController().signal, onBatch: collector.onBatch });
    await watch.synced;
    expect(collector.events()).toEqual([`added ${peerA.key} 192.0.2.2`]);
    await registry.putRaw(`${registry.subnetsPrefix}not-a-subnet`, '{}');
    const peerB = await manager().acquireLease({ config: NET16, attrs: attrs('192.0.2.3') });
    await manager().renewLease(own);
    await manager().revokeLease(peerA.key);
    await waitFor(() => collector.events().length === 3, { what: 'peer B added, peer A removed' });
    expect(collector.events()).toEqual([`added ${peerA.key} 192.0.2.2`, `added ${peerB.key} 192.0.2.3`, `removed ${peerA.key} 192.0.2.2`]);
    expect(watch.peers().map((p) => p.key)).toEqual([peerB.key]);
    expect(log.find('skipped malformed lease')?.fields['key']).toBe(`${registry.subnetsPrefix}not-a-subnet`);
  });

  it('sees a lease expire by the clock', async () => {
    let clock = 1_700_000_000_000;
    const registry = new MemoryRegistry({ now: () => clock });
    const log = createRecordingLogger();
    const manager = (ttl?: number) => new LeaseManager({ registry, log, now: () => clock, ...(ttl ? { leaseTtlSeconds: ttl } : {}) });
    const own = await manager().acquireLease({ config: NET16, attrs: attrs('192.0.2.1') });
    const peer = await manager(60).acquireLease({ config: NET16, attrs: attrs('192.0.2.2') });
    const collector = batchCollector();
    await using watch = manager().watchPeers({ config: NET16, own }, { signal: new AbortController().signal, onBatch: collector.onBatch });
    await watch.synced;
    clock += 61_000;
    registry.expireLeases();
    await waitFor(() => collector.events().length === 2, { what: 'the expiry' });
    expect(collector.events()).toEqual([`added ${peer.key} 192.0.2.2`, `removed ${peer.key} 192.0.2.2`]);
  });
});
