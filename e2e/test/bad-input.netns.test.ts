/**
 * Bad input from the store and from the wire: each gets a clear log line, the daemon keeps serving the good peers,
 * and nothing in etcd is overwritten. (Bad flags and environment values: apps/flanneld/test/options.test.ts.)
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { connectEtcd } from '@flannel-ts/lease-manager';
import { startLab, type LabHost } from '@flannel-ts/lab';
import { waitFor } from '@flannel-ts/testkit';
import { innerUdpPacket, ping, sendDatagram } from './net.js';

describe('bad input', () => {
  it('survives a malformed config, leases of the wrong shape, unparsable keys, and garbage datagrams', async () => {
    await using lab = await startLab({ hosts: 2 });
    const client = connectEtcd({ endpoints: [lab.etcd.localEndpoint] });
    try {
      const [h1, h2] = lab.hosts as [LabHost, LabHost];
      // A config that is not JSON: flanneld says so and waits; nobody rewrites it.
      const broken = '{"Network": "10.1.0.0/16", "Backend": {"Type": "udp"}';
      await client.put('/coreos.com/network/config').value(broken).exec();
      const starting = lab.startFlanneld(h1);
      await waitFor(() => h1.flanneld?.output().includes('network config is not valid JSON'), { timeoutMs: 15_000, what: 'the config complaint' });
      expect(await client.get('/coreos.com/network/config').string()).toBe(broken);
      // An invalid but well-formed config: the field and the fix are named.
      await client.put('/coreos.com/network/config').value('{"Network":"10.1.0.0/29","Backend":{"Type":"udp"}}').exec();
      await waitFor(() => h1.flanneld?.output().includes('network is too small'), { timeoutMs: 15_000, what: 'the validation complaint' });
      // SubnetMax keeps the real hosts off 10.1.250.0 and up, where the bad leases below are written.
      await client.put('/coreos.com/network/config').value('{"Network":"10.1.0.0/16","SubnetMax":"10.1.200.0","Backend":{"Type":"udp"}}').exec();
      await starting;
      await lab.startFlanneld(h2);
      const [c1, c2] = [await lab.addContainer(h1), await lab.addContainer(h2)];
      expect((await ping(c1, c2.ip)).ok).toBe(true);

      // Leases of the wrong shape and keys that do not parse.
      const bad: Array<[string, string]> = [
        ['/coreos.com/network/subnets/10.1.250.0-24', '[]'],
        ['/coreos.com/network/subnets/10.1.251.0-24', '{"PublicIP":{"a":1}}'],
        ['/coreos.com/network/subnets/10.1.252.0-24', '{"PublicIP":"192.0.2.200","BackendType":7}'],
        ['/coreos.com/network/subnets/10.1.999.0-24', '{"PublicIP":"192.0.2.201"}'],
        ['/coreos.com/network/subnets/not-a-key', '{"PublicIP":"192.0.2.202"}'],
      ];
      for (const [key, value] of bad) await client.put(key).value(value).exec();
      await waitFor(() => (h1.flanneld!.output().match(/skipped malformed lease/g)?.length ?? 0) >= bad.length, { timeoutMs: 10_000, what: 'every bad lease logged' });
      for (const [key, value] of bad) expect(await client.get(key).string()).toBe(value);
      expect(h1.flanneld!.output()).not.toMatch(/peer removed/);

      // Garbage on the wire, from the peer's own address: random bytes of every size, truncated packets, and one
      // datagram far larger than the MTU.
      for (let size = 1; size <= 1500; size += 37) await sendDatagram(h2.name, h2.underlayIp, h1.underlayIp, randomBytes(size));
      const truncated = innerUdpPacket(c2.ip, c1.ip, 9999, 'truncated').subarray(0, 24);
      await sendDatagram(h2.name, h2.underlayIp, h1.underlayIp, truncated);
      const oversized = innerUdpPacket(c2.ip, c1.ip, 9999, 'x'.repeat(8000));
      await sendDatagram(h2.name, h2.underlayIp, h1.underlayIp, oversized);
      expect((await ping(c1, c2.ip)).ok).toBe(true);
      expect((await ping(c2, c1.ip)).ok).toBe(true);
      expect(h1.flanneld!.child.exitCode).toBeNull();
      await lab.stopFlanneld(h1);
      expect(h1.lastFlanneld!.output()).toMatch(/udp data path counters .*dropRunt=[1-9]/);
      expect(h1.lastFlanneld!.output()).toMatch(/udp data path counters .*dropNotIPv4=[1-9]/);
    } finally {
      client.close();
    }
  });
});
