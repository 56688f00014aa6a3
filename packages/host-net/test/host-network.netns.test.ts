/**
 * The reads and the kernel monitor added for callers outside host-net (flanneld's interface choice, flannelctl
 * doctor, the vxlan backend's watch), against a real namespace, and the runner every command goes through.
 */
import { describe, expect, it } from 'vitest';
import type { KernelEvent } from '@flannel-ts/core';
import { createNetns, waitFor, type Netns } from '@flannel-ts/testkit';
import { createHostNetwork } from '../src/index.js';
import { createRecordingRunner } from './recording-runner.js';

/** eth0 (a veth, 192.0.2.5/24 and 2001:db8::5/64, default routes), a bridge br0 with the peer end as its port, and flannel.1 on eth0. */
async function host(ns: Netns): Promise<void> {
  const ip = (...args: string[]) => ns.exec('ip', args);
  await ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0');
  await ip('addr', 'add', '192.0.2.5/24', 'dev', 'eth0');
  await ip('-6', 'addr', 'add', '2001:db8::5/64', 'dev', 'eth0', 'nodad');
  await ip('link', 'set', 'eth0', 'up');
  await ip('link', 'add', 'br0', 'type', 'bridge');
  await ip('link', 'set', 'peer0', 'master', 'br0');
  await ip('link', 'set', 'peer0', 'up');
  await ip('route', 'add', 'default', 'via', '192.0.2.1');
  await ip('route', 'add', '198.51.100.0/24', 'via', '192.0.2.2');
  await ip('link', 'add', 'flannel.1', 'type', 'vxlan', 'id', '1', 'local', '192.0.2.5', 'dev', 'eth0', 'dstport', '8472', 'nolearning');
}

describe('HostNetwork reads in a namespace', () => {
  it('lists every link with its addresses, carrier, bridge and vxlan underlay', async () => {
    await using ns = await createNetns();
    await host(ns);
    const links = await createHostNetwork({ netns: ns.name }).links();
    const byName = new Map(links.map((l) => [l.name, l]));
    expect([...byName.keys()].sort()).toEqual(['br0', 'eth0', 'flannel.1', 'lo', 'peer0']);
    expect(byName.get('lo')).toMatchObject({ up: true, lowerUp: true, kind: undefined });
    const eth0 = byName.get('eth0')!;
    expect(eth0).toMatchObject({ up: true, lowerUp: true, kind: 'veth', mtu: 1500 });
    expect(eth0.addresses).toEqual(
      expect.arrayContaining([
        { family: 4, address: '192.0.2.5', prefixLength: 24, scope: 'global', deprecated: false, temporary: false, dynamic: false },
        { family: 6, address: '2001:db8::5', prefixLength: 64, scope: 'global', deprecated: false, temporary: false, dynamic: false },
      ]),
    );
    expect(byName.get('peer0')?.master).toBe('br0');
    // The underlay by name (iproute2 gives a name, or an index that is resolved to one).
    expect(byName.get('flannel.1')).toMatchObject({ kind: 'vxlan', up: false, vxlan: { vni: 1, local: '192.0.2.5', dev: 'eth0', port: 8472, learning: false } });
  });

  it('reads only the default route when asked for it', async () => {
    await using ns = await createNetns();
    await host(ns);
    const network = createHostNetwork({ netns: ns.name });
    expect(await network.routes({ family: 4, dst: 'default' })).toEqual([expect.objectContaining({ dst: 'default', gateway: '192.0.2.1', dev: 'eth0' })]);
    expect(await network.routes({ family: 6, dst: 'default' })).toEqual([]);
    expect((await network.routes({ family: 4 })).map((r) => r.dst)).toContain('198.51.100.0/24');
  });
});

describe('HostNetwork.monitor in a namespace', () => {
  it('reports link, address, neighbour, route and FDB changes of the namespace, and stops when the signal aborts', async () => {
    await using ns = await createNetns();
    await host(ns);
    const runner = createRecordingRunner();
    const network = createHostNetwork({ netns: ns.name, runner });
    const events: KernelEvent[] = [];
    let stopped = 0;
    const stop = new AbortController();
    network.monitor(['link', 'address', 'neighbour', 'route', 'fdb'], { onEvent: (e) => events.push(e), onStop: () => stopped++, onLost: () => undefined }, stop.signal);
    expect(runner.commands.filter((c) => c.kind === 'stream').map((c) => [c.command, ...c.args].join(' '))).toEqual([
      `ip -n ${ns.name} -o monitor label link address neigh route`,
      `bridge -n ${ns.name} -o monitor fdb`,
    ]);
    // The monitors subscribe asynchronously: change the MTU until a change is seen.
    let mtu = 1400;
    await waitFor(async () => {
      await network.apply([{ kind: 'link', name: 'flannel.1', mtu: mtu++ }]);
      return events.some((e) => e.object === 'link' && e.dev === 'flannel.1');
    }, { what: 'the ip monitor to report a change', intervalMs: 100 });
    await waitFor(async () => {
      await network.apply([{ kind: 'fdb', action: 'replace', dev: 'flannel.1', lladdr: '0a:58:0a:01:1f:00', dst: '192.0.2.12' }]);
      await network.apply([{ kind: 'fdb', action: 'delete', dev: 'flannel.1', lladdr: '0a:58:0a:01:1f:00', dst: '192.0.2.12' }]);
      return events.some((e) => e.object === 'fdb');
    }, { what: 'the bridge monitor to report a change', intervalMs: 100 });

    events.length = 0;
    await network.apply([
      { kind: 'link', name: 'flannel.1', up: true },
      { kind: 'address', action: 'replace', dev: 'flannel.1', cidr: '10.1.30.0/32' },
      { kind: 'neighbour', action: 'replace', dev: 'flannel.1', address: '10.1.31.0', lladdr: '0a:58:0a:01:1f:00' },
      { kind: 'route', action: 'replace', dst: '10.1.31.0/24', via: '10.1.31.0', dev: 'flannel.1', onlink: true },
      { kind: 'route', action: 'replace', dst: '10.1.40.0/24', via: '192.0.2.40', dev: 'eth0' },
      { kind: 'fdb', action: 'replace', dev: 'flannel.1', lladdr: '0a:58:0a:01:1f:00', dst: '192.0.2.12' },
    ]);
    await ns.exec('ip', ['link', 'del', 'flannel.1']);
    const seen = (match: Partial<KernelEvent>) => events.some((e) => Object.entries(match).every(([k, v]) => e[k as keyof KernelEvent] === v));
    await waitFor(() => seen({ object: 'link', deleted: true, dev: 'flannel.1' }), { what: 'the deletion of flannel.1' });
    expect(seen({ object: 'address', deleted: false, dev: 'flannel.1' })).toBe(true);
    expect(seen({ object: 'neighbour', deleted: false, dev: 'flannel.1' })).toBe(true);
    expect(seen({ object: 'route', deleted: false, dev: 'flannel.1', dst: '10.1.31.0/24', gateway: '10.1.31.0' })).toBe(true);
    expect(seen({ object: 'route', deleted: false, dev: 'eth0', dst: '10.1.40.0/24', gateway: '192.0.2.40' })).toBe(true);
    expect(seen({ object: 'fdb', deleted: false, dev: 'flannel.1' })).toBe(true);
    expect(seen({ object: 'link', deleted: false, dev: 'flannel.1' })).toBe(true);

    stop.abort();
    await waitFor(() => runner.streaming.size === 0, { what: 'both monitors to end' });
    expect(stopped).toBe(0);
  });

  it('calls onStop once when a monitor cannot run, and ends the other one', async () => {
    await using ns = await createNetns();
    const runner = createRecordingRunner();
    const network = createHostNetwork({ netns: ns.name, runner, ipCommand: '/nonexistent/ip' });
    let stopped = 0;
    network.monitor(['link', 'fdb'], { onEvent: () => undefined, onStop: () => stopped++, onLost: () => undefined }, new AbortController().signal);
    await waitFor(() => stopped === 1, { what: 'onStop' });
    await waitFor(() => runner.streaming.size === 0, { what: 'the bridge monitor to be ended too' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stopped).toBe(1);
  });
});

describe('the command runner', () => {
  it('sees every command HostNetwork runs: batches with their lines as stdin, and each read', async () => {
    await using ns = await createNetns();
    await host(ns);
    const runner = createRecordingRunner();
    const network = createHostNetwork({ netns: ns.name, runner });
    await network.apply([
      { kind: 'route', action: 'replace', dst: '10.1.31.0/24', via: '192.0.2.31', dev: 'eth0' },
      { kind: 'fdb', action: 'replace', dev: 'flannel.1', lladdr: '0a:58:0a:01:1f:00', dst: '192.0.2.12' },
    ]);
    await network.routes({ dev: 'eth0' });
    await network.links();
    await network.link('flannel.1');
    await network.fdb('flannel.1');
    await network.routeTo('198.51.100.7');
    expect(runner.commands.map((c) => [c.command, ...c.args].join(' '))).toEqual([
      `ip -n ${ns.name} -force -batch -`,
      `bridge -n ${ns.name} -force -batch -`,
      `ip -n ${ns.name} -j -4 route show dev eth0`,
      `ip -n ${ns.name} -j -d addr show`,
      `ip -n ${ns.name} -j -d link show dev flannel.1`,
      `bridge -n ${ns.name} -j fdb show dev flannel.1`,
      `ip -n ${ns.name} -j route get 198.51.100.7`,
    ]);
    expect(runner.commands[0]!.input).toBe('route replace 10.1.31.0/24 via 192.0.2.31 dev eth0\n');
    expect(runner.commands[1]!.input).toBe('fdb replace 0a:58:0a:01:1f:00 dev flannel.1 dst 192.0.2.12 self permanent\n');
    expect((await network.routeTo('198.51.100.7'))?.gateway).toBe('192.0.2.2');
  });

  it('reports a missing iproute2 as an error, not as an absent link', async () => {
    const network = createHostNetwork({ ipCommand: '/nonexistent/ip' });
    await expect(network.link('eth0')).rejects.toThrow(/could not be started .*install iproute2/);
  });
});
