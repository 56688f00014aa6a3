import { describe, expect, test } from 'vitest';
import type { Lease, LeaseAttrs } from '../src/lease.js';
import { leasesNamingAddresses, publicAddressesOf, sharedPublicAddresses } from '../src/public-ip.js';
import { parseSubnetKey } from '../src/subnet-key.js';

function lease(key: string, attrs: Partial<LeaseAttrs> = {}): Lease {
  const parsed = parseSubnetKey(key);
  if (!parsed.ok) throw new Error(parsed.reason);
  return { key, ...parsed.value, attrs: { publicIP: '192.0.2.2', ...attrs }, expiresAt: null };
}

const a = lease('10.1.1.0-24', { publicIP: '192.0.2.1', publicIPv6: '2001:db8::1' });
const b = lease('10.1.2.0-24', { publicIP: '192.0.2.2' });
const c = lease('10.1.3.0-24', { publicIP: '192.0.2.1' });
const d = lease('10.1.4.0-24', { publicIP: '192.0.2.4', publicIPv6: '2001:DB8:0::1' });
const none = lease('10.1.5.0-24', { publicIP: '0.0.0.0' });
const none2 = lease('10.1.6.0-24', { publicIP: '0.0.0.0' });

describe('public addresses', () => {
  test('a lease names its PublicIP and PublicIPv6, canonical, without 0.0.0.0', () => {
    expect(publicAddressesOf(a)).toEqual(['192.0.2.1', '2001:db8::1']);
    expect(publicAddressesOf(d)).toEqual(['192.0.2.4', '2001:db8::1']);
    expect(publicAddressesOf(none)).toEqual([]);
  });

  test('leases naming an address, except the own key, in the given order', () => {
    expect(leasesNamingAddresses([a, b, c, d], ['192.0.2.1']).map((l) => l.key)).toEqual([a.key, c.key]);
    expect(leasesNamingAddresses([a, b, c, d], ['192.0.2.1'], a.key).map((l) => l.key)).toEqual([c.key]);
    // IPv6 in any spelling, and undefined / 0.0.0.0 name nothing.
    expect(leasesNamingAddresses([a, b, c, d], ['2001:db8:0:0::1', undefined], d.key).map((l) => l.key)).toEqual([a.key]);
    expect(leasesNamingAddresses([a, none], ['0.0.0.0', undefined])).toEqual([]);
  });

  test('addresses shared by several leases; leases without an address share nothing', () => {
    const shared = sharedPublicAddresses([a, b, c, d, none, none2]);
    expect([...shared].map(([address, leases]) => [address, leases.map((l) => l.key)])).toEqual([
      ['192.0.2.1', [a.key, c.key]],
      ['2001:db8::1', [a.key, d.key]],
    ]);
    expect(sharedPublicAddresses([a, b]).size).toBe(0);
  });
});
