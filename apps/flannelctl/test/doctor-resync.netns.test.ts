/**
 * doctor's kernel check and the backends' resync give the same answer on one host. In a namespace, the backend
 * programs the kernel from a set of leases (vxlan: flannel.1 with neighbour, FDB entry and route per peer; host-gw:
 * a route per peer, both families); then the kernel is damaged (entries deleted, changed, and stale ones added
 * inside the overlay). doctor's fix lines are then exactly the changes the backend's resync makes, and after the
 * resync doctor reports every entry in place and the backend's inspect finds nothing to change.
 */
import { describe, expect, it } from 'vitest';
import { IpNet, parseNetworkConfig, type HostChange, type HostNetwork, type Lease, type LeaseAttrs, type NetworkConfig } from '@flannel-ts/core';
import { hostGwBackend, inspectHostGw } from '@flannel-ts/backend-host-gw';
import { inspectVxlan, parseVxlanConfig, vxlanBackend } from '@flannel-ts/backend-vxlan';
import { createHostNetwork } from '@flannel-ts/host-net';
import { addDualStackUnderlay, createNetns, createRecordingLogger, type Netns } from '@flannel-ts/testkit';
import { checkKernelEntries } from '../src/run/doctor.js';
import { commandLine, type BackendView } from '../src/doctor/checks.js';
import type { Finding } from '../src/doctor/findings.js';

const VXLAN = parseNetworkConfig('{"Network":"10.1.0.0/16","Backend":{"Type":"vxlan"}}');
const HOST_GW = parseNetworkConfig('{"Network":"10.1.0.0/16","EnableIPv6":true,"IPv6Network":"fc00::/48","Backend":{"Type":"host-gw"}}');

function lease(subnet: string, attrs: LeaseAttrs, ipv6Subnet?: string): Lease {
  const net = IpNet.parse(subnet)!;
  return { key: `${net.ipText()}-${net.prefixLength}`, subnet: net, ipv6Subnet: ipv6Subnet ? IpNet.parse(ipv6Subnet) : undefined, attrs, expiresAt: undefined };
}

const vxlanPeer = (n: number): Lease => lease(`10.1.${n}.0/24`, { publicIP: `192.0.2.${n}`, backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: `02:00:00:00:00:${n.toString(16).padStart(2, '0')}` } });
const hostGwPeer = (n: number): Lease => lease(`10.1.${n}.0/24`, { publicIP: `192.0.2.${n}`, publicIPv6: `2001:db8::${n}`, backendType: 'host-gw' }, `fc00:0:0:${n}::/64`);

/** The namespace's HostNetwork, keeping every batch the backend applies through it. */
function recordingHost(ns: Netns): HostNetwork & { readonly applied: HostChange[] } {
  const host = createHostNetwork({ netns: ns.name });
  const applied: HostChange[] = [];
  return {
    ...host,
    applied,
    apply: async (changes) => {
      applied.push(...changes);
      await host.apply(changes);
    },
  };
}

/** The commands under doctor's findings (the repair note below them aside). */
function fixLines(findings: readonly Finding[]): string[] {
  return findings.flatMap((f) => (f.fix ?? '').split('\n')).filter((line) => /^(ip|bridge) /.test(line));
}

function doctorKernelCheck(input: { view: BackendView; own: Lease; peers: readonly Lease[]; config: NetworkConfig; host: HostNetwork }): Promise<Finding[]> {
  const iface = { name: 'eth0', mtu: 1500, addresses: [{ family: 4 as const, address: '192.0.2.5', prefixLength: 24 }, { family: 6 as const, address: '2001:db8::5', prefixLength: 64 }] };
  return checkKernelEntries({ ...input, iface, storeOk: true });
}

describe('doctor and resync agree on the kernel entries', () => {
  it('vxlan: doctor lists exactly what resync changes, and nothing after it', async () => {
    await using ns = await createNetns();
    const ext = await addDualStackUnderlay(ns);
    const host = recordingHost(ns);
    const config = parseVxlanConfig(VXLAN.backend);
    await using backend = vxlanBackend.create(config, { log: createRecordingLogger(), network: VXLAN, externalInterface: ext, host, signal: new AbortController().signal });
    const { attrs } = await backend.prepare();
    const own = lease('10.1.5.0/24', { publicIP: '192.0.2.5', ...attrs });
    await backend.attach(own);
    const peers = [6, 7, 8, 9].map(vxlanPeer);
    await backend.apply(peers.map((lease) => ({ type: 'added', lease }) as const));

    const view: BackendView = { type: 'vxlan', source: 'config', devices: [{ family: 4, name: 'flannel.1' }], vni: 1, port: 8472 };
    const check = () => doctorKernelCheck({ view, own, peers, config: VXLAN, host });
    const healthy = (await check()).map((f) => [f.check, f.status, f.message]);
    expect(healthy).toEqual([
      ['routes', 'ok', '4 peer routes on flannel.1, as the leases say'],
      ['neighbours', 'ok', '4 peer neighbour entries on flannel.1, as the leases say'],
      ['fdb', 'ok', '4 peer FDB entries on flannel.1, as the leases say'],
    ]);

    // Missing, wrong and stale entries of each kind.
    await ns.exec('ip', ['route', 'del', '10.1.6.0/24', 'dev', 'flannel.1']);
    await ns.exec('ip', ['route', 'replace', '10.1.7.0/24', 'via', '10.1.7.1', 'dev', 'flannel.1', 'onlink']);
    await ns.exec('ip', ['route', 'add', '10.1.50.0/24', 'via', '10.1.50.0', 'dev', 'flannel.1', 'onlink']);
    await ns.exec('ip', ['neigh', 'del', '10.1.8.0', 'dev', 'flannel.1']);
    await ns.exec('ip', ['neigh', 'replace', '10.1.9.0', 'lladdr', '02:00:00:00:00:99', 'dev', 'flannel.1', 'nud', 'permanent']);
    await ns.exec('ip', ['neigh', 'add', '10.1.50.0', 'lladdr', '02:00:00:00:00:50', 'dev', 'flannel.1', 'nud', 'permanent']);
    await ns.exec('bridge', ['fdb', 'del', '02:00:00:00:00:06', 'dev', 'flannel.1', 'dst', '192.0.2.6', 'self']);
    await ns.exec('bridge', ['fdb', 'replace', '02:00:00:00:00:07', 'dev', 'flannel.1', 'dst', '192.0.2.77', 'self', 'permanent']);
    await ns.exec('bridge', ['fdb', 'append', '02:00:00:00:00:50', 'dev', 'flannel.1', 'dst', '192.0.2.50', 'self', 'permanent']);

    const damaged = await check();
    expect(damaged.map((f) => [f.check, f.status, f.message])).toEqual([
      [
        'routes',
        'fail',
        '1 missing: 10.1.6.0/24 via 10.1.6.0 dev flannel.1 onlink (peer 192.0.2.6); ' +
          '1 wrong: 10.1.7.0/24 goes via 10.1.7.1 dev flannel.1, wanted 10.1.7.0/24 via 10.1.7.0 dev flannel.1 onlink (peer 192.0.2.7); ' +
          '1 stale: 10.1.50.0/24 via 10.1.50.0 dev flannel.1 (no lease for it)',
      ],
      [
        'neighbours',
        'fail',
        '1 missing: 10.1.8.0 lladdr 02:00:00:00:00:08 (peer 192.0.2.8); ' +
          '1 wrong: 10.1.9.0 has lladdr 02:00:00:00:00:99, the lease says 02:00:00:00:00:09 (peer 192.0.2.9); ' +
          '1 stale: 10.1.50.0 lladdr 02:00:00:00:00:50 (no lease for it)',
      ],
      ['fdb', 'fail', '1 missing: 02:00:00:00:00:06 dst 192.0.2.6; 1 wrong: 02:00:00:00:00:07 points at 192.0.2.77, the lease says 192.0.2.7; 1 stale: 02:00:00:00:00:50 dst 192.0.2.50 (no lease for it)'],
    ]);
    const reported = fixLines(damaged);
    expect(reported).toHaveLength(10);

    host.applied.length = 0;
    await backend.resync(peers);
    expect(host.applied.map(commandLine).sort()).toEqual([...reported].sort());

    expect((await check()).map((f) => [f.check, f.status, f.message])).toEqual(healthy);
    expect((await inspectVxlan(host, peers, own, { config, network: VXLAN, externalInterface: ext })).changes).toEqual([]);
  });

  it('host-gw: doctor lists exactly what resync changes, and nothing after it', async () => {
    await using ns = await createNetns();
    const ext = await addDualStackUnderlay(ns);
    const host = recordingHost(ns);
    await using backend = hostGwBackend.create(hostGwBackend.parseConfig(HOST_GW.backend), { log: createRecordingLogger(), network: HOST_GW, externalInterface: ext, host, signal: new AbortController().signal });
    await backend.prepare();
    const own = lease('10.1.5.0/24', { publicIP: '192.0.2.5', publicIPv6: '2001:db8::5', backendType: 'host-gw' }, 'fc00:0:0:5::/64');
    await backend.attach(own);
    const peers = [6, 7, 8].map(hostGwPeer);
    await backend.apply(peers.map((lease) => ({ type: 'added', lease }) as const));

    const view: BackendView = { type: 'host-gw', source: 'config', devices: [] };
    const check = () => doctorKernelCheck({ view, own, peers, config: HOST_GW, host });
    const healthy = (await check()).map((f) => [f.check, f.status, f.message]);
    expect(healthy).toEqual([['routes', 'ok', '6 peer routes on eth0, as the leases say']]);

    await ns.exec('ip', ['route', 'del', '10.1.6.0/24', 'dev', 'eth0']);
    await ns.exec('ip', ['route', 'replace', '10.1.7.0/24', 'via', '192.0.2.99', 'dev', 'eth0']);
    await ns.exec('ip', ['route', 'add', '10.1.50.0/24', 'via', '192.0.2.50', 'dev', 'eth0']);
    await ns.exec('ip', ['-6', 'route', 'del', 'fc00:0:0:8::/64', 'dev', 'eth0']);
    await ns.exec('ip', ['-6', 'route', 'add', 'fc00:0:0:50::/64', 'via', '2001:db8::50', 'dev', 'eth0']);
    // Outside the overlay, and the own subnet: neither doctor nor resync touches them.
    await ns.exec('ip', ['route', 'add', '198.51.100.0/24', 'via', '192.0.2.50', 'dev', 'eth0']);
    await ns.exec('ip', ['route', 'add', '10.1.5.0/24', 'via', '192.0.2.30', 'dev', 'eth0']);

    const damaged = await check();
    expect(damaged.map((f) => [f.check, f.status, f.message])).toEqual([
      [
        'routes',
        'fail',
        '2 missing: 10.1.6.0/24 via 192.0.2.6 dev eth0 (peer 192.0.2.6); fc00:0:0:8::/64 via 2001:db8::8 dev eth0 (peer 192.0.2.8); ' +
          '1 wrong: 10.1.7.0/24 goes via 192.0.2.99, wanted 192.0.2.7; ' +
          '2 stale: 10.1.50.0/24 via 192.0.2.50 (no lease for it); fc00:0:0:50::/64 via 2001:db8::50 (no lease for it)',
      ],
    ]);
    const reported = fixLines(damaged);
    expect(reported).toHaveLength(5);

    host.applied.length = 0;
    await backend.resync(peers);
    expect(host.applied.map(commandLine).sort()).toEqual([...reported].sort());

    expect((await check()).map((f) => [f.check, f.status, f.message])).toEqual(healthy);
    expect((await inspectHostGw(host, peers, own, { network: HOST_GW, externalInterface: ext })).changes).toEqual([]);
    expect(await ns.ipJson(['route', 'show', '198.51.100.0/24'])).toEqual([expect.objectContaining({ gateway: '192.0.2.50' })]);
  });
});
