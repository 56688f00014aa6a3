import { describe, expect, it } from 'vitest';
import { HostCommandError } from '@flannel-ts/core';
import { createNetns } from '@flannel-ts/testkit';
import { bridgeBatchLine, createHostNetwork, ipBatchLine } from '../src/index.js';

describe('batch lines', () => {
  it('renders each change as iproute2 does', () => {
    expect(ipBatchLine({ kind: 'link', name: 'flannel0', mtu: 1472, up: true })).toBe('link set dev flannel0 mtu 1472 up');
    expect(ipBatchLine({ kind: 'address', action: 'replace', dev: 'flannel0', cidr: '10.1.30.0/32' })).toBe('address replace 10.1.30.0/32 dev flannel0');
    expect(ipBatchLine({ kind: 'route', action: 'replace', dst: '10.1.31.0/24', via: '10.1.31.0', dev: 'flannel.1', onlink: true })).toBe('route replace 10.1.31.0/24 via 10.1.31.0 dev flannel.1 onlink');
    expect(ipBatchLine({ kind: 'neighbour', action: 'replace', dev: 'flannel.1', address: '10.1.31.0', lladdr: '02:00:00:00:00:01' })).toBe('neigh replace 10.1.31.0 lladdr 02:00:00:00:00:01 dev flannel.1 nud permanent');
    expect(bridgeBatchLine({ kind: 'fdb', action: 'replace', dev: 'flannel.1', lladdr: '02:00:00:00:00:01', dst: '192.0.2.12' })).toBe('fdb replace 02:00:00:00:00:01 dev flannel.1 dst 192.0.2.12 self permanent');
  });
});

describe('createHostNetwork in a namespace', () => {
  it('applies a batch and reads the state back with ip -j', async () => {
    await using ns = await createNetns();
    await ns.exec('ip', ['link', 'add', 'br-test', 'type', 'bridge']);
    const host = createHostNetwork({ netns: ns.name });
    const routes = Array.from({ length: 200 }, (_, i) => ({ kind: 'route', action: 'replace', dst: `10.9.${i}.0/24`, dev: 'br-test' }) as const);
    await host.apply([{ kind: 'link', name: 'br-test', mtu: 1400, up: true }, { kind: 'address', action: 'replace', dev: 'br-test', cidr: '10.9.255.1/32' }, ...routes]);
    expect(await host.link('br-test')).toMatchObject({ name: 'br-test', mtu: 1400, up: true, kind: 'bridge' });
    expect((await host.addresses('br-test')).filter((a) => a.family === 4)).toEqual([{ dev: 'br-test', cidr: '10.9.255.1/32', family: 4 }]);
    expect((await host.routes({ dev: 'br-test' })).map((r) => r.dst)).toHaveLength(200);
    // Idempotent: the same batch again changes nothing and does not fail.
    await host.apply(routes);
    expect(await host.link('absent0')).toBeUndefined();
  });

  it('applies every good line and reports each bad one', async () => {
    await using ns = await createNetns();
    await ns.exec('ip', ['link', 'add', 'br-test', 'type', 'bridge']);
    await ns.exec('ip', ['link', 'set', 'br-test', 'up']);
    const host = createHostNetwork({ netns: ns.name });
    const err = await host
      .apply([
        { kind: 'route', action: 'replace', dst: '10.8.1.0/24', dev: 'nosuchdev' },
        { kind: 'route', action: 'replace', dst: '10.8.2.0/24', dev: 'br-test' },
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostCommandError);
    expect((err as Error).message).toMatch(/1 of 2 changes failed: "route replace 10.8.1.0\/24 dev nosuchdev"/);
    expect((await host.routes({ dev: 'br-test' })).map((r) => r.dst)).toEqual(['10.8.2.0/24']);
  });
});
