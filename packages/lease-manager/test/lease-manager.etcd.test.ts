import { describe, expect, it } from 'vitest';
import { IpNet, encodeLeaseAttrs, isFlannelError } from '@flannel-ts/core';
import { createRecordingLogger, waitFor } from '@flannel-ts/testkit';
import { EtcdRegistry, LeaseManager, connectEtcd } from '../src/index.js';
import { attrs, batchCollector, config, createHarness } from './helpers.js';

const NET16 = config({ Network: '10.1.0.0/16' });

describe('network config', () => {
  it('round-trips the config text and reports a missing config clearly', async () => {
    await using h = await createHarness();
    const manager = h.manager();
    await expect(manager.getNetworkConfig()).rejects.toSatisfy((err) => isFlannelError(err, 'CONFIG_NOT_FOUND') && /flannelctl config set/.test((err as Error).message));
    await manager.registry.putConfigText('{"Network":"10.1.0.0/16","Backend":{"Type":"vxlan"}}');
    const config = await manager.getNetworkConfig();
    expect(config.ipv4?.network.toString()).toBe('10.1.0.0/16');
    expect(config.backendType).toBe('vxlan');
    expect(await manager.registry.getConfigText()).toBe('{"Network":"10.1.0.0/16","Backend":{"Type":"vxlan"}}');
  });

  it('uses flannel keys under a custom prefix', async () => {
    await using h = await createHarness();
    const manager = h.manager({ prefix: '/vxlan/network/' });
    await manager.registry.putConfigText('{"Network":"10.9.0.0/16"}');
    const raw = await h.client.get('/vxlan/network/config').string();
    expect(raw).toBe('{"Network":"10.9.0.0/16"}');
    const lease = await manager.acquireLease({ config: await manager.getNetworkConfig(), attrs: attrs('192.0.2.1') });
    expect(await h.client.get(`/vxlan/network/subnets/${lease.key}`).string()).toBe('{"PublicIP":"192.0.2.1","PublicIPv6":null}');
  });
});

describe('acquireLease', () => {
  it('creates the key with flannel JSON and a 24 h etcd lease', async () => {
    await using h = await createHarness();
    const manager = h.manager();
    const lease = await manager.acquireLease({ config: NET16, attrs: attrs('192.0.2.1') });
    expect(lease.subnet?.prefixLength).toBe(24);
    expect(NET16.ipv4?.network.contains(lease.subnet!)).toBe(true);
    const key = `/coreos.com/network/subnets/${lease.key}`;
    const response = await h.client.get(key).exec();
    const kv = response.kvs[0]!;
    expect(kv.value.toString()).toBe('{"PublicIP":"192.0.2.1","PublicIPv6":null}');
    const ttl = await h.client.leaseClient.leaseTimeToLive({ ID: kv.lease, keys: false });
    expect(Number(ttl.grantedTTL)).toBe(86400);
  });

  it('reuses the lease of the same public IP after a restart', async () => {
    await using h = await createHarness();
    const first = await h.manager().acquireLease({ config: NET16, attrs: attrs('192.0.2.1') });
    const again = await h.manager().acquireLease({ config: NET16, attrs: attrs('192.0.2.1', { backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: 'aa:bb:cc:dd:ee:ff' } }) });
    expect(again.key).toBe(first.key);
    const listing = await h.manager().listLeases();
    expect(listing.leases).toHaveLength(1);
    expect(listing.leases[0]!.attrs.backendType).toBe('vxlan');
  });

  it('prefers the previous subnet from subnet.env, but not one outside the network', async () => {
    await using h = await createHarness();
    const previous = { subnet: IpNet.parse('10.1.6.0/24') };
    const lease = await h.manager().acquireLease({ config: NET16, attrs: attrs('192.0.2.1'), previous });
    expect(lease.key).toBe('10.1.6.0-24');
    const outside = await h.manager().acquireLease({ config: NET16, attrs: attrs('192.0.2.2'), previous: { subnet: IpNet.parse('10.4.1.0/24') } });
    expect(outside.key).not.toBe('10.4.1.0-24');
    expect(outside.key).toMatch(/^10\.1\.\d+\.0-24$/);
  });

  it('replaces its own lease when the network changed', async () => {
    await using h = await createHarness();
    const manager = h.manager();
    const old = await manager.acquireLease({ config: NET16, attrs: attrs('192.0.2.1') });
    const moved = await manager.acquireLease({ config: config({ Network: '10.4.0.0/16' }), attrs: attrs('192.0.2.1') });
    expect(moved.key).toMatch(/^10\.4\./);
    const keys = (await manager.listLeases()).leases.map((l) => l.key);
    expect(keys).toEqual([moved.key]);
    expect(keys).not.toContain(old.key);
  });

  it('keeps a reservation without an etcd lease when its owner starts (flannel#1329 fixed)', async () => {
    await using h = await createHarness();
    const manager = h.manager();
    await h.client.put('/coreos.com/network/subnets/10.1.42.0-24').value('{"PublicIP":"192.0.2.7","PublicIPv6":null}').exec();
    const lease = await manager.acquireLease({ config: NET16, attrs: attrs('192.0.2.7') });
    expect(lease.key).toBe('10.1.42.0-24');
    expect(lease.expiresAt).toBeNull();
    const kv = (await h.client.get('/coreos.com/network/subnets/10.1.42.0-24').exec()).kvs[0]!;
    expect(kv.lease).toBe('0');
    // Renewal keeps it lease-less too.
    await manager.renewLease(lease);
    expect((await h.client.get('/coreos.com/network/subnets/10.1.42.0-24').exec()).kvs[0]!.lease).toBe('0');
  });

  it('never hands a reserved subnet to another host', async () => {
    await using h = await createHarness();
    const manager = h.manager();
    const small = config({ Network: '10.3.0.0/28' });
    await manager.reserveLease({ subnet: IpNet.parse('10.3.0.4/30'), ipv6Subnet: undefined }, attrs('192.0.2.50'));
    await manager.reserveLease({ subnet: IpNet.parse('10.3.0.12/30'), ipv6Subnet: undefined }, attrs('192.0.2.51'));
    const lease = await manager.acquireLease({ config: small, attrs: attrs('192.0.2.1') });
    expect(lease.key).toBe('10.3.0.8-30');
  });

  it('gives 30 agents acquiring at the same moment 30 distinct subnets', async () => {
    await using h = await createHarness();
    const agents = Array.from({ length: 30 }, () => h.manager());
    // A tiny network so that collisions are likely: every agent must still end with a distinct subnet.
    const network = config({ Network: '10.7.0.0/16', SubnetLen: 21 });
    const leases = await Promise.all(agents.map((m, i) => m.acquireLease({ config: network, attrs: attrs(`192.0.2.${i + 1}`) })));
    const keys = new Set(leases.map((l) => l.key));
    expect(keys.size).toBe(30);
    expect((await agents[0]!.listLeases()).leases).toHaveLength(30);
  });

  it('refuses the 4th host of a network with room for 3 with a clear error', async () => {
    await using h = await createHarness();
    const small = config({ Network: '10.3.0.0/28' });
    for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) await h.manager().acquireLease({ config: small, attrs: attrs(ip) });
    const err = await h.manager().acquireLease({ config: small, attrs: attrs('192.0.2.4') }).catch((e: unknown) => e);
    expect(isFlannelError(err, 'SUBNET_EXHAUSTED')).toBe(true);
    expect((err as Error).message).toMatch(/out of subnets.*10\.3\.0\.0\/28.*revoke unused leases/);
  });

  it('allocates around a malformed key and logs it', async () => {
    await using h = await createHarness();
    const manager = h.manager();
    await h.client.put('/coreos.com/network/subnets/banana').value('{"PublicIP":"192.0.2.9"}').exec();
    await h.client.put('/coreos.com/network/subnets/10.1.5.0-24').value('not json').exec();
    const lease = await manager.acquireLease({ config: NET16, attrs: attrs('192.0.2.1') });
    expect(lease.subnet).toBeDefined();
    expect(h.log.records.filter((r) => r.message === 'skipped malformed lease').map((r) => r.fields['key'])).toEqual(
      expect.arrayContaining(['/coreos.com/network/subnets/banana', '/coreos.com/network/subnets/10.1.5.0-24']),
    );
  });
});

describe('reserve and revoke', () => {
  it('revokes a lease and reports an unknown one', async () => {
    await using h = await createHarness();
    const manager = h.manager();
    const lease = await manager.acquireLease({ config: NET16, attrs: attrs('192.0.2.1') });
    await manager.revokeLease(lease.key);
    expect((await manager.listLeases()).leases).toHaveLength(0);
    await expect(manager.revokeLease(lease.key)).rejects.toSatisfy((e) => isFlannelError(e, 'LEASE_NOT_FOUND'));
  });

  it('refuses a reservation that overlaps a lease', async () => {
    await using h = await createHarness();
    const manager = h.manager();
    const lease = await manager.acquireLease({ config: NET16, attrs: attrs('192.0.2.1') });
    await expect(manager.reserveLease({ subnet: lease.subnet, ipv6Subnet: undefined }, attrs('192.0.2.2'))).rejects.toSatisfy((e) => isFlannelError(e, 'LEASE_CONFLICT'));
  });
});

describe('keepLease', () => {
  it('renews before expiry and revokes the etcd lease it replaced', async () => {
    await using h = await createHarness();
    const manager = h.manager({ leaseTtlSeconds: 4 });
    const request = { config: NET16, attrs: attrs('192.0.2.1') };
    const lease = await manager.acquireLease(request);
    const key = `/coreos.com/network/subnets/${lease.key}`;
    const firstLeaseId = (await h.client.get(key).exec()).kvs[0]!.lease;
    const controller = new AbortController();
    await using keeper = manager.keepLease(lease, request, { renewMarginMs: 2500, signal: controller.signal });
    await waitFor(() => h.log.find('renewed lease'), { timeoutMs: 5000, what: 'a renewal' });
    const kv = (await h.client.get(key).exec()).kvs[0]!;
    expect(kv.lease).not.toBe(firstLeaseId);
    const old = await h.client.leaseClient.leaseTimeToLive({ ID: firstLeaseId, keys: false });
    expect(Number(old.TTL)).toBe(-1); // revoked
    // Still there well past the first TTL: renewals keep going.
    await new Promise((r) => setTimeout(r, 4500));
    expect(await h.client.get(key).string()).toBe('{"PublicIP":"192.0.2.1","PublicIPv6":null}');
    expect(keeper.lease.key).toBe(lease.key);
  });

  it('acquires again when an admin deletes the lease', async () => {
    await using h = await createHarness();
    const manager = h.manager();
    const request = { config: NET16, attrs: attrs('192.0.2.1') };
    const lease = await manager.acquireLease(request);
    const changes: string[] = [];
    await using keeper = manager.keepLease(lease, request, { renewMarginMs: 60_000, signal: new AbortController().signal, onLeaseChanged: (l) => void changes.push(l.key) });
    await new Promise((r) => setTimeout(r, 200));
    await h.manager().revokeLease(lease.key);
    await waitFor(() => changes.length > 0, { what: 're-acquire' });
    expect(h.log.find(/lease was removed from etcd/)).toBeDefined();
    expect(changes[0]).toBe(lease.key); // the previous subnet is free again, so it comes back
    expect(await h.client.get(`/coreos.com/network/subnets/${lease.key}`).string()).toBe(encodeLeaseAttrs(request.attrs));
    expect(keeper.lease.key).toBe(lease.key);
  });
});

describe('watchPeers', () => {
  it('delivers a snapshot, then changes, never the own lease', async () => {
    await using h = await createHarness();
    const manager = h.manager();
    const own = await manager.acquireLease({ config: NET16, attrs: attrs('192.0.2.1') });
    const peerA = await h.manager().acquireLease({ config: NET16, attrs: attrs('192.0.2.2') });
    const collector = batchCollector();
    await using watch = manager.watchPeers({ config: NET16, own }, { signal: new AbortController().signal, onBatch: collector.onBatch });
    await watch.synced;
    expect(collector.events()).toEqual([`added ${peerA.key} 192.0.2.2`]);
    const peerB = await h.manager().acquireLease({ config: NET16, attrs: attrs('192.0.2.3') });
    await waitFor(() => collector.events().length === 2, { what: 'peer B added' });
    await manager.renewLease(own);
    await h.manager().revokeLease(peerA.key);
    await waitFor(() => collector.events().length === 3, { what: 'peer A removed' });
    expect(collector.events()).toEqual([`added ${peerA.key} 192.0.2.2`, `added ${peerB.key} 192.0.2.3`, `removed ${peerA.key} 192.0.2.2`]);
    expect(watch.peers().map((p) => p.key)).toEqual([peerB.key]);
  });

  it('skips a malformed key or value without making peers look removed', async () => {
    await using h = await createHarness();
    const manager = h.manager();
    const own = await manager.acquireLease({ config: NET16, attrs: attrs('192.0.2.1') });
    const peer = await h.manager().acquireLease({ config: NET16, attrs: attrs('192.0.2.2') });
    const collector = batchCollector();
    await using watch = manager.watchPeers({ config: NET16, own }, { signal: new AbortController().signal, onBatch: collector.onBatch });
    await watch.synced;
    const client = h.client;
    await client.put('/coreos.com/network/subnets/not-a-subnet').value('{}').exec();
    await client.put('/coreos.com/network/subnets/10.1.77.0-24').value('{"PublicIP":null}').exec();
    const late = await h.manager().acquireLease({ config: NET16, attrs: attrs('192.0.2.3') });
    await waitFor(() => collector.events().length === 2, { what: 'the good peer after the bad entries' });
    expect(collector.events()).toEqual([`added ${peer.key} 192.0.2.2`, `added ${late.key} 192.0.2.3`]);
    const skippedKeys = new Set(h.log.records.filter((r) => r.message === 'skipped malformed lease').map((r) => r.fields['key']));
    expect(skippedKeys).toEqual(new Set(['/coreos.com/network/subnets/not-a-subnet', '/coreos.com/network/subnets/10.1.77.0-24']));
    expect(watch.peers()).toHaveLength(2);
  });

  it('reports changed attributes of a peer', async () => {
    await using h = await createHarness();
    const manager = h.manager();
    const own = await manager.acquireLease({ config: NET16, attrs: attrs('192.0.2.1') });
    const peerManager = h.manager();
    const peer = await peerManager.acquireLease({ config: NET16, attrs: attrs('192.0.2.2', { backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: '02:00:00:00:00:01' } }) });
    const collector = batchCollector();
    await using watch = manager.watchPeers({ config: { ...NET16, backendType: 'vxlan' }, own }, { signal: new AbortController().signal, onBatch: collector.onBatch });
    await watch.synced;
    await peerManager.acquireLease({ config: NET16, attrs: attrs('192.0.2.2', { backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: '02:00:00:00:00:02' } }) });
    await waitFor(() => collector.batches.length === 2, { what: 'the change' });
    expect(collector.batches[1]!.map((e) => [e.type, (e.lease.attrs.backendData as { VtepMAC: string }).VtepMAC])).toEqual([
      ['removed', '02:00:00:00:00:01'],
      ['added', '02:00:00:00:00:02'],
    ]);
    expect(peer.key).toBe(watch.peers()[0]!.key);
  });

  it('admits only valid peers: an alias key is rejected once, logged once, and deleting it keeps the real peer', async () => {
    await using h = await createHarness();
    const manager = h.manager();
    const own = await manager.acquireLease({ config: NET16, attrs: attrs('192.0.2.1') });
    const peer = await h.manager().acquireLease({ config: NET16, attrs: attrs('192.0.2.2') });
    const collector = batchCollector();
    const admissions: string[] = [];
    await using watch = manager.watchPeers(
      { config: NET16, own, ownPublicIPs: ['192.0.2.1'] },
      { signal: new AbortController().signal, onBatch: collector.onBatch, onAdmission: (u) => admissions.push(...u.rejected.map((r) => `${r.lease.key} ${r.rejection.reason}`), ...u.cleared.map((l) => `${l.key} cleared`)) },
    );
    await watch.synced;
    const client = h.client;
    const alias = peer.key.replace('.0-24', '.9-24');
    await client.put(`/coreos.com/network/subnets/${alias}`).value('{"PublicIP":"192.0.2.66"}').exec();
    await client.put('/coreos.com/network/subnets/1.2.3.4-0').value('{"PublicIP":"192.0.2.66"}').exec();
    await client.put('/coreos.com/network/subnets/10.1.200.0-24').value('{"PublicIP":"192.0.2.1"}').exec();
    await waitFor(() => admissions.length === 3, { what: 'three rejections' });
    // The same value written again (a renewal) is not logged again.
    await client.put(`/coreos.com/network/subnets/${alias}`).value('{"PublicIP":"192.0.2.66"}').exec();
    await client.delete().key(`/coreos.com/network/subnets/${alias}`).exec();
    await waitFor(() => admissions.length === 4, { what: 'the alias gone' });
    expect(admissions).toEqual([`${alias} non-canonical-key`, '1.2.3.4-0 non-canonical-key', '10.1.200.0-24 own-public-ip', `${alias} cleared`]);
    expect(collector.events()).toEqual([`added ${peer.key} 192.0.2.2`]);
    expect(watch.peers().map((p) => p.key)).toEqual([peer.key]);
    expect(watch.rejected().map((r) => r.lease.key).sort()).toEqual(['1.2.3.4-0', '10.1.200.0-24']);
    expect(h.log.records.filter((r) => r.message === 'peer lease rejected, not programming it')).toHaveLength(3);
  });
});

describe('waitForNetworkConfig', () => {
  it('says every few seconds what it waits for, then returns the config once it is written', async () => {
    await using h = await createHarness();
    let clock = 0;
    // Each read of the clock is a second later: the 5 s progress period passes within a few retries.
    const manager = h.manager({ now: () => (clock += 1000) });
    const controller = new AbortController();
    const waiting = manager.waitForNetworkConfig(controller.signal, 5);
    await waitFor(() => h.log.records.filter((r) => r.message === 'still waiting for a valid network config').length >= 2, { what: 'two progress lines' });
    const lines = h.log.records.filter((r) => r.message === 'still waiting for a valid network config');
    expect(lines[0]).toMatchObject({ level: 'info', fields: { key: '/coreos.com/network/config', reason: expect.stringMatching(/flannel config not found/) } });
    expect(lines[1]!.fields!['waitedSeconds']).toBeGreaterThan(lines[0]!.fields!['waitedSeconds'] as number);
    const writer = h.manager();
    await writer.registry.putConfigText('{"Network":"10.1.0.0/16"}');
    expect((await waiting)?.ipv4?.network.toString()).toBe('10.1.0.0/16');
  });

  it('says it is still waiting for etcd while etcd cannot be reached, with the reason', async () => {
    // Nothing listens on port 1: every attempt is refused at once.
    const client = connectEtcd({ endpoints: ['http://127.0.0.1:1'], callTimeoutMs: 500 });
    const log = createRecordingLogger();
    let clock = 0;
    const manager = new LeaseManager({ registry: new EtcdRegistry(client), log, now: () => (clock += 1000) });
    const controller = new AbortController();
    const waiting = manager.waitForNetworkConfig(controller.signal, 5);
    try {
      await waitFor(() => log.records.some((r) => r.message === 'still waiting for etcd'), { what: 'a progress line', timeoutMs: 20_000 });
      const line = log.records.find((r) => r.message === 'still waiting for etcd')!;
      expect(line).toMatchObject({ level: 'info', fields: { reason: expect.stringMatching(/ECONNREFUSED|UNAVAILABLE|circuit/i) } });
      expect(String(line.fields!['reason'])).not.toMatch(/Resolution note/);
      expect(log.records.filter((r) => r.message === 'etcd unreachable, retrying with back-off')).toHaveLength(1);
    } finally {
      controller.abort();
      await waiting;
      client.close();
    }
  });
});
