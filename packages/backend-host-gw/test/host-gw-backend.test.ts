/** The backend against a recording HostNetwork: batching, ordering and the NAT refusal, no kernel needed. */
import { describe, expect, it } from 'vitest';
import { ConfigError, type ExternalInterface, type HostChange, type HostNetwork, type NetworkConfig, type RouteEntry } from '@flannel-ts/core';
import { createRecordingLogger } from '@flannel-ts/testkit';
import { hostGwBackend } from '../src/index.js';
import { DUAL_STACK, NETWORK, lease } from './leases.js';

const EXT: ExternalInterface = { name: 'eth0', index: 2, mtu: 1500, ipv4: '192.0.2.11', ipv6: undefined, publicIP: '192.0.2.11', publicIPv6: undefined };

function fakeHost(kernel: (RouteEntry & { family?: 4 | 6 })[] = []) {
  const batches: HostChange[][] = [];
  const host: HostNetwork = {
    apply: async (changes) => void batches.push([...changes]),
    routes: async (filter = {}) => kernel.filter((r) => (r.family ?? 4) === (filter.family ?? 4)),
    addresses: async () => [],
    link: async () => undefined,
    links: async () => [],
    neighbours: async () => [],
    fdb: async () => [],
    routeTo: async () => undefined,
    monitor: () => undefined,
  };
  return { host, batches };
}

function backend(options: { ext?: Partial<ExternalInterface>; network?: NetworkConfig; kernel?: RouteEntry[] } = {}) {
  const { host, batches } = fakeHost(options.kernel);
  const log = createRecordingLogger();
  const network = options.network ?? NETWORK;
  const b = hostGwBackend.create(hostGwBackend.parseConfig(network.backend), {
    log,
    network,
    externalInterface: { ...EXT, ...options.ext },
    host,
    signal: new AbortController().signal,
  });
  return { b, batches, log };
}

const own = lease('10.1.30.0-24', '192.0.2.11');

describe('hostGwBackend', () => {
  it('has no options and refuses unknown keys (a typo must not pass silently)', () => {
    expect(hostGwBackend.type).toBe('host-gw');
    expect(hostGwBackend.parseConfig({ Type: 'host-gw' })).toEqual({});
    expect(() => hostGwBackend.parseConfig({ Type: 'host-gw', DirectRouting: true, Whatever: 1 })).toThrow(/unknown host-gw backend options "DirectRouting", "Whatever": the host-gw backend takes no options/);
  });

  it('publishes BackendType host-gw without BackendData, and the interface MTU', async () => {
    const { b, batches } = backend({ ext: { mtu: 9000 } });
    expect(await b.prepare()).toEqual({ attrs: { backendType: 'host-gw' }, mtu: 9000 });
    await b.attach(own);
    expect(batches).toEqual([]);
  });

  it('refuses a public IP that is not the interface address (NAT), naming the fix', async () => {
    const { b } = backend({ ext: { publicIP: '203.0.113.5' } });
    const err = await b.prepare().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain("your PublicIP differs from interface IP, meaning that probably you're on a NAT, which is not supported by host-gw backend");
    expect((err as Error).message).toMatch(/drop --public-ip .*or use the vxlan backend/);
  });

  it('refuses NAT for IPv6 when IPv6 is enabled, and accepts the same address in another spelling', async () => {
    const v6 = { ipv6: '2001:db8::11', publicIPv6: '2001:db8::99' };
    await expect(backend({ network: DUAL_STACK, ext: v6 }).b.prepare()).rejects.toThrow(/your PublicIPv6 differs from interface IPv6.*--public-ipv6/);
    await expect(backend({ network: DUAL_STACK, ext: { ipv6: '2001:db8::11', publicIPv6: '2001:DB8:0::11' } }).b.prepare()).resolves.toMatchObject({ mtu: 1500 });
    // IPv6 not enabled: its addresses are not looked at.
    await expect(backend({ ext: v6 }).b.prepare()).resolves.toMatchObject({ mtu: 1500 });
  });

  it('sends one batch per lease batch, with exactly the changed routes', async () => {
    const { b, batches, log } = backend();
    await b.prepare();
    await b.attach(own);
    const p2 = lease('10.1.31.0-24', '192.0.2.12');
    const p3 = lease('10.1.32.0-24', '192.0.2.13');
    const vx = lease('10.1.33.0-24', '192.0.2.14', { backendType: 'vxlan' });
    await b.apply([
      { type: 'added', lease: p2 },
      { type: 'added', lease: p3 },
      { type: 'added', lease: vx },
    ]);
    expect(batches).toEqual([
      [
        { kind: 'route', action: 'replace', dst: '10.1.31.0/24', via: '192.0.2.12', dev: 'eth0' },
        { kind: 'route', action: 'replace', dst: '10.1.32.0/24', via: '192.0.2.13', dev: 'eth0' },
      ],
    ]);
    expect(log.find('ignoring non-host-gw lease')).toMatchObject({ level: 'debug', fields: { subnet: '10.1.33.0-24', backendType: 'vxlan' } });

    // A renewal (same lease again) changes nothing and sends nothing.
    await b.apply([{ type: 'added', lease: p2 }]);
    expect(batches).toHaveLength(1);

    // A peer that changed its address: removed + added in one batch = one replace.
    const p2moved = lease('10.1.31.0-24', '192.0.2.22');
    await b.apply([
      { type: 'removed', lease: p2 },
      { type: 'added', lease: p2moved },
    ]);
    expect(batches[1]).toEqual([{ kind: 'route', action: 'replace', dst: '10.1.31.0/24', via: '192.0.2.22', dev: 'eth0' }]);

    await b.apply([{ type: 'removed', lease: p3 }]);
    expect(batches[2]).toEqual([{ kind: 'route', action: 'delete', dst: '10.1.32.0/24', via: '192.0.2.13', dev: 'eth0' }]);

    // The own lease never gets a route, even if it shows up in a batch.
    await b.apply([{ type: 'added', lease: own }]);
    expect(batches).toHaveLength(3);
  });

  it('drops the route of a peer subnet this host now holds after a re-acquire', async () => {
    const { b, batches } = backend();
    await b.prepare();
    await b.attach(own);
    const p2 = lease('10.1.31.0-24', '192.0.2.12');
    await b.apply([{ type: 'added', lease: p2 }]);
    await b.attach(lease('10.1.31.0-24', '192.0.2.11'));
    expect(batches[1]).toEqual([{ kind: 'route', action: 'delete', dst: '10.1.31.0/24', via: '192.0.2.12', dev: 'eth0' }]);
  });

  it('warns once about a peer without a public IP, not on every resync', async () => {
    const { b, log } = backend();
    await b.prepare();
    await b.attach(own);
    const peers = [lease('10.1.31.0-24', '0.0.0.0')];
    await b.resync(peers);
    await b.resync(peers);
    expect(log.records.filter((r) => r.level === 'warn').map((r) => [r.message, r.fields['subnet']])).toEqual([['ignoring peer without a public IPv4 address', '10.1.31.0-24']]);
  });

  it('repairs the kernel in one batch on resync and logs each repair', async () => {
    const { b, batches, log } = backend({
      kernel: [
        { dst: '192.0.2.0/24', dev: 'eth0', flags: [], scope: 'link' },
        { dst: '10.1.31.0/24', dev: 'eth0', gateway: '192.0.2.99', flags: [] },
        { dst: '10.1.50.0/24', dev: 'eth0', gateway: '192.0.2.50', flags: [] },
      ],
    });
    await b.prepare();
    await b.attach(own);
    const peers = [lease('10.1.31.0-24', '192.0.2.12'), lease('10.1.32.0-24', '192.0.2.13')];
    // Programmed once; the fake kernel then lacks 10.1.32.0/24 (lost) and has the wrong gateway for 10.1.31.0/24.
    await b.apply(peers.map((lease) => ({ type: 'added', lease }) as const));
    await b.resync([...peers, lease('10.1.33.0-24', '192.0.2.14')]);
    expect(batches[1]).toEqual([
      { kind: 'route', action: 'delete', dst: '10.1.50.0/24', via: '192.0.2.50', dev: 'eth0' },
      { kind: 'route', action: 'replace', dst: '10.1.32.0/24', via: '192.0.2.13', dev: 'eth0' },
      { kind: 'route', action: 'replace', dst: '10.1.33.0/24', via: '192.0.2.14', dev: 'eth0' },
      { kind: 'route', action: 'replace', dst: '10.1.31.0/24', via: '192.0.2.12', dev: 'eth0' },
    ]);
    // A route it had programmed is "recovered"; one it never programmed (a peer first seen in the listing) is not.
    expect(log.records.filter((r) => r.level === 'info' && r.message !== 'host-gw backend ready').map((r) => [r.message, r.fields['subnet']])).toEqual([
      ['stale route removed', '10.1.50.0/24'],
      ['route recovered', '10.1.32.0/24'],
      ['route corrected', '10.1.31.0/24'],
    ]);
    expect(log.records.filter((r) => r.message === 'adding route').map((r) => r.fields['subnet'])).toEqual(['10.1.31.0/24', '10.1.32.0/24', '10.1.33.0/24']);
    // After a resync, apply diffs against the resynced plan.
    await b.apply([{ type: 'removed', lease: lease('10.1.32.0-24', '192.0.2.13') }]);
    expect(batches[2]).toEqual([{ kind: 'route', action: 'delete', dst: '10.1.32.0/24', via: '192.0.2.13', dev: 'eth0' }]);
  });

  it('runs apply and resync one at a time', async () => {
    const { host } = fakeHost();
    const calls: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slowHost: HostNetwork = {
      ...host,
      apply: async (changes) => {
        calls.push('apply started');
        await gate;
        await host.apply(changes);
        calls.push('apply done');
      },
      routes: async (filter) => (calls.push('routes read'), host.routes(filter)),
    };
    const b = hostGwBackend.create({}, { log: createRecordingLogger(), network: NETWORK, externalInterface: EXT, host: slowHost, signal: new AbortController().signal });
    await b.attach(own);
    const applying = b.apply([{ type: 'added', lease: lease('10.1.31.0-24', '192.0.2.12') }]);
    const resyncing = b.resync([]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(calls).toEqual(['apply started']);
    release();
    await Promise.all([applying, resyncing]);
    expect(calls).toEqual(['apply started', 'apply done', 'routes read']);
  });
});
