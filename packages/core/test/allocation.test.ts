import { describe, expect, test } from 'vitest';
import { CANDIDATE_LIMIT, freeSubnets, leaseFitsConfig, planAllocation, type AllocationInput } from '../src/allocation.js';
import { FlannelError } from '../src/errors.js';
import { IpNet } from '../src/ip.js';
import type { Lease } from '../src/lease.js';
import { resolveNetworkConfig, type NetworkConfig } from '../src/network-config.js';
import { parseSubnetKey } from '../src/subnet-key.js';

function lease(key: string, publicIP: string): Lease {
  const parsed = parseSubnetKey(key);
  if (!parsed.ok) throw new Error(parsed.reason);
  return { key, ...parsed.value, attrs: { publicIP }, expiresAt: 1_000 };
}

const net = (text: string): IpNet => {
  const parsed = IpNet.parse(text);
  if (!parsed) throw new Error(`bad CIDR in test: ${text}`);
  return parsed;
};

const config16 = resolveNetworkConfig({ Network: '10.3.0.0/16' });
const config28 = resolveNetworkConfig({ Network: '10.3.0.0/28' });

function plan(overrides: Partial<AllocationInput> & { config?: NetworkConfig }): ReturnType<typeof planAllocation> {
  return planAllocation({ config: config16, leases: [], publicIP: '192.0.2.1', random: () => 0, ...overrides });
}

/** The IPv4 subnet a 'create' plan chose, as text. */
function created(result: ReturnType<typeof planAllocation>): string | undefined {
  if (result.kind !== 'create') throw new Error(`expected a create plan, got ${result.kind}`);
  return result.subnets.subnet?.toString();
}

describe('derived examples (flannel-compat.md §3)', () => {
  test('10.3.0.0/28 with .4/30 .8/30 .12/30 leased is exhausted', () => {
    const leases = [lease('10.3.0.4-30', '192.0.2.4'), lease('10.3.0.8-30', '192.0.2.8'), lease('10.3.0.12-30', '192.0.2.12')];
    let caught: unknown;
    try {
      plan({ config: config28, leases });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FlannelError);
    expect((caught as FlannelError).code).toBe('SUBNET_EXHAUSTED');
    expect((caught as FlannelError).message).toContain('out of subnets');
    expect((caught as FlannelError).message).toContain('10.3.0.4 to 10.3.0.12');
  });

  test.each([0, 0.5, 0.999999])('10.3.0.0/28 with .4 and .12 leased gives 10.3.0.8/30 (random %s)', (r) => {
    const leases = [lease('10.3.0.4-30', '192.0.2.4'), lease('10.3.0.12-30', '192.0.2.12')];
    const result = plan({ config: config28, leases, random: () => r });
    expect(result).toMatchObject({ kind: 'create', source: 'random', stale: [] });
    expect(created(result)).toBe('10.3.0.8/30');
  });

  test('an existing 10.3.0.0/17 lease blocks every /24 in 10.3.0.0-10.3.127.0', () => {
    const blocker = lease('10.3.0.0-17', '192.0.2.99');
    const free = freeSubnets(config16.ipv4!, [blocker], 1000);
    expect(free).toHaveLength(128);
    expect(free[0]?.toString()).toBe('10.3.128.0/24');
    expect(free.at(-1)?.toString()).toBe('10.3.255.0/24');
    expect(free.every((subnet) => !blocker.subnet!.overlaps(subnet))).toBe(true);
    expect(created(plan({ leases: [blocker] }))).toBe('10.3.128.0/24');
  });
});

describe('reuse by PublicIP', () => {
  test('a fitting lease with the same PublicIP is reused', () => {
    const own = lease('10.3.5.0-24', '192.0.2.1');
    const leases = [lease('10.3.1.0-24', '192.0.2.2'), own];
    expect(plan({ leases })).toEqual({ kind: 'reuse', lease: own, stale: [] });
  });

  test('the reused lease wins over a previous subnet', () => {
    const own = lease('10.3.5.0-24', '192.0.2.1');
    const result = plan({ leases: [own], previous: { subnet: net('10.3.6.0/24') } });
    expect(result.kind).toBe('reuse');
  });

  test('an incompatible own lease becomes stale and a new subnet is created', () => {
    const own = lease('10.4.1.0-24', '192.0.2.1'); // left over from before the network changed
    const other = lease('10.3.1.0-24', '192.0.2.2');
    const result = plan({ leases: [own, other] });
    expect(result.kind).toBe('create');
    expect(result.stale).toEqual([own]);
    expect(created(result)).toBe('10.3.2.0/24');
  });

  test('an own lease with the wrong prefix length is stale, and no longer blocks its range', () => {
    const own = lease('10.3.1.0-25', '192.0.2.1');
    const result = plan({ leases: [own] });
    expect(result.stale).toEqual([own]);
    expect(created(result)).toBe('10.3.1.0/24');
  });

  test('after the network changes to 10.4.0.0/16 a new lease is acquired', () => {
    const own = lease('10.3.5.0-24', '192.0.2.1');
    const result = plan({ config: resolveNetworkConfig({ Network: '10.4.0.0/16' }), leases: [own] });
    expect(result.stale).toEqual([own]);
    expect(created(result)).toBe('10.4.1.0/24');
  });

  test('0.0.0.0 does not match another lease with 0.0.0.0 (flannel matches it)', () => {
    const anonymous = lease('10.3.1.0-24', '0.0.0.0');
    const result = plan({ leases: [anonymous], publicIP: '0.0.0.0' });
    expect(result).toMatchObject({ kind: 'create', source: 'random', stale: [] });
    expect(created(result)).toBe('10.3.2.0/24');
  });
});

describe('previous subnet from subnet.env', () => {
  test('10.3.6.0/24 in 10.3.0.0/16 is reused', () => {
    const result = plan({ leases: [lease('10.3.1.0-24', '192.0.2.2')], previous: { subnet: net('10.3.6.0/24') } });
    expect(result).toMatchObject({ kind: 'create', source: 'previous', stale: [] });
    expect(created(result)).toBe('10.3.6.0/24');
  });

  test('10.4.1.0/24 outside the network is not reused', () => {
    const result = plan({ previous: { subnet: net('10.4.1.0/24') } });
    expect(result).toMatchObject({ kind: 'create', source: 'random' });
    expect(created(result)).toBe('10.3.1.0/24');
  });

  test('a previous subnet of the wrong length is not reused', () => {
    expect(plan({ previous: { subnet: net('10.3.6.0/25') } })).toMatchObject({ source: 'random' });
  });

  test('a previous subnet held by another lease is not reused', () => {
    const result = plan({ leases: [lease('10.3.6.0-24', '192.0.2.2')], previous: { subnet: net('10.3.6.0/24') } });
    expect(result).toMatchObject({ source: 'random' });
    expect(created(result)).toBe('10.3.1.0/24');
  });

  test('a previous subnet that overlaps another lease is not reused (flannel only tests equality)', () => {
    const overlapping = lease('10.3.6.128-25', '192.0.2.2');
    expect(plan({ leases: [overlapping], previous: { subnet: net('10.3.6.0/24') } })).toMatchObject({ source: 'random' });
    const covering = lease('10.3.0.0-17', '192.0.2.3');
    const result = plan({ leases: [covering], previous: { subnet: net('10.3.6.0/24') } });
    expect(result).toMatchObject({ source: 'random' });
    expect(created(result)).toBe('10.3.128.0/24');
  });

  test('the previous subnet may be the stale own lease being replaced', () => {
    const own = lease('10.3.6.0-25', '192.0.2.1');
    const result = plan({ leases: [own], previous: { subnet: net('10.3.6.0/24') } });
    expect(result).toMatchObject({ kind: 'create', source: 'previous', stale: [own] });
  });
});

describe('random choice', () => {
  test('is among the first 100 free candidates', () => {
    expect(CANDIDATE_LIMIT).toBe(100);
    const free = freeSubnets(config16.ipv4!, []);
    expect(free).toHaveLength(100);
    expect(free[0]?.toString()).toBe('10.3.1.0/24');
    expect(free[99]?.toString()).toBe('10.3.100.0/24');

    expect(created(plan({ random: () => 0 }))).toBe('10.3.1.0/24');
    expect(created(plan({ random: () => 0.5 }))).toBe('10.3.51.0/24');
    expect(created(plan({ random: () => 0.999999 }))).toBe('10.3.100.0/24');
  });

  test('a random() of exactly 1 still picks a candidate', () => {
    expect(created(plan({ random: () => 1 }))).toBe('10.3.100.0/24');
  });

  test('skips leased subnets, including reservations and leases outside the pool', () => {
    const leases = [
      { ...lease('10.3.1.0-24', '192.0.2.2'), expiresAt: null },
      lease('10.3.2.4-30', '192.0.2.3'),
      lease('10.3.0.0-23', '192.0.2.4'),
    ];
    const free = freeSubnets(config16.ipv4!, leases, 3).map(String);
    expect(free).toEqual(['10.3.3.0/24', '10.3.4.0/24', '10.3.5.0/24']);
    const outside = freeSubnets(config16.ipv4!, [lease('10.0.0.0-8', '192.0.2.5')]);
    expect(outside).toEqual([]);
  });

  test('honours SubnetMin and SubnetMax', () => {
    const config = resolveNetworkConfig({ Network: '10.3.0.0/16', SubnetMin: '10.3.10.0', SubnetMax: '10.3.12.0' });
    expect(freeSubnets(config.ipv4!, [lease('10.3.11.0-24', '192.0.2.2')]).map(String)).toEqual(['10.3.10.0/24', '10.3.12.0/24']);
  });
});

describe('dual stack', () => {
  const dual = resolveNetworkConfig({ Network: '10.3.0.0/16', EnableIPv6: true, IPv6Network: 'fc00::/48' });

  test('picks IPv4 and IPv6 subnets independently', () => {
    const leases = [lease('10.3.1.0-24&fc00:0:0:1::-64', '192.0.2.2'), lease('10.3.2.0-24&fc00:0:0:3::-64', '192.0.2.3')];
    const result = plan({ config: dual, leases });
    if (result.kind !== 'create') throw new Error('expected create');
    expect(result.subnets.subnet?.toString()).toBe('10.3.3.0/24');
    expect(result.subnets.ipv6Subnet?.toString()).toBe('fc00:0:0:2::/64');
  });

  test('an IPv4-only own lease is stale when IPv6 is enabled', () => {
    const own = lease('10.3.5.0-24', '192.0.2.1');
    expect(plan({ config: dual, leases: [own] }).stale).toEqual([own]);
  });

  test('a previous subnet without IPv6 is not reused when IPv6 is enabled', () => {
    expect(plan({ config: dual, previous: { subnet: net('10.3.6.0/24') } })).toMatchObject({ source: 'random' });
    expect(plan({ config: dual, previous: { subnet: net('10.3.6.0/24'), ipv6Subnet: net('fc00:0:0:6::/64') } })).toMatchObject({
      source: 'previous',
    });
  });

  test('IPv6 exhaustion is reported even when IPv4 has room', () => {
    const small = resolveNetworkConfig({ Network: '10.3.0.0/16', EnableIPv6: true, IPv6Network: 'fc00::/124' });
    const leases = [lease('10.3.1.0-24&fc00::-124', '192.0.2.2')];
    expect(() => plan({ config: small, leases })).toThrow(/out of subnets: .* in IPv6Network fc00::\/124/);
  });
});

describe('leaseFitsConfig', () => {
  test('checks both families', () => {
    expect(leaseFitsConfig(config16, { subnet: net('10.3.6.0/24') })).toBe(true);
    expect(leaseFitsConfig(config16, { subnet: net('10.3.0.0/24') })).toBe(false); // below SubnetMin
    expect(leaseFitsConfig(config16, { subnet: net('10.3.6.0/24'), ipv6Subnet: net('fc00::/64') })).toBe(false);
    expect(leaseFitsConfig(config16, {})).toBe(false);
  });
});
