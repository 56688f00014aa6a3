/**
 * inspectVxlan against a real kernel: in a namespace with eth0 (a veth, 192.0.2.5/24), what it reports about the
 * device (gone, of another MTU, down, a stray address) and its entries is exactly what resync applies, and applying
 * it leaves nothing to report.
 */
import { describe, expect, it } from 'vitest';
import { IpNet, parseNetworkConfig, type ExternalInterface, type HostChange, type HostNetwork, type Lease, type LeaseAttrs } from '@flannel-ts/core';
import { createHostNetwork } from '@flannel-ts/host-net';
import { createContractNamespace, createRecordingLogger, type Netns } from '@flannel-ts/testkit';
import { inspectVxlan, parseVxlanConfig, vxlanBackend } from '../src/index.js';

const NETWORK = parseNetworkConfig('{"Network":"10.1.0.0/16","Backend":{"Type":"vxlan"}}');
const CONFIG = parseVxlanConfig(NETWORK.backend);

function lease(subnet: string, attrs: LeaseAttrs): Lease {
  const net = IpNet.parse(subnet)!;
  return { key: `${net.ipText()}-${net.prefixLength}`, subnet: net, ipv6Subnet: undefined, attrs, expiresAt: undefined };
}

const peer = (n: number): Lease => lease(`10.1.${n}.0/24`, { publicIP: `192.0.2.${n}`, backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: `02:00:00:00:00:0${n}` } });
const PEERS = [6, 7].map(peer);

/** eth0 of testkit's contract namespace (192.0.2.5/24) as the external interface. */
async function underlay(ns: Netns): Promise<ExternalInterface> {
  const [link] = await ns.ipJson<Array<{ ifindex: number; mtu: number }>>(['link', 'show', 'eth0']);
  return { name: 'eth0', index: link!.ifindex, mtu: link!.mtu, ipv4: '192.0.2.5', ipv6: undefined, publicIP: '192.0.2.5', publicIPv6: undefined };
}

function recordingHost(ns: Netns): HostNetwork & { readonly applied: HostChange[] } {
  const host = createHostNetwork({ netns: ns.name });
  const applied: HostChange[] = [];
  return { ...host, applied, apply: async (changes) => (applied.push(...changes), host.apply(changes)) };
}

describe('inspectVxlan in a namespace', () => {
  it('reports a changed device and entries, and resync applies exactly that', async () => {
    await using ns = await createContractNamespace();
    const ext = await underlay(ns);
    const host = recordingHost(ns);
    await using backend = vxlanBackend.create(CONFIG, { log: createRecordingLogger(), network: NETWORK, externalInterface: ext, host, signal: new AbortController().signal });
    const { attrs } = await backend.prepare();
    const own = lease('10.1.5.0/24', { publicIP: '192.0.2.5', ...attrs });
    await backend.attach(own);
    await backend.apply(PEERS.map((lease) => ({ type: 'added', lease }) as const));
    const inspect = () => inspectVxlan(host, PEERS, own, { config: CONFIG, network: NETWORK, externalInterface: ext });
    expect(await inspect()).toEqual({ devices: [{ device: 'flannel.1', family: 4, problems: [], entries: expect.any(Array) }], changes: [] });

    await ns.exec('ip', ['link', 'set', 'flannel.1', 'mtu', '1400']);
    await ns.exec('ip', ['addr', 'add', '10.1.99.0/32', 'dev', 'flannel.1']);
    await ns.exec('ip', ['route', 'del', '10.1.7.0/24', 'dev', 'flannel.1']);
    const changed = await inspect();
    expect(changed.devices[0]!.problems).toEqual([
      { problem: 'link', detail: 'flannel.1: MTU 1400, not 1450', changes: [{ kind: 'link', name: 'flannel.1', mtu: 1450, up: true }] },
      { problem: 'address', detail: 'flannel.1: stray 10.1.99.0/32', changes: [{ kind: 'address', action: 'delete', dev: 'flannel.1', cidr: '10.1.99.0/32' }] },
    ]);
    expect(changed.devices[0]!.entries.find((group) => group.kind === 'route')!.drift).toEqual([
      {
        problem: 'missing',
        wanted: { kind: 'route', dst: '10.1.7.0/24', via: '10.1.7.0', dev: 'flannel.1', onlink: true },
        found: [],
        changes: [{ kind: 'route', action: 'replace', dst: '10.1.7.0/24', via: '10.1.7.0', dev: 'flannel.1', onlink: true }],
      },
    ]);
    // Down takes the device's routes with it: both are missing then.
    await ns.exec('ip', ['link', 'set', 'flannel.1', 'down']);
    const found = await inspect();
    expect(found.devices[0]!.problems[0]).toMatchObject({ problem: 'link', detail: 'flannel.1: MTU 1400, not 1450, down' });
    expect(found.devices[0]!.entries.find((group) => group.kind === 'route')!.drift.map((d) => `${d.problem} ${d.wanted?.kind === 'route' ? d.wanted.dst : ''}`)).toEqual(['missing 10.1.6.0/24', 'missing 10.1.7.0/24']);

    host.applied.length = 0;
    await backend.resync(PEERS);
    expect(host.applied).toEqual(found.changes);
    expect((await inspect()).changes).toEqual([]);
    const [link] = await ns.ipJson<Array<{ mtu: number; flags: string[] }>>(['link', 'show', 'flannel.1']);
    expect(link).toMatchObject({ mtu: 1450, flags: expect.arrayContaining(['UP']) });
  });

  it('reports a missing device with everything it takes to re-create and program it, with the lease MAC', async () => {
    await using ns = await createContractNamespace();
    const ext = await underlay(ns);
    const host = createHostNetwork({ netns: ns.name });
    const own = lease('10.1.5.0/24', { publicIP: '192.0.2.5', backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: '02:00:00:00:00:05' } });
    const found = await inspectVxlan(host, PEERS, own, { config: CONFIG, network: NETWORK, externalInterface: ext });
    expect(found.devices[0]!.problems).toEqual([
      {
        problem: 'missing',
        detail: 'flannel.1 does not exist',
        changes: [
          { kind: 'vxlan', name: 'flannel.1', vni: 1, local: '192.0.2.5', dev: 'eth0', port: 8472, learning: false, gbp: false, mtu: 1450, address: '02:00:00:00:00:05' },
          { kind: 'link', name: 'flannel.1', up: true },
        ],
      },
      { problem: 'address', detail: 'flannel.1: lacks 10.1.5.0/32', changes: [{ kind: 'address', action: 'replace', dev: 'flannel.1', cidr: '10.1.5.0/32' }] },
    ]);
    expect(found.devices[0]!.entries.map((group) => [group.kind, group.wanted, group.drift.map((d) => d.problem)])).toEqual([
      ['route', 2, ['missing', 'missing']],
      ['neighbour', 2, ['missing', 'missing']],
      ['fdb', 2, ['missing', 'missing']],
    ]);

    await host.apply(found.changes);
    expect((await inspectVxlan(host, PEERS, own, { config: CONFIG, network: NETWORK, externalInterface: ext })).changes).toEqual([]);
    const [link] = await ns.ipJson<Array<{ address: string; mtu: number }>>(['link', 'show', 'flannel.1']);
    expect(link).toMatchObject({ address: '02:00:00:00:00:05', mtu: 1450 });
  });
});
