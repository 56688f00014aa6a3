import { describe, expect, it } from 'vitest';
import { isFlannelError } from '@flannel-ts/core';
import { selectExternalInterface, type InterfaceSelection, type LinkInfo } from '../src/index.js';

const links: LinkInfo[] = [
  { name: 'lo', index: 1, mtu: 65536, addresses: [{ family: 4, address: '127.0.0.1', prefixLength: 8, scope: 'host' }] },
  {
    name: 'eth0',
    index: 2,
    mtu: 1500,
    addresses: [
      { family: 6, address: 'fe80::1', prefixLength: 64, scope: 'link' },
      { family: 4, address: '192.0.2.10', prefixLength: 24, scope: 'global', dynamic: true },
      { family: 4, address: '192.0.2.11', prefixLength: 24, scope: 'global' },
    ],
  },
  { name: 'eth1', index: 3, mtu: 9000, addresses: [{ family: 4, address: '198.51.100.5', prefixLength: 24, scope: 'global' }] },
  { name: 'eth2', index: 4, mtu: 1500, addresses: [] },
];

const select = (overrides: Partial<InterfaceSelection>, defaults = { ipv4: 'eth0' }) =>
  selectExternalInterface(links, defaults, { iface: [], ifaceRegex: [], ifaceCanReach: '', publicIp: '', publicIpv6: '', needIPv4: true, needIPv6: false, ...overrides });

describe('selectExternalInterface', () => {
  it('uses the default route interface and its permanent global address', () => {
    expect(select({})).toMatchObject({ name: 'eth0', index: 2, mtu: 1500, ipv4: '192.0.2.11', publicIP: '192.0.2.11' });
  });

  it('tries --iface values in order, by name or address', () => {
    expect(select({ iface: ['eth9', 'eth1'] }).name).toBe('eth1');
    expect(select({ iface: ['198.51.100.5'] })).toMatchObject({ name: 'eth1', ipv4: '198.51.100.5' });
  });

  it('matches --iface-regex on addresses first, then names', () => {
    expect(select({ ifaceRegex: ['^198\\.51\\.'] }).name).toBe('eth1');
    expect(select({ ifaceRegex: ['^eth1$'] }).name).toBe('eth1');
  });

  it('advertises --public-ip but keeps the interface address (NAT)', () => {
    expect(select({ iface: ['eth1'], publicIp: '203.0.113.9' })).toMatchObject({ ipv4: '198.51.100.5', publicIP: '203.0.113.9' });
  });

  it('finds the interface holding --public-ip, else falls back to the default route (fixes quirk 12)', () => {
    expect(select({ publicIp: '198.51.100.5' }).name).toBe('eth1');
    expect(select({ publicIp: '203.0.113.9' })).toMatchObject({ name: 'eth0', publicIP: '203.0.113.9' });
  });

  it('allows loopback only when named explicitly', () => {
    expect(select({ iface: ['lo'] })).toMatchObject({ name: 'lo', ipv4: '127.0.0.1' });
  });

  it('fails clearly when nothing matches or the interface has no address', () => {
    const noMatch = (() => {
      try {
        select({ iface: ['eth9'] });
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(isFlannelError(noMatch, 'INTERFACE_NOT_FOUND')).toBe(true);
    expect((noMatch as Error).message).toMatch(/Failed to find interface to use that matches.*eth9.*interfaces here: lo, eth0, eth1, eth2/);
    expect(() => select({ iface: ['eth2'] })).toThrow(/eth2 has no usable IPv4 address/);
    expect(() => select({}, {} as { ipv4: string })).toThrow(/no default IPv4 route.*pass --iface/);
  });
});
