import { describe, expect, test } from 'vitest';
import { IpNet } from '../src/ip.js';
import { formatSubnetKey, parseSubnetKey, subnetIdentity, type LeaseSubnets } from '../src/subnet-key.js';

const net = (text: string): IpNet => {
  const parsed = IpNet.parse(text);
  if (!parsed) throw new Error(`bad CIDR in test: ${text}`);
  return parsed;
};

/** Parses a key that must be valid and returns its subnets as CIDR text. */
function parsed(key: string): { subnet: string | undefined; ipv6Subnet: string | undefined } {
  const result = parseSubnetKey(key);
  if (!result.ok) throw new Error(`expected ${key} to parse: ${result.reason}`);
  return { subnet: result.value.subnet?.toString(), ipv6Subnet: result.value.ipv6Subnet?.toString() };
}

describe('formatSubnetKey (flannel-compat.md §1.3)', () => {
  test('IPv4 only', () => {
    expect(formatSubnetKey({ subnet: net('10.1.30.0/24'), ipv6Subnet: undefined })).toBe('10.1.30.0-24');
  });

  test('dual stack, IPv6 in Go canonical text', () => {
    expect(formatSubnetKey({ subnet: net('10.1.30.0/24'), ipv6Subnet: net('fc00:0:0:1e:0:0:0:0/64') })).toBe(
      '10.1.30.0-24&fc00:0:0:1e::-64',
    );
  });

  test('IPv6 only uses 0.0.0.0-0 for the IPv4 part', () => {
    expect(formatSubnetKey({ subnet: undefined, ipv6Subnet: net('FC00::/64') })).toBe('0.0.0.0-0&fc00::-64');
  });

  test('subnetIdentity is the canonical key', () => {
    expect(subnetIdentity({ subnet: net('10.1.30.0/24'), ipv6Subnet: net('fc00:0:0:1e::/64') })).toBe(
      '10.1.30.0-24&fc00:0:0:1e::-64',
    );
  });
});

describe('parseSubnetKey (flannel-compat.md §1.3)', () => {
  test('IPv4 key', () => {
    expect(parsed('10.1.30.0-24')).toEqual({ subnet: '10.1.30.0/24', ipv6Subnet: undefined });
  });

  test('dual-stack key', () => {
    expect(parsed('10.1.30.0-24&fc00:0:0:1e::-64')).toEqual({ subnet: '10.1.30.0/24', ipv6Subnet: 'fc00:0:0:1e::/64' });
    expect(parsed('10.1.30.0-24&fc00::-127')).toEqual({ subnet: '10.1.30.0/24', ipv6Subnet: 'fc00::/127' });
  });

  test('IPv6-only key', () => {
    expect(parsed('0.0.0.0-0&fc00::-64')).toEqual({ subnet: undefined, ipv6Subnet: 'fc00::/64' });
  });

  test.each(['10.1.30.0-24', '10.1.30.0-24&fc00:0:0:1e::-64', '0.0.0.0-0&fc00::-64', '10.1.30.4-30', '10.0.0.0-8&2001:db8:0:0:1::-96'])(
    '%s round-trips byte-exactly',
    (key) => {
      const result = parseSubnetKey(key);
      expect(result.ok).toBe(true);
      if (result.ok) expect(formatSubnetKey(result.value)).toBe(key);
    },
  );

  test('/31 is accepted', () => {
    expect(parsed('10.1.30.0-31').subnet).toBe('10.1.30.0/31');
  });

  test('/32 and /128 are accepted (fixes flannel quirk 2)', () => {
    expect(parsed('10.1.30.7-32').subnet).toBe('10.1.30.7/32');
    expect(parsed('10.1.30.0-24&fc00::1-128').ipv6Subnet).toBe('fc00::1/128');
  });

  test('upper-case IPv6 is accepted and read as lower case (fixes flannel quirk 2)', () => {
    const result = parseSubnetKey('10.1.30.0-24&FC00:0:0:1E::-64');
    expect(result.ok).toBe(true);
    if (result.ok) expect(formatSubnetKey(result.value)).toBe('10.1.30.0-24&fc00:0:0:1e::-64');
  });

  test('host bits are masked off (flannel keeps 10.1.30.5/24)', () => {
    expect(parsed('10.1.30.5-24').subnet).toBe('10.1.30.0/24');
    expect(parsed('10.1.30.0-24&fc00::1-64').ipv6Subnet).toBe('fc00::/64');
  });

  test('a leading zero in the prefix is accepted, as in flannel', () => {
    expect(parsed('10.1.30.0-024').subnet).toBe('10.1.30.0/24');
  });

  test.each([
    '10.1.30.0-33',
    '10.1.30.0-99',
    '10.1.30.0--99',
    '10.1.30.0-24&fc00::-129',
    'garbage',
    '',
    '10.1.30-24',
    '256.1.30.0-24',
    '010.1.30.0-24',
    '10.1.30.0',
    '10.1.30.0-',
    '10.1.30.0-24&',
    '10.1.30.0-24&10.0.0.0-8',
    '10.1.30.0-24&fc00::',
    '10.1.30.0-24&fc00::1::2-64',
    '10.1.30.0-24 ',
    '0.0.0.0-0', // names no subnet at all
    // The caller passes the last path element; flannel's unanchored match of a full key is not reproduced.
    '/coreos.com/network/subnets/10.1.30.0-24',
    'x10.1.30.0-24',
  ])('rejects %j with a reason', (key) => {
    const result = parseSubnetKey(key);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toContain(key === '' ? '""' : key.slice(0, 6));
      expect(result.reason.length).toBeGreaterThan(key.length);
    }
  });

  test('parsed subnets have the right family', () => {
    const result = parseSubnetKey('10.1.30.0-24&fc00:0:0:1e::-64');
    if (!result.ok) throw new Error(result.reason);
    const subnets: LeaseSubnets = result.value;
    expect(subnets.subnet?.family).toBe(4);
    expect(subnets.ipv6Subnet?.family).toBe(6);
  });
});
