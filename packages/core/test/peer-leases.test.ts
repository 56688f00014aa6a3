import { describe, expect, test } from 'vitest';
import type { Lease, LeaseAttrs, LeaseEvent } from '../src/lease.js';
import { PeerLeaseSet } from '../src/peer-leases.js';
import { parseSubnetKey } from '../src/subnet-key.js';

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
    const set = new PeerLeaseSet(own);
    expect(summary(set.reset([own, a, b]))).toEqual(['added 10.1.2.0-24 192.0.2.2', 'added 10.1.3.0-24 192.0.2.3']);
    expect(set.size).toBe(2);
    expect(set.peers()).toEqual([a, b]);
  });

  test('a later snapshot reports only what changed', () => {
    const set = new PeerLeaseSet(own);
    set.reset([own, a, b]);
    const c = lease('10.1.4.0-24', '192.0.2.4');
    expect(summary(set.reset([own, a, c]))).toEqual(['removed 10.1.3.0-24 192.0.2.3', 'added 10.1.4.0-24 192.0.2.4']);
    expect(set.peers()).toEqual([a, c]);
  });

  test('the same snapshot again emits nothing, and never a removal of the own lease (fixes quirk 7)', () => {
    const set = new PeerLeaseSet(own);
    set.reset([own, a]);
    expect(set.reset([own, a])).toEqual([]);
    expect(set.reset([a])).toEqual([]);
  });

  test('changed attrs are reported as removed (old) + added (new) (fixes quirk 7)', () => {
    const set = new PeerLeaseSet(own);
    set.reset([a]);
    const moved = lease('10.1.2.0-24', '192.0.2.22');
    const events = set.reset([moved]);
    expect(summary(events)).toEqual(['removed 10.1.2.0-24 192.0.2.2', 'added 10.1.2.0-24 192.0.2.22']);
    expect(events[0]?.lease).toBe(a);
    expect(events[1]?.lease).toBe(moved);
  });

  test('a renewal in a snapshot (new expiry, same attrs) emits nothing but stores the new lease', () => {
    const set = new PeerLeaseSet(own);
    set.reset([a]);
    const renewed = { ...a, expiresAt: 2_000 };
    expect(set.reset([renewed])).toEqual([]);
    expect(set.peers()[0]?.expiresAt).toBe(2_000);
  });

  test('an empty snapshot removes every peer', () => {
    const set = new PeerLeaseSet(own);
    set.reset([own, a, b]);
    expect(summary(set.reset([]))).toEqual(['removed 10.1.2.0-24 192.0.2.2', 'removed 10.1.3.0-24 192.0.2.3']);
    expect(set.size).toBe(0);
  });
});

describe('apply', () => {
  test('added emits added', () => {
    const set = new PeerLeaseSet(own);
    expect(set.apply([{ type: 'added', lease: a }])).toEqual([{ type: 'added', lease: a }]);
    expect(set.size).toBe(1);
  });

  test('a renewal with the same attrs emits nothing but updates the stored lease', () => {
    const set = new PeerLeaseSet(own);
    set.apply([{ type: 'added', lease: a }]);
    const renewed = lease('10.1.2.0-24', '192.0.2.2', {}, 5_000);
    expect(set.apply([{ type: 'added', lease: renewed }])).toEqual([]);
    expect(set.peers()).toEqual([renewed]);
  });

  test('changed attrs emit removed (old) then added (new)', () => {
    const set = new PeerLeaseSet(own);
    const v1 = lease('10.1.2.0-24', '192.0.2.2', { backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: 'aa:aa:aa:aa:aa:aa' } });
    const v2 = lease('10.1.2.0-24', '192.0.2.2', { backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: 'bb:bb:bb:bb:bb:bb' } });
    set.apply([{ type: 'added', lease: v1 }]);
    expect(set.apply([{ type: 'added', lease: v2 }])).toEqual([
      { type: 'removed', lease: v1 },
      { type: 'added', lease: v2 },
    ]);
    expect(set.peers()).toEqual([v2]);
  });

  test('removed carries the last known attrs', () => {
    const set = new PeerLeaseSet(own);
    const known = lease('10.1.2.0-24', '192.0.2.2', { backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: 'aa:aa:aa:aa:aa:aa' } });
    set.apply([{ type: 'added', lease: known }]);
    // A DELETE from etcd carries only the key: no attrs.
    const bare = lease('10.1.2.0-24', '0.0.0.0', {}, null);
    const out = set.apply([{ type: 'removed', lease: bare }]);
    expect(out).toEqual([{ type: 'removed', lease: known }]);
    expect(set.size).toBe(0);
  });

  test('removal of an unknown lease is dropped', () => {
    const set = new PeerLeaseSet(own);
    set.apply([{ type: 'added', lease: a }]);
    expect(set.apply([{ type: 'removed', lease: b }])).toEqual([]);
    expect(set.peers()).toEqual([a]);
  });

  test('the own lease is never emitted', () => {
    const set = new PeerLeaseSet(own);
    expect(set.apply([{ type: 'added', lease: own }])).toEqual([]);
    expect(set.apply([{ type: 'removed', lease: own }])).toEqual([]);
    expect(set.size).toBe(0);
  });

  test('the own lease is matched by subnet, whatever its attrs or key spelling', () => {
    const set = new PeerLeaseSet(own);
    const ownAgain = lease('10.1.1.5-24', '198.51.100.1');
    expect(set.apply([{ type: 'added', lease: ownAgain }])).toEqual([]);
  });

  test('a batch is processed in order', () => {
    const set = new PeerLeaseSet(own);
    const out = set.apply([
      { type: 'added', lease: a },
      { type: 'added', lease: b },
      { type: 'removed', lease: a },
      { type: 'added', lease: a },
    ]);
    expect(summary(out)).toEqual([
      'added 10.1.2.0-24 192.0.2.2',
      'added 10.1.3.0-24 192.0.2.3',
      'removed 10.1.2.0-24 192.0.2.2',
      'added 10.1.2.0-24 192.0.2.2',
    ]);
  });

  test('dual-stack leases are told apart by both subnets', () => {
    const set = new PeerLeaseSet(lease('10.1.1.0-24&fc00:0:0:1::-64', '192.0.2.1'));
    const peer = lease('10.1.1.0-24&fc00:0:0:2::-64', '192.0.2.2');
    expect(set.apply([{ type: 'added', lease: peer }])).toEqual([{ type: 'added', lease: peer }]);
  });
});

describe('setOwn', () => {
  test('without an own lease every lease is a peer', () => {
    const set = new PeerLeaseSet();
    expect(summary(set.reset([own, a]))).toEqual(['added 10.1.1.0-24 192.0.2.1', 'added 10.1.2.0-24 192.0.2.2']);
  });

  test('a peer that becomes the own lease is removed from the set', () => {
    const set = new PeerLeaseSet(own);
    set.reset([own, a, b]);
    expect(set.setOwn(a)).toEqual([{ type: 'removed', lease: a }]);
    expect(set.peers()).toEqual([b]);
    expect(set.apply([{ type: 'added', lease: a }])).toEqual([]);
  });

  test('the old own lease becomes an ordinary peer', () => {
    const set = new PeerLeaseSet(own);
    expect(set.setOwn(a)).toEqual([]);
    expect(set.apply([{ type: 'added', lease: own }])).toEqual([{ type: 'added', lease: own }]);
  });

  test('setOwn(undefined) clears the own lease', () => {
    const set = new PeerLeaseSet(own);
    expect(set.setOwn(undefined)).toEqual([]);
    expect(summary(set.reset([own]))).toEqual(['added 10.1.1.0-24 192.0.2.1']);
  });
});
