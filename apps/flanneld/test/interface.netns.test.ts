/**
 * A host with two interfaces (a namespace with veth `a` and `b` to a peer namespace): --iface-can-reach picks the
 * interface and source address the kernel routes the target through, IPv4 and IPv6, not the default-route one;
 * --ip-blackhole-route keeps a blackhole route for the own subnets, and a run without it removes it.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectEtcd } from '@flannel-ts/lease-manager';
import { createNetns, createTempDir, startDaemon, startEtcd, uniqueName, waitFor, type Netns } from '@flannel-ts/testkit';
import { FLANNELD_BIN } from './harness.js';

interface TwoInterfaceHost extends AsyncDisposable {
  readonly host: Netns;
}

async function twoInterfaceHost(): Promise<TwoInterfaceHost> {
  const host = await createNetns();
  const peer = await createNetns();
  const ip = (...args: string[]) => host.exec('ip', args);
  for (const [side, n] of [['a', 1], ['b', 2]] as const) {
    const outer = uniqueName(side);
    await ip('link', 'add', 'name', side, 'type', 'veth', 'peer', 'name', outer);
    await ip('link', 'set', outer, 'netns', peer.name);
    await ip('addr', 'add', `10.20${n}.1.2/24`, 'dev', side);
    await ip('-6', 'addr', 'add', `fd0${n}::2/64`, 'dev', side, 'nodad');
    await ip('link', 'set', 'dev', side, 'up');
    await peer.exec('ip', ['addr', 'add', `10.20${n}.1.1/24`, 'dev', outer]);
    await peer.exec('ip', ['-6', 'addr', 'add', `fd0${n}::1/64`, 'dev', outer, 'nodad']);
    await peer.exec('ip', ['link', 'set', outer, 'up']);
  }
  // The default routes lead out of `a`: without --iface-can-reach, flanneld would pick `a`.
  await ip('route', 'add', 'default', 'via', '10.201.1.1');
  await ip('-6', 'route', 'add', 'default', 'via', 'fd01::1');
  await ip('route', 'add', '198.51.100.0/24', 'via', '10.202.1.1');
  await ip('-6', 'route', 'add', '2001:db8:77::/48', 'via', 'fd02::1');
  return {
    host,
    async [Symbol.asyncDispose]() {
      await host[Symbol.asyncDispose]();
      await peer[Symbol.asyncDispose]();
    },
  };
}

describe('a host with two interfaces', () => {
  it('--iface-can-reach picks the interface the route takes (IPv4 and IPv6); --ip-blackhole-route is kept, then removed', async () => {
    await using etcd = await startEtcd();
    await using dir = await createTempDir();
    await using lab = await twoInterfaceHost();
    const client = connectEtcd({ endpoints: [etcd.endpoint] });
    try {
      await client.put('/coreos.com/network/config').value('{"Network":"10.1.0.0/16","EnableIPv6":true,"IPv6Network":"fc00:1::/56","Backend":{"Type":"alloc"}}').exec();
    } finally {
      client.close();
    }
    const flanneld = (args: string[]) =>
      startDaemon('ip', ['netns', 'exec', lab.host.name, FLANNELD_BIN, `--etcd-endpoints=${etcd.localEndpoint}`, `--subnet-file=${join(dir.path, 'subnet.env')}`, '--iptables-forward-rules=false', '--iptables-resync=1', ...args]);
    const blackholes = async () =>
      [...(await lab.host.ipJson<Array<{ dst: string }>>(['-4', 'route', 'show', 'type', 'blackhole'])), ...(await lab.host.ipJson<Array<{ dst: string }>>(['-6', 'route', 'show', 'type', 'blackhole']))].map((r) => r.dst);

    // Without selection flags: the default-route interface.
    {
      await using plain = flanneld([]);
      await plain.waitForOutput(/using interface name=a ip=10\.201\.1\.2 /);
    }
    // An IPv4 target behind b.
    {
      await using byV4 = flanneld(['--iface-can-reach=198.51.100.9', '--ip-blackhole-route']);
      await byV4.waitForOutput(/using interface name=b ip=10\.202\.1\.2 publicIP=10\.202\.1\.2 publicIPv6=fd02::2 /);
      const [, subnet, v6] = await byV4.waitForOutput(/wrote subnet file path=\S+ subnet=(\S+) ipv6Subnet=(\S+)/);
      await waitFor(async () => (await blackholes()).length === 2, { what: 'both blackhole routes' });
      expect((await blackholes()).sort()).toEqual([subnet, v6].sort());
      // Removed by hand: put back within --iptables-resync.
      await lab.host.exec('ip', ['route', 'del', 'blackhole', subnet!]);
      await waitFor(async () => (await blackholes()).includes(subnet!), { what: 'the blackhole route repaired' });
      expect(await byV4.stop()).toBe(0);
      // A restart without the flag removes them.
      await using again = flanneld(['--iface-can-reach=198.51.100.9']);
      await again.waitForOutput(/removed a blackhole route for the own subnet/);
      await waitFor(async () => (await blackholes()).length === 0, { what: 'no blackhole routes' });
    }
    // An IPv6 target behind b: b, with the route's source address.
    {
      await using byV6 = flanneld(['--iface-can-reach=2001:db8:77::5']);
      await byV6.waitForOutput(/using interface name=b ip=10\.202\.1\.2 publicIP=10\.202\.1\.2 publicIPv6=fd02::2 /);
    }
    // No route at all: a clear error, exit 1.
    await lab.host.exec('ip', ['route', 'del', 'default']);
    const unreachable = flanneld(['--iface-can-reach=203.0.113.9']);
    expect(await unreachable.exited()).toBe(1);
    expect(unreachable.output()).toMatch(/--iface-can-reach 203\.0\.113\.9: the kernel has no route to it/);
  });
});
