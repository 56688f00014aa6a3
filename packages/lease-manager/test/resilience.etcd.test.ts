import { describe, expect, it } from 'vitest';
import { createRecordingLogger, waitFor } from '@flannel-ts/testkit';
import { connectEtcd, EtcdConnectivity, EtcdRegistry } from '../src/index.js';
import { runWatchLoop } from '../src/watch-loop.js';
import { attrs, batchCollector, config, createHarness } from './helpers.js';

const NET16 = config({ Network: '10.1.0.0/16' });

describe('when etcd goes away', () => {
  it('keeps renewing across an etcd restart and the lease survives', async () => {
    await using h = await createHarness();
    const manager = h.manager({ leaseTtlSeconds: 6 });
    const request = { config: NET16, attrs: attrs('192.0.2.1') };
    const lease = await manager.acquireLease(request);
    await using keeper = manager.keepLease(lease, request, { renewMarginMs: 4000, retryMs: 300, signal: new AbortController().signal });
    // The first renewal is due 2 s after acquisition; etcd is down then, so it must be retried.
    await h.etcd.stop();
    await new Promise((r) => setTimeout(r, 2500));
    await h.etcd.start();
    await waitFor(() => h.log.find('renewed lease'), { timeoutMs: 15_000, what: 'a renewal after the restart' });
    expect(h.log.find('renewal failed, retrying')).toBeDefined();
    // Unreachable etcd is one warning per outage, however many retries it took.
    expect(h.log.records.filter((r) => r.message === 'etcd unreachable, retrying with back-off')).toHaveLength(1);
    const listing = await manager.listLeases({ withExpiry: true });
    expect(listing.leases.map((l) => l.key)).toEqual([lease.key]);
    expect(keeper.lease.key).toBe(lease.key);
  });

  it('resumes the peer watch after an etcd restart without missing events written meanwhile', async () => {
    await using h = await createHarness();
    const manager = h.manager();
    const own = await manager.acquireLease({ config: NET16, attrs: attrs('192.0.2.1') });
    const collector = batchCollector();
    await using watch = manager.watchPeers({ config: NET16, own }, { signal: new AbortController().signal, onBatch: collector.onBatch });
    await watch.synced;
    const peer = await h.manager().acquireLease({ config: NET16, attrs: attrs('192.0.2.2') });
    await waitFor(() => collector.events().length === 1, { what: 'first peer' });
    await h.etcd.stop();
    await new Promise((r) => setTimeout(r, 500));
    await h.etcd.start();
    const late = await h.manager().acquireLease({ config: NET16, attrs: attrs('192.0.2.3') });
    await h.manager().revokeLease(peer.key);
    await waitFor(() => collector.events().length === 3, { timeoutMs: 20_000, what: 'events after the restart' });
    const events = collector.events();
    expect(events[0]).toBe(`added ${peer.key} 192.0.2.2`);
    // Written while the watch was resuming: they may come in one coalesced batch (removals first) or two.
    expect(events.slice(1).sort()).toEqual([`added ${late.key} 192.0.2.3`, `removed ${peer.key} 192.0.2.2`]);
  });

  it('re-lists when the revision to resume from was compacted', async () => {
    await using h = await createHarness();
    const client = connectEtcd({ endpoints: [h.etcd.endpoint] });
    try {
      const registry = new EtcdRegistry(client);
      for (let i = 0; i < 5; i++) await client.put(`${registry.subnetsPrefix}10.1.${i}.0-24`).value('{"PublicIP":"192.0.2.9"}').exec();
      const head = await client.get('x').exec();
      await client.kv.compact({ revision: head.header.revision, physical: true });
      const log = createRecordingLogger();
      const controller = new AbortController();
      let resyncs = 0;
      const responses: number[] = [];
      const loop = runWatchLoop({
        open: (rev) => registry.watchLeases(rev),
        resync: async () => {
          resyncs++;
          return (await registry.listLeases()).revision;
        },
        onResponse: (res) => void responses.push(res.events.length),
        isRevisionCompacted: (rev) => registry.isRevisionCompacted(rev),
        fromRevision: 2n, // long compacted
        signal: controller.signal,
        log,
        connectivity: new EtcdConnectivity(log),
        what: 'leases',
      });
      await waitFor(() => resyncs === 1, { what: 'a re-list' });
      await client.put(`${registry.subnetsPrefix}10.1.9.0-24`).value('{"PublicIP":"192.0.2.9"}').exec();
      await waitFor(() => responses.length === 1, { what: 'the event after the re-list' });
      controller.abort();
      await loop;
      expect(log.find('watch revision compacted, re-listing')).toBeDefined();
      expect(responses).toEqual([1]);
    } finally {
      client.close();
    }
  });
});

describe('runWatchLoop', () => {
  it('returns when stopped while a watch was being opened', async () => {
    await using h = await createHarness();
    const client = connectEtcd({ endpoints: [h.etcd.endpoint] });
    try {
      const registry = new EtcdRegistry(client);
      const log = createRecordingLogger();
      const controller = new AbortController();
      const loop = runWatchLoop({
        open: async (rev) => {
          const watcher = await registry.watchLeases(rev);
          controller.abort(); // SIGTERM arrives just as the watch is established
          return watcher;
        },
        resync: async () => 1n,
        isRevisionCompacted: async () => false,
        onResponse: () => undefined,
        fromRevision: 1n,
        signal: controller.signal,
        log,
        connectivity: new EtcdConnectivity(log),
        what: 'leases',
      });
      const outcome = await Promise.race([loop.then(() => 'returned'), new Promise((r) => setTimeout(() => r('hung'), 3000))]);
      expect(outcome).toBe('returned');
    } finally {
      client.close();
    }
  });
});
