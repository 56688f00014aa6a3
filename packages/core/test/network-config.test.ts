import { describe, expect, test } from 'vitest';
import { ConfigError, FlannelError } from '../src/errors.js';
import {
  DEFAULT_BACKEND_TYPE,
  assertClearOfUnderlay,
  effectiveConfigJson,
  parseNetworkConfig,
  poolAccepts,
  poolCapacity,
  resolveNetworkConfig,
  type NetworkConfig,
  type SubnetPool,
} from '../src/network-config.js';
import { IpNet } from '../src/ip.js';

/** Runs the resolver and returns the ConfigError it must throw. */
function configError(input: unknown): ConfigError {
  try {
    resolveNetworkConfig(input);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(input)}`);
}

function describePool(pool: SubnetPool | undefined): [number, string, string] | undefined {
  return pool && [pool.subnetLen, pool.subnetMin.ipText(), pool.subnetMax.ipText()];
}

const v6Only = (extra: Record<string, unknown>) => ({ EnableIPv4: false, EnableIPv6: true, ...extra });

type Row =
  | { input: Record<string, unknown>; family: 4 | 6; expect: [number, string, string] }
  | { input: Record<string, unknown>; field: string; phrase: string };

/** Every row of the 'Worked examples' table, flannel-compat.md §2.3. */
const workedExamples: Array<[string, Row]> = [
  ['10.0.0.0/8', { input: { Network: '10.0.0.0/8' }, family: 4, expect: [24, '10.0.1.0', '10.255.255.0'] }],
  ['10.3.0.0/16', { input: { Network: '10.3.0.0/16' }, family: 4, expect: [24, '10.3.1.0', '10.3.255.0'] }],
  ['/21', { input: { Network: '10.3.0.0/21' }, family: 4, expect: [24, '10.3.1.0', '10.3.7.0'] }],
  ['/22', { input: { Network: '10.3.0.0/22' }, family: 4, expect: [24, '10.3.1.0', '10.3.3.0'] }],
  ['/23', { input: { Network: '10.3.0.0/23' }, family: 4, expect: [25, '10.3.0.128', '10.3.1.128'] }],
  ['/24', { input: { Network: '10.3.0.0/24' }, family: 4, expect: [26, '10.3.0.64', '10.3.0.192'] }],
  ['/26', { input: { Network: '10.3.0.0/26' }, family: 4, expect: [28, '10.3.0.16', '10.3.0.48'] }],
  ['/28', { input: { Network: '10.3.0.0/28' }, family: 4, expect: [30, '10.3.0.4', '10.3.0.12'] }],
  [
    '/29',
    { input: { Network: '10.3.0.0/29' }, field: 'Network', phrase: 'network is too small. Minimum useful network prefix is /28' },
  ],
  [
    '/16 + SubnetLen 31',
    { input: { Network: '10.3.0.0/16', SubnetLen: 31 }, field: 'SubnetLen', phrase: 'SubnetLen must be less than /31' },
  ],
  ['/16 + SubnetLen 30', { input: { Network: '10.3.0.0/16', SubnetLen: 30 }, family: 4, expect: [30, '10.3.0.4', '10.3.255.252'] }],
  [
    '/16 + SubnetLen 17',
    {
      input: { Network: '10.3.0.0/16', SubnetLen: 17 },
      field: 'SubnetLen',
      phrase: 'network must be able to accommodate at least four subnets',
    },
  ],
  [
    '/16 + SubnetLen 8',
    {
      input: { Network: '10.3.0.0/16', SubnetLen: 8 },
      field: 'SubnetLen',
      phrase: 'network must be able to accommodate at least four subnets',
    },
  ],
  ['/16 + SubnetLen 18', { input: { Network: '10.3.0.0/16', SubnetLen: 18 }, family: 4, expect: [18, '10.3.64.0', '10.3.192.0'] }],
  ['/16 + SubnetLen 20', { input: { Network: '10.3.0.0/16', SubnetLen: 20 }, family: 4, expect: [20, '10.3.16.0', '10.3.240.0'] }],
  [
    '/16 + SubnetMin 10.4.0.0',
    {
      input: { Network: '10.3.0.0/16', SubnetMin: '10.4.0.0' },
      field: 'SubnetMin',
      phrase: 'SubnetMin is not in the range of the Network',
    },
  ],
  [
    '/16 + SubnetMin 10.3.0.5',
    {
      input: { Network: '10.3.0.0/16', SubnetMin: '10.3.0.5' },
      field: 'SubnetMin',
      phrase: 'SubnetMin is not on a SubnetLen boundary: 10.3.0.5',
    },
  ],
  [
    '/16 + SubnetMin 10.3.0.0',
    { input: { Network: '10.3.0.0/16', SubnetMin: '10.3.0.0' }, family: 4, expect: [24, '10.3.0.0', '10.3.255.0'] },
  ],
  [
    'overrides kept as given',
    {
      input: {
        Network: '10.0.0.0/8',
        SubnetLen: 20,
        SubnetMin: '10.10.0.0',
        SubnetMax: '10.99.0.0',
        Backend: { Type: 'udp', Port: 1234 },
      },
      family: 4,
      expect: [20, '10.10.0.0', '10.99.0.0'],
    },
  ],
  ['{}', { input: {}, field: 'Network', phrase: 'please define a correct Network parameter in the flannel config' }],
  [
    'v6-only fc00::/48',
    { input: v6Only({ IPv6Network: 'fc00::/48' }), family: 6, expect: [64, 'fc00:0:0:1::', 'fc00:0:0:ffff::'] },
  ],
  [
    'dual 2001:cafe:42::/56',
    {
      input: { Network: '10.3.0.0/16', EnableIPv6: true, IPv6Network: '2001:cafe:42::/56' },
      family: 6,
      expect: [64, '2001:cafe:42:1::', '2001:cafe:42:ff::'],
    },
  ],
  ['fc00::/62', { input: v6Only({ IPv6Network: 'fc00::/62' }), family: 6, expect: [64, 'fc00:0:0:1::', 'fc00:0:0:3::'] }],
  [
    'fc00::/63',
    { input: v6Only({ IPv6Network: 'fc00::/63' }), family: 6, expect: [65, 'fc00::8000:0:0:0', 'fc00:0:0:1:8000::'] },
  ],
  [
    'fc00::/64',
    { input: v6Only({ IPv6Network: 'fc00::/64' }), family: 6, expect: [66, 'fc00::4000:0:0:0', 'fc00::c000:0:0:0'] },
  ],
  ['fc00::/124', { input: v6Only({ IPv6Network: 'fc00::/124' }), family: 6, expect: [126, 'fc00::4', 'fc00::c'] }],
  [
    'fc00::/125',
    {
      input: v6Only({ IPv6Network: 'fc00::/125' }),
      field: 'IPv6Network',
      phrase: 'IPv6Network is too small. Minimum useful network prefix is /124',
    },
  ],
  [
    'fc00::/48 + IPv6SubnetLen 127',
    {
      input: v6Only({ IPv6Network: 'fc00::/48', IPv6SubnetLen: 127 }),
      field: 'IPv6SubnetLen',
      phrase: 'SubnetLen must be less than /127',
    },
  ],
  [
    'fc00::/48 + IPv6SubnetLen 49',
    {
      input: v6Only({ IPv6Network: 'fc00::/48', IPv6SubnetLen: 49 }),
      field: 'IPv6SubnetLen',
      phrase: 'network must be able to accommodate at least four subnets',
    },
  ],
  [
    'fc00::/48 + IPv6SubnetLen 50',
    {
      input: v6Only({ IPv6Network: 'fc00::/48', IPv6SubnetLen: 50 }),
      family: 6,
      expect: [50, 'fc00:0:0:4000::', 'fc00:0:0:c000::'],
    },
  ],
  [
    'fc00::/48 + IPv6SubnetLen 56',
    {
      input: v6Only({ IPv6Network: 'fc00::/48', IPv6SubnetLen: 56 }),
      family: 6,
      expect: [56, 'fc00:0:0:100::', 'fc00:0:0:ff00::'],
    },
  ],
];

describe('worked examples (flannel-compat.md §2.3)', () => {
  test.each(workedExamples)('%s', (_name, row) => {
    if ('field' in row) {
      const err = configError(row.input);
      expect(err).toBeInstanceOf(FlannelError);
      expect(err.code).toBe('CONFIG_INVALID');
      expect(err.field).toBe(row.field);
      expect(err.message).toContain(row.phrase);
    } else {
      const config = resolveNetworkConfig(row.input);
      expect(describePool(row.family === 4 ? config.ipv4 : config.ipv6)).toEqual(row.expect);
    }
  });
});

describe('parsing', () => {
  test('keys are case-insensitive', () => {
    for (const key of ['network', 'NETWORK', 'Network', 'nEtWoRk']) {
      expect(resolveNetworkConfig({ [key]: '10.3.0.0/16' }).ipv4?.network.toString()).toBe('10.3.0.0/16');
    }
    const config = resolveNetworkConfig({ network: '10.3.0.0/16', subnetlen: 20, backend: { type: 'vxlan' } });
    expect(config.ipv4?.subnetLen).toBe(20);
    expect(config.backendType).toBe('vxlan');
  });

  test('unknown keys are ignored', () => {
    expect(resolveNetworkConfig({ Network: '10.3.0.0/16', Whatever: [1, 2] }).ipv4?.subnetLen).toBe(24);
  });

  test('Network is stored masked', () => {
    const config = resolveNetworkConfig({ Network: '10.3.7.9/16' });
    expect(config.ipv4?.network.toString()).toBe('10.3.0.0/16');
    expect(config.ipv4?.subnetMin.toString()).toBe('10.3.1.0/24');
  });

  test('an IPv6 CIDR in Network is rejected', () => {
    const err = configError({ Network: 'fc00::/48' });
    expect(err.field).toBe('Network');
    expect(err.message).toContain('is not an IPv4 CIDR');
  });

  test('an IPv4 CIDR in IPv6Network is rejected', () => {
    const err = configError(v6Only({ IPv6Network: '10.0.0.0/8' }));
    expect(err.field).toBe('IPv6Network');
    expect(err.message).toContain('is not an IPv6 CIDR');
  });

  test('a bare address is rejected', () => {
    const err = configError({ Network: '10.3.0.0' });
    expect(err.field).toBe('Network');
    expect(err.message).toContain('"10.3.0.0" is not a CIDR');
  });

  test('null is rejected', () => {
    const err = configError({ Network: null });
    expect(err.field).toBe('Network');
    expect(err.message).toContain('got null');
  });

  test('0.0.0.0/0 is rejected as empty', () => {
    const err = configError({ Network: '0.0.0.0/0' });
    expect(err.field).toBe('Network');
    expect(err.message).toContain('please define a correct Network parameter in the flannel config');
  });

  test.each([['24'], [-1], [24.5], [true]])('SubnetLen %j is rejected', (value) => {
    const err = configError({ Network: '10.3.0.0/16', SubnetLen: value });
    expect(err.field).toBe('SubnetLen');
    expect(err.message).toContain('SubnetLen must be a whole number');
  });

  test('SubnetLen 0 means the default', () => {
    expect(resolveNetworkConfig({ Network: '10.3.0.0/16', SubnetLen: 0 }).ipv4?.subnetLen).toBe(24);
  });

  test('SubnetMin given as a number is rejected', () => {
    const err = configError({ Network: '10.3.0.0/16', SubnetMin: 10 });
    expect(err.field).toBe('SubnetMin');
    expect(err.message).toContain('SubnetMin must be an IPv4 address string');
  });

  test('SubnetMax outside the network or off the boundary is rejected', () => {
    expect(configError({ Network: '10.3.0.0/16', SubnetMax: '10.4.0.0' })).toMatchObject({
      field: 'SubnetMax',
      message: expect.stringContaining('SubnetMax is not in the range of the Network'),
    });
    expect(configError({ Network: '10.3.0.0/16', SubnetMax: '10.3.9.1' })).toMatchObject({
      field: 'SubnetMax',
      message: expect.stringContaining('SubnetMax is not on a SubnetLen boundary: 10.3.9.1'),
    });
  });

  test('IPv6 bounds are checked like IPv4 ones', () => {
    expect(configError(v6Only({ IPv6Network: 'fc00::/48', IPv6SubnetMin: 'fc00:1::' }))).toMatchObject({
      field: 'IPv6SubnetMin',
      message: expect.stringContaining('IPv6SubnetMin is not in the range of the IPv6Network'),
    });
    expect(configError(v6Only({ IPv6Network: 'fc00::/48', IPv6SubnetMax: 'fc00:0:0:5::1' }))).toMatchObject({
      field: 'IPv6SubnetMax',
      message: expect.stringContaining('IPv6SubnetMax is not on a SubnetLen boundary: fc00:0:0:5::1'),
    });
  });

  test('SubnetMin greater than SubnetMax is rejected (flannel accepts it)', () => {
    const err = configError({ Network: '10.3.0.0/16', SubnetMin: '10.3.9.0', SubnetMax: '10.3.8.0' });
    expect(err.field).toBe('SubnetMin');
    expect(err.message).toContain('SubnetMin 10.3.9.0 is greater than SubnetMax 10.3.8.0');
  });

  test('SubnetMin equal to SubnetMax is one subnet', () => {
    const config = resolveNetworkConfig({ Network: '10.3.0.0/16', SubnetMin: '10.3.9.0', SubnetMax: '10.3.9.0' });
    expect(poolCapacity(config.ipv4!)).toBe(1n);
  });

  test('SubnetMin "0.0.0.0" or "" means unset', () => {
    expect(resolveNetworkConfig({ Network: '10.3.0.0/16', SubnetMin: '0.0.0.0' }).ipv4?.subnetMin.ipText()).toBe('10.3.1.0');
    expect(resolveNetworkConfig({ Network: '10.3.0.0/16', SubnetMin: '' }).ipv4?.subnetMin.ipText()).toBe('10.3.1.0');
  });

  test('non-boolean EnableIPv6 is rejected', () => {
    expect(configError({ Network: '10.3.0.0/16', EnableIPv6: 'true' }).field).toBe('EnableIPv6');
  });

  test('IPv6 enabled without IPv6Network is rejected', () => {
    const err = configError({ Network: '10.3.0.0/16', EnableIPv6: true });
    expect(err.field).toBe('IPv6Network');
    expect(err.message).toContain('please define a correct IPv6Network parameter in the flannel config');
  });

  test('both families disabled is rejected', () => {
    const err = configError({ Network: '10.3.0.0/16', EnableIPv4: false });
    expect(err.field).toBe('EnableIPv4');
    expect(err.message).toContain('enable at least one address family');
  });

  test('families are present exactly when enabled', () => {
    const v4 = resolveNetworkConfig({ Network: '10.3.0.0/16' });
    expect([v4.enableIPv4, v4.enableIPv6, v4.ipv6]).toEqual([true, false, undefined]);
    const v6 = resolveNetworkConfig(v6Only({ Network: 'garbage, ignored', IPv6Network: 'fc00::/48' }));
    expect([v6.enableIPv4, v6.ipv4, v6.ipv6?.network.toString()]).toEqual([false, undefined, 'fc00::/48']);
  });

  test.each([[null], ['text'], [[1, 2]], [42]])('a config that is not an object (%j) is rejected', (input) => {
    expect(configError(input).field).toBe('config');
  });
});

describe('Backend', () => {
  test('absent means udp (what flannel\'s code does)', () => {
    const config = resolveNetworkConfig({ Network: '10.3.0.0/16' });
    expect(config.backendType).toBe('udp');
    expect(DEFAULT_BACKEND_TYPE).toBe('udp');
    expect(config.backend).toEqual({ Type: 'udp' });
  });

  test('Type is lower-cased and the object kept for the backend parser', () => {
    const config = resolveNetworkConfig({ Network: '10.3.0.0/16', Backend: { Type: 'VXLAN', VNI: 4 } });
    expect(config.backendType).toBe('vxlan');
    expect(config.backend).toEqual({ Type: 'VXLAN', VNI: 4 });
  });

  test('{} is rejected', () => {
    const err = configError({ Network: '10.3.0.0/16', Backend: {} });
    expect(err.field).toBe('Backend.Type');
    expect(err.message).toContain('Backend.Type is missing');
  });

  test.each([[{ Type: '' }], [{ Type: 7 }]])('Backend %j is rejected', (backend) => {
    expect(configError({ Network: '10.3.0.0/16', Backend: backend }).field).toBe('Backend.Type');
  });

  test.each([['vxlan'], [null], [['vxlan']]])('a Backend that is not an object (%j) is rejected', (backend) => {
    const err = configError({ Network: '10.3.0.0/16', Backend: backend });
    expect(err.field).toBe('Backend');
    expect(err.message).toContain('Backend must be an object');
  });
});

describe('parseNetworkConfig', () => {
  test('parses text', () => {
    const config = parseNetworkConfig('{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}');
    expect(config.ipv4?.network.toString()).toBe('10.5.0.0/16');
    expect(config.backendType).toBe('vxlan');
  });

  test.each(['{"Network":', '', 'Network=10.5.0.0/16'])('invalid JSON %j gives a ConfigError', (text) => {
    let caught: unknown;
    try {
      parseNetworkConfig(text);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).field).toBe('config');
    expect((caught as ConfigError).message).toContain('network config is not valid JSON');
    expect((caught as ConfigError).cause).toBeInstanceOf(SyntaxError);
  });
});

describe('effectiveConfigJson', () => {
  test('fills every default in flannel spelling', () => {
    const config = resolveNetworkConfig({ network: '10.3.7.0/16' });
    expect(effectiveConfigJson(config)).toEqual({
      Network: '10.3.0.0/16',
      SubnetLen: 24,
      SubnetMin: '10.3.1.0',
      SubnetMax: '10.3.255.0',
      EnableIPv4: true,
      EnableIPv6: false,
      EnableNFTables: false,
      Backend: { Type: 'udp' },
    });
  });

  test('dual stack', () => {
    const config = resolveNetworkConfig({
      Network: '10.3.0.0/16',
      EnableIPv6: true,
      IPv6Network: '2001:CAFE:42::/56',
      EnableNFTables: true,
      Backend: { Type: 'vxlan' },
    });
    expect(JSON.stringify(effectiveConfigJson(config))).toBe(
      '{"Network":"10.3.0.0/16","SubnetLen":24,"SubnetMin":"10.3.1.0","SubnetMax":"10.3.255.0",' +
        '"IPv6Network":"2001:cafe:42::/56","IPv6SubnetLen":64,"IPv6SubnetMin":"2001:cafe:42:1::","IPv6SubnetMax":"2001:cafe:42:ff::",' +
        '"EnableIPv4":true,"EnableIPv6":true,"EnableNFTables":true,"Backend":{"Type":"vxlan"}}',
    );
  });

  test('the output resolves to the same config', () => {
    const config = resolveNetworkConfig({ Network: '10.0.0.0/8', SubnetLen: 20, SubnetMin: '10.10.0.0' });
    const again = resolveNetworkConfig(effectiveConfigJson(config));
    expect(effectiveConfigJson(again)).toEqual(effectiveConfigJson(config));
  });
});

describe('pools', () => {
  test.each([
    ['10.3.0.0/16', {}, 255n],
    ['10.3.0.0/28', {}, 3n],
    ['10.0.0.0/8', {}, 65535n],
    ['10.3.0.0/16', { SubnetLen: 30 }, 16383n],
    ['10.0.0.0/8', { SubnetLen: 20, SubnetMin: '10.10.0.0', SubnetMax: '10.99.0.0' }, 1425n],
  ])('poolCapacity of %s %j is %s', (network, extra, capacity) => {
    expect(poolCapacity(resolveNetworkConfig({ Network: network, ...extra }).ipv4!)).toBe(capacity);
  });

  test('poolCapacity of an IPv6 pool', () => {
    expect(poolCapacity(resolveNetworkConfig(v6Only({ IPv6Network: 'fc00::/48' })).ipv6!)).toBe(65535n);
  });

  test('poolAccepts checks length and [SubnetMin, SubnetMax]', () => {
    const pool = resolveNetworkConfig({ Network: '10.3.0.0/16' }).ipv4!;
    const net = (text: string) => IpNet.parse(text)!;
    expect(poolAccepts(pool, net('10.3.6.0/24'))).toBe(true);
    expect(poolAccepts(pool, net('10.3.255.0/24'))).toBe(true);
    expect(poolAccepts(pool, net('10.3.0.0/24'))).toBe(false);
    expect(poolAccepts(pool, net('10.3.6.0/25'))).toBe(false);
    expect(poolAccepts(pool, net('10.4.1.0/24'))).toBe(false);
    expect(poolAccepts(pool, net('fc00::/24'))).toBe(false);
  });
});

describe('immutability', () => {
  test('the returned config is frozen', () => {
    const config: NetworkConfig = resolveNetworkConfig({ Network: '10.3.0.0/16', Backend: { Type: 'vxlan' } });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.ipv4)).toBe(true);
    expect(Object.isFrozen(config.backend)).toBe(true);
    expect(() => {
      (config as { backendType: string }).backendType = 'udp';
    }).toThrow(TypeError);
  });

  test('the input object is not mutated', () => {
    const input = { network: '10.3.7.9/16', Backend: { Type: 'VXLAN' } };
    const copy = structuredClone(input);
    const config = resolveNetworkConfig(input);
    expect(input).toEqual(copy);
    expect(Object.isFrozen(input)).toBe(false);
    expect(Object.isFrozen(input.Backend)).toBe(false);
    expect(config.backend).not.toBe(input.Backend);
  });
});

describe('Network sanity (untrusted config)', () => {
  const invalid = (json: string) => {
    try {
      parseNetworkConfig(json);
    } catch (err) {
      return (err as Error).message;
    }
    return undefined;
  };
  test.each([
    ['127.0.0.0/16', 'loopback range 127.0.0.0/8'],
    ['127.1.0.0/16', 'loopback'],
    ['224.0.0.0/16', 'multicast range 224.0.0.0/4'],
    ['239.255.0.0/16', 'multicast'],
    ['0.0.0.0/8', '"this network"'],
    ['0.0.0.0/1', 'unspecified range 0.0.0.0/8 and the loopback range 127.0.0.0/8'],
    ['240.0.0.0/16', 'reserved range 240.0.0.0/4'],
  ])('Network %s is refused', (network, named) => {
    const message = invalid(`{"Network":"${network}"}`);
    expect(message).toContain(named === '"this network"' ? 'unspecified range 0.0.0.0/8' : named);
    expect(message).toContain('e.g. "10.1.0.0/16"');
  });
  test.each(['10.1.0.0/16', '1.0.0.0/16', '126.255.0.0/16', '223.255.0.0/16', '172.16.0.0/12'])('Network %s is accepted', (network) => {
    expect(invalid(`{"Network":"${network}"}`)).toBeUndefined();
  });
  test.each([['::/64', 'unspecified'], ['ff00::/16', 'multicast'], ['::ffff:0:0/112', undefined]])('IPv6Network %s', (network, named) => {
    const message = invalid(`{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"${network}"}`);
    if (named) expect(message).toContain(named);
    else expect(message).toBeDefined();
  });
  test('a Network overlapping the underlay interface is refused, naming both', () => {
    const config = parseNetworkConfig('{"Network":"192.0.0.0/16"}');
    expect(() => assertClearOfUnderlay(config, { name: 'eth0', cidrs: ['192.0.2.5/24'] })).toThrow(
      'Network 192.0.0.0/16 overlaps the underlay subnet 192.0.2.0/24 of eth0',
    );
    expect(() => assertClearOfUnderlay(config, { name: 'eth0', cidrs: ['192.1.2.5/24', 'fe80::1/64', '2001:db8::5/64'] })).not.toThrow();
  });
});
