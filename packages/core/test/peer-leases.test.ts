import { describe, expect, test } from 'vitest';
import type { Lease, LeaseAttrs, LeaseEvent } from '../src/lease.js';
import { PeerLeaseSet } from '../src/peer-leases.js';
import { admitLeases } from '../src/admission.js';
import { parseSubnetKey } from '../src/subnet-key.js';
import { parseNetworkConfig } from '../src/network-config.js';
import type { AdmissionContext } from '../src/admission.js';

const udpNetwork = parseNetworkConfig('{"Network":"10.1.0.0/16","Backend":{"Type":"udp"}}');
const vxlanNetwork = parseNetworkConfig('{"Network":"10.1.0.0/16","Backend":{"Type":"vxlan"}}');
const dualStack = parseNetworkConfig('{"Network":"10.1.0.0/16","EnableIPv6":true,"IPv6Network":"fc00::/48","Backend":{"Type":"udp"}}');
const ctx = (ownLease?: Lease, config = udpNetwork): AdmissionContext => ({ config, own: ownLease });

function lease(key: string, publicIP: string, extra: Omit<LeaseAttrs, 'publicIP'> = {}, expiresAt: number | null = 1_000): Lease {
  const parsed = parseSubnetKey(key);
  if (!parsed.ok) throw new Error(parsed.reason);
  return { key, ...parsed.value, attrs: { publicIP, ...extra }, expiresAt };
}

/** Events as `type key publicIP`, easy to compare. */
const summary = (events: readonly LeaseEvent[]): string[] => events.map((e) => `${e.type} ${e.lease.key} ${e.lease.attrs.publicIP}`);

const own = lease('10.1.1.0-24', '192.0.2.1');
const a = lease('10.1.2.0-24', '192.0.2.2');
const b = lease('10.1.3.0-24', '192.0.2.3');

describe('reset', () => {
  test('the first snapshot adds every peer but not the own lease', () => {
    const set = new PeerLeaseSet(ctx(own));
    expect(summary(set.reset([own, a, b]).events)).toEqual(['added 10.1.2.0-24 192.0.2.2', 'added 10.1.3.0-24 192.0.2.3']);
    expect(set.size).toBe(2);
    expect(set.peers()).toEqual([a, b]);
  });

  test('a later snapshot reports only what changed', () => {
    const set = new PeerLeaseSet(ctx(own));
    set.reset([own, a, b]);
    const c = lease('10.1.4.0-24', '192.0.2.4');
    expect(summary(set.reset([own, a, c]).events)).toEqual(['removed 10.1.3.0-24 192.0.2.3', 'added 10.1.4.0-24 192.0.2.4']);
    expect(set.peers()).toEqual([a, c]);
  });

  test('the same snapshot again emits nothing, and never a removal of the own lease (fixes quirk 7)', () => {
    const set = new PeerLeaseSet(ctx(own));
    set.reset([own, a]);
    expect(set.reset([own, a]).events).toEqual([]);
    expect(set.reset([a]).events).toEqual([]);
  });

  test('changed attrs are reported as removed (old) + added (new) (fixes quirk 7)', () => {
    const set = new PeerLeaseSet(ctx(own));
    set.reset([a]);
    const moved = lease('10.1.2.0-24', '192.0.2.22');
    const events = set.reset([moved]).events;
    expect(summary(events)).toEqual(['removed 10.1.2.0-24 192.0.2.2', 'added 10.1.2.0-24 192.0.2.22']);
    expect(events[0]?.lease).toBe(a);
    expect(events[1]?.lease).toBe(moved);
  });

  test('a renewal in a snapshot (new expiry, same attrs) emits nothing but stores the new lease', () => {
    const set = new PeerLeaseSet(ctx(own));
    set.reset([a]);
    const renewed = { ...a, expiresAt: 2_000 };
    expect(set.reset([renewed]).events).toEqual([]);
    expect(set.peers()[0]?.expiresAt).toBe(2_000);
  });

  test('an empty snapshot removes every peer', () => {
    const set = new PeerLeaseSet(ctx(own));
    set.reset([own, a, b]);
    expect(summary(set.reset([]).events)).toEqual(['removed 10.1.2.0-24 192.0.2.2', 'removed 10.1.3.0-24 192.0.2.3']);
    expect(set.size).toBe(0);
  });
});

describe('apply', () => {
  test('added emits added', () => {
    const set = new PeerLeaseSet(ctx(own));
    expect(set.apply([{ type: 'added', lease: a }]).events).toEqual([{ type: 'added', lease: a }]);
    expect(set.size).toBe(1);
  });

  test('a renewal with the same attrs emits nothing but updates the stored lease', () => {
    const set = new PeerLeaseSet(ctx(own));
    set.apply([{ type: 'added', lease: a }]);
    const renewed = lease('10.1.2.0-24', '192.0.2.2', {}, 5_000);
    expect(set.apply([{ type: 'added', lease: renewed }]).events).toEqual([]);
    expect(set.peers()).toEqual([renewed]);
  });

  test('changed attrs emit removed (old) then added (new)', () => {
    const set = new PeerLeaseSet(ctx(own, vxlanNetwork));
    const v1 = lease('10.1.2.0-24', '192.0.2.2', { backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: 'aa:aa:aa:aa:aa:aa' } });
    const v2 = lease('10.1.2.0-24', '192.0.2.2', { backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: 'ba:bb:bb:bb:bb:bb' } });
    set.apply([{ type: 'added', lease: v1 }]);
    expect(set.apply([{ type: 'added', lease: v2 }]).events).toEqual([
      { type: 'removed', lease: v1 },
      { type: 'added', lease: v2 },
    ]);
    expect(set.peers()).toEqual([v2]);
  });

  test('removed carries the last known attrs', () => {
    const set = new PeerLeaseSet(ctx(own, vxlanNetwork));
    const known = lease('10.1.2.0-24', '192.0.2.2', { backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: 'aa:aa:aa:aa:aa:aa' } });
    set.apply([{ type: 'added', lease: known }]);
    // A DELETE from etcd carries only the key: no attrs.
    const bare = lease('10.1.2.0-24', '0.0.0.0', {}, null);
    const out = set.apply([{ type: 'removed', lease: bare }]).events;
    expect(out).toEqual([{ type: 'removed', lease: known }]);
    expect(set.size).toBe(0);
  });

  test('removal of an unknown lease is dropped', () => {
    const set = new PeerLeaseSet(ctx(own));
    set.apply([{ type: 'added', lease: a }]);
    expect(set.apply([{ type: 'removed', lease: b }]).events).toEqual([]);
    expect(set.peers()).toEqual([a]);
  });

  test('the own lease is never emitted', () => {
    const set = new PeerLeaseSet(ctx(own));
    expect(set.apply([{ type: 'added', lease: own }]).events).toEqual([]);
    expect(set.apply([{ type: 'removed', lease: own }]).events).toEqual([]);
    expect(set.size).toBe(0);
  });

  test('another key for the own subnet is never programmed: an alias is rejected, an overlap too', () => {
    const set = new PeerLeaseSet(ctx(own));
    const alias = lease('10.1.1.5-24', '198.51.100.1');
    const update = set.apply([{ type: 'added', lease: alias }]);
    expect(update.events).toEqual([]);
    expect(update.rejected.map((r) => r.rejection.reason)).toEqual(['non-canonical-key']);
  });

  test('a batch is applied in order, coalesced per key', () => {
    const set = new PeerLeaseSet(ctx(own));
    const out = set.apply([
      { type: 'added', lease: a },
      { type: 'added', lease: b },
      { type: 'removed', lease: a },
      { type: 'added', lease: a },
    ]).events;
    // Coalesced per key: the batch's net effect, latest state wins.
    expect(summary(out)).toEqual(['added 10.1.2.0-24 192.0.2.2', 'added 10.1.3.0-24 192.0.2.3']);
  });

  test('a dual-stack lease sharing the own IPv4 subnet is rejected, whatever its IPv6 subnet', () => {
    const set = new PeerLeaseSet({ config: dualStack, own: lease('10.1.1.0-24&fc00:0:0:1::-64', '192.0.2.1') });
    const peer = lease('10.1.1.0-24&fc00:0:0:2::-64', '192.0.2.2');
    const update = set.apply([{ type: 'added', lease: peer }]);
    expect(update.events).toEqual([]);
    expect(update.rejected[0]?.rejection.reason).toBe('overlaps-own-subnet');
  });
});

describe('setOwn', () => {
  test('without an own lease every lease is a peer', () => {
    const set = new PeerLeaseSet(ctx());
    expect(summary(set.reset([own, a]).events)).toEqual(['added 10.1.1.0-24 192.0.2.1', 'added 10.1.2.0-24 192.0.2.2']);
  });

  test('a peer that becomes the own lease is removed from the set', () => {
    const set = new PeerLeaseSet(ctx(own));
    set.reset([own, a, b]);
    expect(set.setOwn(a).events).toEqual([{ type: 'removed', lease: a }]);
    expect(set.peers()).toEqual([b]);
    expect(set.apply([{ type: 'added', lease: a }]).events).toEqual([]);
  });

  test('the old own lease becomes an ordinary peer', () => {
    const set = new PeerLeaseSet(ctx(own));
    expect(set.setOwn(a).events).toEqual([]);
    expect(set.apply([{ type: 'added', lease: own }]).events).toEqual([{ type: 'added', lease: own }]);
  });

  test('setOwn(undefined) clears the own lease', () => {
    const set = new PeerLeaseSet(ctx(own));
    expect(set.setOwn(undefined).events).toEqual([]);
    expect(summary(set.reset([own]).events)).toEqual(['added 10.1.1.0-24 192.0.2.1']);
  });
});

describe('admission', () => {
  const aliasOfA = lease('10.1.2.9-24', '192.0.2.99');

  test('an alias key is rejected, and deleting it leaves the real peer in place', () => {
    const set = new PeerLeaseSet(ctx(own));
    set.reset([own, a]);
    const added = set.apply([{ type: 'added', lease: aliasOfA }]);
    expect(added.events).toEqual([]);
    expect(added.rejected).toEqual([{ lease: aliasOfA, rejection: expect.objectContaining({ reason: 'non-canonical-key' }) }]);
    const removed = set.apply([{ type: 'removed', lease: aliasOfA }]);
    expect(removed.events).toEqual([]);
    expect(removed.cleared).toEqual([aliasOfA]);
    expect(set.peers()).toEqual([a]);
  });

  test('of two leases claiming one subnet the older wins; the younger is admitted once the older goes', () => {
    // Dual-stack keys with the same IPv4 subnet: different keys, one overlap.
    const older = { ...lease('10.1.2.0-24&fc00:0:0:2::-64', '192.0.2.2', { publicIPv6: '2001:db8::2' }), createRevision: 10n };
    const younger = { ...lease('10.1.2.0-24&fc00:0:0:3::-64', '192.0.2.3', { publicIPv6: '2001:db8::3' }), createRevision: 20n };
    const set = new PeerLeaseSet({ config: dualStack, own: lease('10.1.1.0-24&fc00:0:0:1::-64', '192.0.2.1') });
    const first = set.apply([{ type: 'added', lease: younger }, { type: 'added', lease: older }]);
    expect(summary(first.events)).toEqual(['added 10.1.2.0-24&fc00:0:0:2::-64 192.0.2.2']);
    expect(first.rejected.map((r) => [r.lease.key, r.rejection.reason, r.rejection.conflictsWith])).toEqual([['10.1.2.0-24&fc00:0:0:3::-64', 'overlaps-lease', '10.1.2.0-24&fc00:0:0:2::-64']]);
    const gone = set.apply([{ type: 'removed', lease: older }]);
    expect(summary(gone.events)).toEqual(['removed 10.1.2.0-24&fc00:0:0:2::-64 192.0.2.2', 'added 10.1.2.0-24&fc00:0:0:3::-64 192.0.2.3']);
    expect(gone.cleared).toEqual([younger]);
  });

  test('a rejected lease that is rewritten valid is admitted; a valid one rewritten invalid is removed', () => {
    const set = new PeerLeaseSet(ctx(own));
    const loopback = lease('10.1.4.0-24', '127.0.0.1');
    expect(set.apply([{ type: 'added', lease: loopback }]).rejected[0]?.rejection.reason).toBe('invalid-public-ip');
    const fixed = lease('10.1.4.0-24', '192.0.2.4');
    const update = set.apply([{ type: 'added', lease: fixed }]);
    expect(update.events).toEqual([{ type: 'added', lease: fixed }]);
    expect(update.cleared).toEqual([loopback]);
    const broken = set.apply([{ type: 'added', lease: loopback }]);
    expect(broken.events).toEqual([{ type: 'removed', lease: fixed }]);
    expect(set.rejected().map((r) => r.lease)).toEqual([loopback]);
  });

  test('a duplicate VTEP MAC: the older lease keeps it; a chain of conflicts is resolved oldest first', () => {
    const vx = (key: string, ip: string, mac: string, rev: bigint) => ({ ...lease(key, ip, { backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: mac } }), createRevision: rev });
    const p1 = vx('10.1.2.0-24', '192.0.2.2', '02:00:00:00:00:01', 1n);
    const p2 = vx('10.1.3.0-24', '192.0.2.3', '02:00:00:00:00:01', 2n); // same MAC as p1
    const p3 = vx('10.1.4.0-24', '192.0.2.4', '02:00:00:00:00:03', 3n);
    const set = new PeerLeaseSet(ctx(own, vxlanNetwork));
    set.reset([p1, p2, p3]);
    expect(set.peers()).toEqual([p1, p3]);
    expect(set.rejected().map((r) => r.rejection.reason)).toEqual(['duplicate-vtep-mac']);
    // p2 moves to p3's MAC: still rejected (p3 is older), now for p3.
    const p2b = vx('10.1.3.0-24', '192.0.2.3', '02:00:00:00:00:03', 2n);
    const moved = set.apply([{ type: 'added', lease: p2b }]);
    expect(moved.events).toEqual([{ type: 'removed', lease: p3 }, { type: 'added', lease: p2b }]);
    // p2 is older than p3, so it takes the MAC and p3 is rejected.
    expect(moved.rejected.map((r) => [r.lease.key, r.rejection.conflictsWith])).toEqual([['10.1.4.0-24', '10.1.3.0-24']]);
    expect(moved.cleared).toEqual([p2]);
  });

  test('incremental decisions equal the whole-listing decision (random churn)', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T,>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
    const keys = ['10.1.2.0-24', '10.1.3.0-24', '10.1.4.0-24', '10.1.2.7-24', '10.1.5.0-25', '10.2.0.0-24'];
    const macs = ['02:00:00:00:00:01', '02:00:00:00:00:02', '01:00:5e:00:00:01'];
    const ips = ['192.0.2.2', '192.0.2.3', '127.0.0.1', '192.0.2.1'];
    const context = { config: vxlanNetwork, own, ownPublicIPs: ['192.0.2.1'] };
    const set = new PeerLeaseSet(context);
    const store = new Map<string, Lease>();
    let revision = 0n;
    for (let step = 0; step < 400; step++) {
      const key = pick(keys);
      const existing = store.get(key);
      const events: LeaseEvent[] = [];
      if (existing && random() < 0.3) {
        store.delete(key);
        events.push({ type: 'removed', lease: existing });
      } else {
        const next = { ...lease(key, pick(ips), { backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: pick(macs) } }), createRevision: existing?.createRevision ?? ++revision };
        store.set(key, next);
        events.push({ type: 'added', lease: next });
      }
      set.apply(events);
      const whole = admitLeases([...store.values()], context);
      expect(new Set(set.peers().map((l) => l.key))).toEqual(new Set(whole.admitted.map((l) => l.key)));
      expect(new Map(set.rejected().map((r) => [r.lease.key, r.rejection.reason]))).toEqual(new Map(whole.rejected.map((r) => [r.lease.key, r.rejection.reason])));
    }
  });
});
