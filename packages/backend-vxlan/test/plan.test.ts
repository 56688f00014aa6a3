import { describe, expect, it } from 'vitest';
import { IpNet, type Lease } from '@flannel-ts/core';
import { diffStates, normalizeMac, parseVxlanConfig, planPeers, randomMac, type FamilyView } from '../src/index.js';

const view: FamilyView = { family: 4, device: 'flannel.1', externalDevice: 'eth0' };

function lease(subnet: string, publicIP: string, mac: string, extra: Partial<Lease['attrs']> = {}): Lease {
  const net = IpNet.parse(subnet)!;
  return {
    key: `${net.ipText()}-${net.prefixLength}`,
    subnet: net,
    ipv6Subnet: undefined,
    attrs: { publicIP, backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: mac }, ...extra },
    expiresAt: undefined,
  };
}

const notDirect = { isDirect: () => false };

describe('parseVxlanConfig', () => {
  it("applies flannel's defaults, case-insensitively", () => {
    expect(parseVxlanConfig({ Type: 'vxlan' })).toEqual({ vni: 1, port: 8472, gbp: false, learning: false, directRouting: false, mtu: undefined });
    expect(parseVxlanConfig({ vni: 42, PORT: 4789, directrouting: true, MTU: 9000 })).toMatchObject({ vni: 42, port: 4789, directRouting: true, mtu: 9000 });
  });
  it('rejects values of the wrong type with the field named', () => {
    expect(() => parseVxlanConfig({ VNI: '1' })).toThrow(/Backend.VNI must be a whole number/);
    expect(() => parseVxlanConfig({ DirectRouting: 'yes' })).toThrow(/Backend.DirectRouting must be true or false/);
  });
});

describe('MACs', () => {
  it('makes locally administered unicast MACs', () => {
    for (let i = 0; i < 50; i++) {
      const first = parseInt(randomMac().slice(0, 2), 16);
      expect(first & 0x01).toBe(0);
      expect(first & 0x02).toBe(2);
    }
  });
  it('reads the notations Go accepts', () => {
    expect(normalizeMac('C6:D2:32:6F:8F:44')).toBe('c6:d2:32:6f:8f:44');
    expect(normalizeMac('c6-d2-32-6f-8f-44')).toBe('c6:d2:32:6f:8f:44');
    expect(normalizeMac('c6d2.326f.8f44')).toBe('c6:d2:32:6f:8f:44');
    expect(normalizeMac('c6:d2:32:6f:8f')).toBeUndefined();
  });
});

describe('planPeers', () => {
  it("programs flannel's three entries per vxlan peer", () => {
    const state = planPeers(view, [lease('10.1.31.0/24', '192.0.2.12', 'AA:BB:CC:DD:EE:01')], notDirect);
    expect([...state.neighbours]).toEqual([['10.1.31.0', 'aa:bb:cc:dd:ee:01']]);
    expect([...state.fdb]).toEqual([['aa:bb:cc:dd:ee:01', '192.0.2.12']]);
    expect([...state.routes.values()]).toEqual([{ dst: '10.1.31.0/24', via: '10.1.31.0', dev: 'flannel.1', onlink: true }]);
  });

  it('ignores leases of other backends and bad BackendData', () => {
    const peers = [
      lease('10.1.31.0/24', '192.0.2.12', 'aa:bb:cc:dd:ee:01', { backendType: 'host-gw', backendData: undefined }),
      lease('10.1.32.0/24', '192.0.2.13', 'not-a-mac'),
      lease('10.1.33.0/24', '192.0.2.14', 'aa:bb:cc:dd:ee:03', { backendType: undefined }),
    ];
    const state = planPeers(view, peers, notDirect);
    expect(state.routes.size + state.neighbours.size + state.fdb.size).toBe(0);
  });

  it('uses a plain route via the public IP for a directly reachable peer', () => {
    const state = planPeers(view, [lease('10.1.31.0/24', '192.0.2.12', 'aa:bb:cc:dd:ee:01')], { isDirect: (ip) => ip === '192.0.2.12' });
    expect(state.neighbours.size).toBe(0);
    expect([...state.routes.values()]).toEqual([{ dst: '10.1.31.0/24', via: '192.0.2.12', dev: undefined, onlink: false }]);
  });

  it('handles IPv6 through the same path', () => {
    const v6: FamilyView = { family: 6, device: 'flannel-v6.1', externalDevice: 'eth0' };
    const peer: Lease = {
      ...lease('10.1.31.0/24', '192.0.2.12', 'aa:bb:cc:dd:ee:01'),
      ipv6Subnet: IpNet.parse('fc00:0:0:1f::/64'),
      attrs: { publicIP: '192.0.2.12', publicIPv6: '2001:db8::12', backendType: 'vxlan', backendV6Data: { VNI: 1, VtepMAC: 'aa:bb:cc:dd:ee:06' } },
    };
    const state = planPeers(v6, [peer], notDirect);
    expect([...state.neighbours]).toEqual([['fc00:0:0:1f::', 'aa:bb:cc:dd:ee:06']]);
    expect([...state.fdb]).toEqual([['aa:bb:cc:dd:ee:06', '2001:db8::12']]);
    expect([...state.routes.keys()]).toEqual(['fc00:0:0:1f::/64']);
  });
});

describe('diffStates', () => {
  const a = lease('10.1.31.0/24', '192.0.2.12', 'aa:bb:cc:dd:ee:01');
  const b = lease('10.1.32.0/24', '192.0.2.13', 'aa:bb:cc:dd:ee:02');

  it('adds a new peer and removes exactly the entries of a departed one', () => {
    const before = planPeers(view, [a], notDirect);
    const after = planPeers(view, [b], notDirect);
    const changes = diffStates(view, before, after);
    expect(changes).toEqual([
      { kind: 'route', action: 'delete', dst: '10.1.31.0/24', via: '10.1.31.0', dev: 'flannel.1' },
      { kind: 'neighbour', action: 'delete', dev: 'flannel.1', address: '10.1.31.0' },
      { kind: 'fdb', action: 'delete', dev: 'flannel.1', lladdr: 'aa:bb:cc:dd:ee:01', dst: '192.0.2.12' },
      { kind: 'neighbour', action: 'replace', dev: 'flannel.1', address: '10.1.32.0', lladdr: 'aa:bb:cc:dd:ee:02' },
      { kind: 'route', action: 'replace', dst: '10.1.32.0/24', via: '10.1.32.0', dev: 'flannel.1', onlink: true },
      { kind: 'fdb', action: 'replace', dev: 'flannel.1', lladdr: 'aa:bb:cc:dd:ee:02', dst: '192.0.2.13' },
    ]);
  });

  it('changes nothing when nothing changed, and only the MAC entries when a peer restarted with a new MAC', () => {
    const before = planPeers(view, [a, b], notDirect);
    expect(diffStates(view, before, planPeers(view, [a, b], notDirect))).toEqual([]);
    const moved = lease('10.1.31.0/24', '192.0.2.12', 'aa:bb:cc:dd:ee:09');
    const changes = diffStates(view, before, planPeers(view, [moved, b], notDirect));
    expect(changes.map((c) => `${c.kind}:${'action' in c ? c.action : ''}`)).toEqual(['fdb:delete', 'neighbour:replace', 'fdb:replace']);
  });
});
