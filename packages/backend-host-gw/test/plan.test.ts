import { describe, expect, it } from 'vitest';
import type { IpFamily, RouteEntry } from '@flannel-ts/core';
import { diffChanges, diffRoutes, parseRouteDst, planRepairs, planRoutes, type PlannedRoute, type SkippedLease } from '../src/plan.js';
import { DUAL_STACK, IPV6_ONLY, NETWORK, lease } from './leases.js';

const route = (dst: string, via: string, leaseKey: string, family: IpFamily = 4): PlannedRoute => ({ family, dst, via, dev: 'eth0', lease: leaseKey });

describe('planRoutes', () => {
  it('routes each peer subnet via its PublicIP on the external interface', () => {
    const peers = [lease('10.1.31.0-24', '192.0.2.12'), lease('10.1.32.0-24', '192.0.2.13'), lease('10.1.7.0-24', '192.0.2.14')];
    expect(planRoutes(peers, { dev: 'eth0', network: NETWORK })).toEqual([
      route('10.1.31.0/24', '192.0.2.12', '10.1.31.0-24'),
      route('10.1.32.0/24', '192.0.2.13', '10.1.32.0-24'),
      route('10.1.7.0/24', '192.0.2.14', '10.1.7.0-24'),
    ]);
  });

  it('ignores leases of other backends and says so', () => {
    const skipped: SkippedLease[] = [];
    const peers = [
      lease('10.1.31.0-24', '192.0.2.12', { backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: '02:00:00:00:00:01' } }),
      lease('10.1.32.0-24', '192.0.2.13', { backendType: undefined }), // udp and alloc write no BackendType
      lease('10.1.33.0-24', '192.0.2.14'),
    ];
    expect(planRoutes(peers, { dev: 'eth0', network: NETWORK, onSkip: (s) => skipped.push(s) })).toEqual([route('10.1.33.0/24', '192.0.2.14', '10.1.33.0-24')]);
    expect(skipped.map((s) => [s.lease.key, s.reason])).toEqual([
      ['10.1.31.0-24', 'not-host-gw'],
      ['10.1.32.0-24', 'not-host-gw'],
    ]);
  });

  it('skips a lease without a usable public IP', () => {
    const skipped: SkippedLease[] = [];
    const peers = [lease('10.1.31.0-24', '0.0.0.0'), lease('10.1.32.0-24', 'not-an-ip'), lease('10.1.33.0-24', '192.0.2.14')];
    expect(planRoutes(peers, { dev: 'eth0', network: NETWORK, onSkip: (s) => skipped.push(s) }).map((r) => r.dst)).toEqual(['10.1.33.0/24']);
    expect(skipped.map((s) => [s.lease.key, s.reason, s.family])).toEqual([
      ['10.1.31.0-24', 'no-public-ip', 4],
      ['10.1.32.0-24', 'no-public-ip', 4],
    ]);
  });

  it('adds the IPv6 subnet via PublicIPv6 for dual stack', () => {
    const skipped: SkippedLease[] = [];
    const peers = [
      lease('10.1.31.0-24&fc00:0:0:1f::-64', '192.0.2.12', { publicIPv6: '2001:db8::12' }),
      lease('10.1.32.0-24&fc00:0:0:20::-64', '192.0.2.13'), // no PublicIPv6: IPv4 route only
    ];
    expect(planRoutes(peers, { dev: 'eth0', network: DUAL_STACK, onSkip: (s) => skipped.push(s) })).toEqual([
      route('10.1.31.0/24', '192.0.2.12', '10.1.31.0-24&fc00:0:0:1f::-64'),
      route('fc00:0:0:1f::/64', '2001:db8::12', '10.1.31.0-24&fc00:0:0:1f::-64', 6),
      route('10.1.32.0/24', '192.0.2.13', '10.1.32.0-24&fc00:0:0:20::-64'),
    ]);
    expect(skipped.map((s) => [s.lease.key, s.reason, s.family])).toEqual([['10.1.32.0-24&fc00:0:0:20::-64', 'no-public-ip', 6]]);
  });

  it('plans only the enabled families', () => {
    const peer = lease('10.1.31.0-24&fc00:0:0:1f::-64', '192.0.2.12', { publicIPv6: '2001:DB8::0012' });
    expect(planRoutes([peer], { dev: 'eth0', network: NETWORK }).map((r) => r.dst)).toEqual(['10.1.31.0/24']);
    // IPv6 only: the lease has no IPv4 part; the address is printed canonically.
    const v6 = lease('0.0.0.0-0&fc00:0:0:1f::-64', '0.0.0.0', { publicIPv6: '2001:DB8::0012' });
    expect(planRoutes([v6], { dev: 'ens3', network: IPV6_ONLY })).toEqual([{ family: 6, dst: 'fc00:0:0:1f::/64', via: '2001:db8::12', dev: 'ens3', lease: '0.0.0.0-0&fc00:0:0:1f::-64' }]);
  });
});

describe('diffRoutes', () => {
  const a = route('10.1.31.0/24', '192.0.2.12', 'a');
  const b = route('10.1.32.0/24', '192.0.2.13', 'b');
  const c = route('10.1.33.0/24', '192.0.2.14', 'c');

  it('adds new routes and deletes exactly the removed one', () => {
    expect(diffRoutes([], [a, b])).toEqual({ replace: [a, b], remove: [] });
    expect(diffRoutes([a, b], [a, b])).toEqual({ replace: [], remove: [] });
    expect(diffRoutes([a, b, c], [a, c])).toEqual({ replace: [], remove: [b] });
    expect(diffChanges(diffRoutes([a, b, c], [a, c]))).toEqual([{ kind: 'route', action: 'delete', dst: '10.1.32.0/24', via: '192.0.2.13', dev: 'eth0' }]);
  });

  it('replaces a route whose gateway changed, without deleting it first', () => {
    const moved = route('10.1.32.0/24', '192.0.2.99', 'b');
    expect(diffRoutes([a, b], [a, moved])).toEqual({ replace: [moved], remove: [] });
    expect(diffChanges(diffRoutes([a, b], [a, moved]))).toEqual([{ kind: 'route', action: 'replace', dst: '10.1.32.0/24', via: '192.0.2.99', dev: 'eth0' }]);
  });

  it('puts deletions before additions in one change list', () => {
    expect(diffChanges(diffRoutes([a], [b])).map((c) => `${c.kind === 'route' ? c.action : ''} ${c.kind === 'route' ? c.dst : ''}`)).toEqual(['delete 10.1.31.0/24', 'replace 10.1.32.0/24']);
  });
});

describe('parseRouteDst', () => {
  it('reads the destinations ip -j prints', () => {
    expect(parseRouteDst('10.1.31.0/24', 4)?.toString()).toBe('10.1.31.0/24');
    expect(parseRouteDst('10.1.40.5', 4)?.toString()).toBe('10.1.40.5/32');
    expect(parseRouteDst('fc00:0:0:1f::/64', 6)?.toString()).toBe('fc00:0:0:1f::/64');
    expect(parseRouteDst('default', 4)).toBeUndefined();
  });
});

describe('planRepairs', () => {
  const kernelRoute = (dst: string, gateway?: string, family: IpFamily = 4): RouteEntry & { family: IpFamily } => ({ family, dst, dev: 'eth0', gateway, flags: [] });
  const own = lease('10.1.30.0-24&fc00:0:0:1e::-64', '192.0.2.11', { publicIPv6: '2001:db8::11' });

  it('finds missing, wrong and stale routes', () => {
    const wanted = [route('10.1.31.0/24', '192.0.2.12', 'a'), route('10.1.32.0/24', '192.0.2.13', 'b'), route('10.1.33.0/24', '192.0.2.14', 'c')];
    const kernel = [
      kernelRoute('192.0.2.0/24'), // connected route: never touched
      kernelRoute('10.1.31.0/24', '192.0.2.12'), // right
      kernelRoute('10.1.32.0/24', '192.0.2.99'), // wrong gateway
      kernelRoute('10.1.50.0/24', '192.0.2.50'), // stale: no peer holds it
      kernelRoute('10.1.30.0/24', '192.0.2.11'), // the own subnet: left alone
      kernelRoute('10.1.60.0/24'), // no gateway: not a host-gw route
      kernelRoute('10.2.0.0/24', '192.0.2.50'), // outside the Network
      kernelRoute('10.1.40.5', '192.0.2.50'), // a host route inside the Network: not a route host-gw makes, left alone
      kernelRoute('10.1.64.0/18', '192.0.2.50'), // not a /SubnetLen: left alone
      { ...kernelRoute('10.1.51.0/24', '192.0.2.51'), protocol: 'dhcp' }, // installed by DHCP: left alone
      { ...kernelRoute('10.1.52.0/24', '192.0.2.52'), protocol: 'static' }, // by hand: stale
      kernelRoute('default', '192.0.2.1'),
    ];
    expect(planRepairs(wanted, kernel, { network: NETWORK, own })).toEqual({
      missing: [wanted[2]],
      wrong: [{ route: wanted[1], was: '192.0.2.99' }],
      stale: [
        { family: 4, dst: '10.1.50.0/24', via: '192.0.2.50', dev: 'eth0' },
        { family: 4, dst: '10.1.52.0/24', via: '192.0.2.52', dev: 'eth0' },
      ],
    });
  });

  it('has nothing to repair when the kernel matches the plan', () => {
    const wanted = [route('10.1.31.0/24', '192.0.2.12', 'a'), route('fc00:0:0:1f::/64', '2001:db8::12', 'a', 6)];
    const kernel = [kernelRoute('10.1.31.0/24', '192.0.2.12'), kernelRoute('fc00:0:0:1f::/64', '2001:db8:0::12', 6), kernelRoute('2001:db8::/64', undefined, 6)];
    expect(planRepairs(wanted, kernel, { network: DUAL_STACK, own })).toEqual({ missing: [], wrong: [], stale: [] });
  });

  it('handles IPv6 like IPv4, and only inside enabled Networks', () => {
    const kernel = [kernelRoute('fc00:0:0:50::/64', '2001:db8::50', 6), kernelRoute('fc00:0:0:1e::/64', '2001:db8::11', 6), kernelRoute('10.1.50.0/24', '192.0.2.50')];
    expect(planRepairs([], kernel, { network: DUAL_STACK, own }).stale.map((s) => s.dst)).toEqual(['fc00:0:0:50::/64', '10.1.50.0/24']);
    expect(planRepairs([], kernel, { network: NETWORK, own }).stale.map((s) => s.dst)).toEqual(['10.1.50.0/24']);
  });
});
