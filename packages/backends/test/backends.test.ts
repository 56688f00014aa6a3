import { describe, expect, it } from 'vitest';
import { ConfigError, resolveNetworkConfig } from '@flannel-ts/core';
import { BACKENDS, checkBackendConfig } from '../src/index.js';
import { BACKEND_TYPES } from '../src/names.js';

const check = (backend: Record<string, unknown>) => checkBackendConfig(resolveNetworkConfig({ Network: '10.1.0.0/16', Backend: backend }));

describe('the backends of this build', () => {
  it('names exactly the backends it has, each loaded on demand', async () => {
    expect(Object.keys(BACKENDS)).toEqual([...BACKEND_TYPES]);
    for (const type of BACKEND_TYPES) expect((await BACKENDS[type]()).type).toBe(type);
  });

  it('accepts each backend with its defaults and its options in any key case', async () => {
    for (const type of BACKEND_TYPES) expect((await check({ Type: type })).factory.type).toBe(type);
    expect((await check({ Type: 'vxlan', vni: 7, directrouting: true })).config).toMatchObject({ vni: 7, directRouting: true });
    expect((await check({ Type: 'udp', Port: 8300 })).config).toMatchObject({ port: 8300 });
    // flannel's Windows vxlan keys, ignored on Linux as flannel does: a mixed cluster's config stays valid.
    expect((await check({ Type: 'vxlan', MacPrefix: '0E-2A', Name: 'flannel.4096' })).config).toMatchObject({ vni: 1 });
  });

  it.each([
    [{ Type: 'foo' }, /unknown backend type: "foo"/],
    [{ Type: 'wireguard' }, /not supported by this build/],
    [{ Type: 'vxlan', VNI: 'abc' }, /VNI must be a whole number/],
    [{ Type: 'vxlan', VNI: 99_999_999 }, /VNI must be a whole number from 0 to 16777215/],
    [{ Type: 'vxlan', Bogus: 1 }, /unknown vxlan backend option "Bogus"/],
    [{ Type: 'udp', Port: 70_000 }, /Port must be a UDP port number/],
    [{ Type: 'udp', VNI: 1 }, /unknown udp backend option "VNI": the udp backend takes Port/],
    [{ Type: 'host-gw', Port: 1 }, /the host-gw backend takes no options/],
    [{ Type: 'alloc', X: 1 }, /the alloc backend takes no options/],
  ])('refuses %j', async (backend, reason) => {
    let caught: unknown;
    try {
      await check(backend);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as Error).message).toMatch(reason);
  });
});
