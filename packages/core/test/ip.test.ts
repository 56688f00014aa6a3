import { describe, expect, test } from 'vitest';
import { IpNet, formatIP, normalizeIP, parseIP, parseIPv4, parseIPv6, specialRangesOverlapping } from '../src/ip.js';

describe('parseIPv4 / formatIP(4)', () => {
  test.each([
    ['0.0.0.0', 0n],
    ['10.1.30.0', 0x0a011e00n],
    ['192.168.64.3', 0xc0a84003n],
    ['255.255.255.255', 0xffffffffn],
  ])('%s <-> %s', (text, value) => {
    expect(parseIPv4(text)).toBe(value);
    expect(formatIP(4, value)).toBe(text);
  });

  test.each(['01.2.3.4', '10.01.0.0', '1.2.3.00', '256.1.1.1', '1.2.3', '1.2.3.4.5', '1.2.3.4 ', ' 1.2.3.4', '', 'a.b.c.d', '::1'])(
    'rejects %j',
    (text) => {
      expect(parseIPv4(text)).toBeUndefined();
    },
  );
});

describe('parseIPv6 / formatIP(6): Go canonical text', () => {
  test.each([
    ['fc00:0:0:1e:0:0:0:0', 'fc00:0:0:1e::'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // tie between runs: the first is compressed
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], // the longest run wins
    ['fc00:0:0:0:8000:0:0:0', 'fc00::8000:0:0:0'],
    ['FC00:0000:0000:0001:8000:0000:0000:0000', 'fc00:0:0:1:8000::'],
    ['::', '::'],
    ['::1', '::1'],
    ['2001:db8::5', '2001:db8::5'],
  ])('%s -> %s', (text, canonical) => {
    const value = parseIPv6(text);
    expect(value).toBeTypeOf('bigint');
    expect(formatIP(6, value!)).toBe(canonical);
  });

  test('parses to the expected value', () => {
    expect(parseIPv6('fc00:0:0:1e::')).toBe(0xfc0000000000001e0000000000000000n);
    expect(parseIPv6('::1')).toBe(1n);
    expect(parseIPv6('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).toBe((1n << 128n) - 1n);
  });

  test('an IPv6 value with four significant bytes prints as IPv6, not dotted IPv4 (fixes quirk 16)', () => {
    expect(formatIP(6, 0x0a000001n)).toBe('::a00:1');
  });

  test.each(['1::2::3', ':::', 'fe80::1%eth0', '1.2.3.4', 'g::1', '1:2:3:4:5:6:7:8:9', ''])('rejects %j', (text) => {
    expect(parseIPv6(text)).toBeUndefined();
  });
});

describe('parseIP', () => {
  test('tells the families apart', () => {
    expect(parseIP('10.0.0.1')).toEqual({ family: 4, value: 0x0a000001n });
    expect(parseIP('fc00::1')).toEqual({ family: 6, value: (0xfc00n << 112n) | 1n });
  });

  test('IPv4-mapped IPv6 text is an IPv4 address', () => {
    expect(parseIP('::ffff:1.2.3.4')).toEqual({ family: 4, value: 0x01020304n });
    expect(parseIP('::ffff:a00:1')).toEqual({ family: 4, value: 0x0a000001n });
  });

  test('leading zeros are rejected', () => {
    expect(parseIP('010.0.0.1')).toBeUndefined();
  });

  test('normalizeIP checks the family and canonicalises', () => {
    expect(normalizeIP(6, '2001:DB8:0:0:0:0:0:5')).toBe('2001:db8::5');
    expect(normalizeIP(4, '::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(normalizeIP(4, '2001:db8::5')).toBeUndefined();
    expect(normalizeIP(6, '1.2.3.4')).toBeUndefined();
  });
});

describe('IpNet', () => {
  const net = (text: string): IpNet => {
    const parsed = IpNet.parse(text);
    if (!parsed) throw new Error(`bad CIDR in test: ${text}`);
    return parsed;
  };

  test('parse keeps the address as given', () => {
    const n = net('10.3.7.9/16');
    expect(n.family).toBe(4);
    expect(n.address).toBe(0x0a030709n);
    expect(n.prefixLength).toBe(16);
    expect(n.isMasked()).toBe(false);
    expect(n.toString()).toBe('10.3.7.9/16');
    expect(n.masked().toString()).toBe('10.3.0.0/16');
    expect(n.masked().isMasked()).toBe(true);
  });

  test('parse of IPv6 prints canonical text', () => {
    expect(net('FC00:0:0:1E::/64').toString()).toBe('fc00:0:0:1e::/64');
    expect(net('fc00::/48').family).toBe(6);
  });

  test('parse honours the family filter', () => {
    expect(IpNet.parse('fc00::/48', 4)).toBeUndefined();
    expect(IpNet.parse('10.0.0.0/8', 6)).toBeUndefined();
    expect(IpNet.parse('10.0.0.0/8', 4)?.toString()).toBe('10.0.0.0/8');
  });

  test.each(['10.3.0.0', '10.3.0.0/', '10.3.0.0/33', '10.3.0.0/-1', '10.3.0.0/x', 'fc00::/129', 'nonsense/8', '01.3.0.0/16'])(
    'parse rejects %j',
    (text) => {
      expect(IpNet.parse(text)).toBeUndefined();
    },
  );

  test('parse accepts /0, /32 and /128', () => {
    expect(net('0.0.0.0/0').size).toBe(1n << 32n);
    expect(net('10.0.0.1/32').size).toBe(1n);
    expect(net('fc00::1/128').size).toBe(1n);
  });

  test('first, last and size', () => {
    const n = net('10.3.7.9/16');
    expect(formatIP(4, n.first)).toBe('10.3.0.0');
    expect(formatIP(4, n.last)).toBe('10.3.255.255');
    expect(n.size).toBe(65536n);

    const v6 = net('fc00::/64');
    expect(formatIP(6, v6.first)).toBe('fc00::');
    expect(formatIP(6, v6.last)).toBe('fc00::ffff:ffff:ffff:ffff');
    expect(v6.size).toBe(1n << 64n);
  });

  test('addressText offsets from the first address', () => {
    expect(net('10.5.72.0/24').addressText(1n)).toBe('10.5.72.1');
    expect(net('10.5.72.9/24').addressText()).toBe('10.5.72.0');
    expect(net('fc00:0:0:1e::/64').addressText(1n)).toBe('fc00:0:0:1e::1');
  });

  test('overlaps', () => {
    expect(net('10.3.0.0/17').overlaps(net('10.3.5.0/24'))).toBe(true);
    expect(net('10.3.5.0/24').overlaps(net('10.3.0.0/17'))).toBe(true);
    expect(net('10.3.0.0/17').overlaps(net('10.3.127.0/24'))).toBe(true);
    expect(net('10.3.0.0/17').overlaps(net('10.3.128.0/24'))).toBe(false);
    expect(net('10.3.0.0/24').overlaps(net('10.3.1.0/24'))).toBe(false);
    expect(net('10.3.0.0/24').overlaps(net('10.3.0.0/24'))).toBe(true);
    expect(net('0.0.0.0/0').overlaps(net('::/0'))).toBe(false);
  });

  test('contains', () => {
    expect(net('10.3.0.0/16').contains(net('10.3.6.0/24'))).toBe(true);
    expect(net('10.3.0.0/16').contains(net('10.3.0.0/16'))).toBe(true);
    expect(net('10.3.0.0/16').contains(net('10.0.0.0/8'))).toBe(false);
    expect(net('10.3.0.0/16').contains(net('10.4.1.0/24'))).toBe(false);
    expect(net('fc00::/48').contains(net('fc00:0:0:1::/64'))).toBe(true);
    expect(net('fc00::/48').contains(net('fc00:0:1::/64'))).toBe(false);
    expect(net('0.0.0.0/0').contains(net('fc00::/64'))).toBe(false);
    expect(net('10.3.0.0/16').containsAddress(0x0a03ffffn)).toBe(true);
    expect(net('10.3.0.0/16').containsAddress(0x0a040000n)).toBe(false);
  });

  test('next is the following network of the same length', () => {
    expect(net('10.3.0.0/24').next().toString()).toBe('10.3.1.0/24');
    expect(net('10.3.0.5/24').next().toString()).toBe('10.3.1.0/24');
    expect(net('10.3.0.252/30').next().toString()).toBe('10.3.1.0/30');
    expect(net('fc00::/64').next().toString()).toBe('fc00:0:0:1::/64');
  });

  test('equals compares family, address and length', () => {
    expect(net('10.3.0.0/24').equals(net('10.3.0.0/24'))).toBe(true);
    expect(net('10.3.0.0/24').equals(net('10.3.0.0/25'))).toBe(false);
    expect(net('10.3.0.1/24').equals(net('10.3.0.0/24'))).toBe(false);
  });

  test('toJSON is the CIDR text', () => {
    expect(JSON.stringify({ subnet: net('10.1.30.0/24') })).toBe('{"subnet":"10.1.30.0/24"}');
  });

  test('constructor rejects an out-of-range prefix length', () => {
    expect(() => new IpNet(4, 0n, 33)).toThrow(RangeError);
    expect(() => new IpNet(6, 0n, 129)).toThrow(RangeError);
    expect(() => new IpNet(4, 0n, -1)).toThrow(RangeError);
    expect(() => new IpNet(4, 0n, 24.5)).toThrow(RangeError);
  });
});

describe('special ranges', () => {
  test('the table built by value is the RFC 6890 ranges as text', () => {
    expect(specialRangesOverlapping(IpNet.parse('0.0.0.0/0', 4)!).map((r) => `${r.range} ${r.kind}`)).toEqual([
      '0.0.0.0/8 unspecified',
      '127.0.0.0/8 loopback',
      '224.0.0.0/4 multicast',
      '255.255.255.255/32 broadcast',
      '240.0.0.0/4 reserved',
    ]);
    expect(specialRangesOverlapping(IpNet.parse('::/0', 6)!).map((r) => `${r.range} ${r.kind}`)).toEqual(['::/128 unspecified', '::1/128 loopback', 'ff00::/8 multicast', '::ffff:0:0/96 reserved']);
  });
});
