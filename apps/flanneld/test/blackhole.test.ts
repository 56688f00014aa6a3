import { describe, expect, test } from 'vitest';
import { parseSubnetKey, type HostChange, type HostNetwork, type Lease } from '@flannel-ts/core';
import { createRecordingLogger } from '@flannel-ts/testkit';
import { createBlackholeRoutes } from '../src/blackhole.js';

function lease(key: string): Lease {
  const subnets = parseSubnetKey(key);
  if (!subnets.ok) throw new Error(subnets.reason);
  return { key, ...subnets.value, attrs: { publicIP: '192.0.2.5' }, expiresAt: null };
}

/** A host whose blackhole routes are `present`; it records every read and every change. */
function host(present: string[]) {
  const reads: Array<4 | 6> = [];
  const applied: HostChange[][] = [];
  const net: Pick<HostNetwork, 'apply' | 'routes'> = {
    routes: async (filter) => {
      reads.push(filter!.family!);
      return present.filter((dst) => dst.includes(':') === (filter!.family === 6)).map((dst) => ({ dst, type: 'blackhole', flags: [] }));
    },
    apply: async (changes) => void applied.push([...changes]),
  };
  return { net, reads, applied };
}

describe('blackhole routes', () => {
  test('with the flag: added, and checked again by every repair', async () => {
    const h = host([]);
    const routes = createBlackholeRoutes(h.net, true, createRecordingLogger());
    await routes.sync(lease('10.1.30.0-24'));
    expect(h.applied).toEqual([[{ kind: 'route', action: 'replace', type: 'blackhole', dst: '10.1.30.0/24' }]]);
    await routes.repair(lease('10.1.30.0-24'));
    // An IPv4-only lease reads only the IPv4 table.
    expect(h.reads).toEqual([4, 4]);
  });

  test('without the flag: a leftover is removed at start-up; the periodic repair reads nothing', async () => {
    const h = host(['10.1.30.0/24']);
    const routes = createBlackholeRoutes(h.net, false, createRecordingLogger());
    await routes.sync(lease('10.1.30.0-24'));
    expect(h.applied).toEqual([[{ kind: 'route', action: 'delete', type: 'blackhole', dst: '10.1.30.0/24' }]]);
    h.reads.length = 0;
    await routes.repair(lease('10.1.30.0-24'));
    await routes.repair(lease('10.1.30.0-24'));
    expect(h.reads).toEqual([]);
  });

  test('a dual-stack lease reads both tables; the previous subnet route goes on a lease change', async () => {
    const h = host(['10.1.30.0/24', 'fd00:1::/64']);
    const routes = createBlackholeRoutes(h.net, true, createRecordingLogger());
    await routes.sync(lease('10.1.31.0-24&fd00:1:0:1::-64'), lease('10.1.30.0-24&fd00:1::-64'));
    expect(h.reads.sort()).toEqual([4, 6]);
    expect(h.applied.flat().map((c) => c.kind === 'route' && `${c.action} ${c.dst}`).sort()).toEqual(['delete 10.1.30.0/24', 'delete fd00:1::/64', 'replace 10.1.31.0/24', 'replace fd00:1:0:1::/64']);
  });
});
